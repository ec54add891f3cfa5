"""Admission: a job of a busy Fortnox company waits outside the workers instead of inside one."""

from __future__ import annotations

import pytest

from hubnox.jobs import Job
from hubnox.sync.admission import AHEAD_SECONDS, FULL_RETRY_SECONDS, IN_FLIGHT_PER_COMPANY, Admission, Admitted
from tests.support.clock import FakeClock
from tests.support.fakes import Leases

KEY = "fortnox:hubnox-fortnox:123456"


class Schedule:
    def __init__(self) -> None:
        self.booked: dict[str, float] = {}
        self.asked: list[str] = []

    def ahead(self, key: str) -> float:
        self.asked.append(key)
        return self.booked.get(key, 0.0)


def job(run_id: str = "01JDQ7Z5M3X8R2K9V4T6W0B1C7", kind: str = "create_document", portal: str = "1001",
        delivery_round: int | None = None) -> Job:
    return Job(run_id=run_id, portal_id=portal, kind=kind, trigger="workflow",
               object_type="deal", object_id="42", document_type="invoice", trigger_key="workflow:invoice",
               delivery_round=delivery_round)


@pytest.fixture
def parts() -> tuple[Admission, Schedule, Leases]:
    schedule, leases = Schedule(), Leases(FakeClock())
    keys = {"1001": KEY, "2002": "fortnox:hubnox-fortnox:777777"}
    return Admission(schedule=schedule, budget_key=keys.get, leases=leases), schedule, leases


def test_a_job_of_a_company_with_room_is_let_in_holding_a_slot_until_it_leaves(parts):
    admission, _, leases = parts

    admitted = admission.enter(job())

    assert isinstance(admitted, Admitted) and admitted.slot and admitted.slot.startswith(f"inflight#{KEY}#")
    assert list(leases.held) == [admitted.slot]
    admission.leave(admitted)
    assert leases.held == {}


def test_a_schedule_booked_far_ahead_sends_the_job_back_for_that_long_without_taking_a_slot(parts):
    admission, schedule, leases = parts
    schedule.booked[KEY] = AHEAD_SECONDS + 4.2

    assert admission.enter(job()) == 8
    assert leases.held == {}
    schedule.booked[KEY] = AHEAD_SECONDS - 0.5
    assert isinstance(admission.enter(job()), Admitted)  # a short wait is waited out in the worker


def test_one_company_runs_at_most_its_share_of_jobs_and_another_company_is_not_held_up(parts):
    admission, _, _ = parts
    inside = [admission.enter(job(f"run-{n}")) for n in range(IN_FLIGHT_PER_COMPANY)]
    assert all(isinstance(admitted, Admitted) for admitted in inside)

    assert admission.enter(job("run-late")) == FULL_RETRY_SECONDS
    assert isinstance(admission.enter(job("run-other", portal="2002")), Admitted)
    first = inside[0]
    assert isinstance(first, Admitted)
    admission.leave(first)
    assert isinstance(admission.enter(job("run-late")), Admitted)


def test_a_slot_whose_worker_died_frees_itself(parts):
    admission, _, leases = parts
    for n in range(IN_FLIGHT_PER_COMPANY):
        admission.enter(job(f"run-{n}"))
    assert admission.enter(job("run-late")) == FULL_RETRY_SECONDS

    leases.clock.advance(121)  # longer than the worker's timeout

    assert isinstance(admission.enter(job("run-late")), Admitted)


def test_follow_ups_jobs_without_fortnox_and_portals_without_a_company_are_let_straight_in(parts):
    admission, schedule, leases = parts
    schedule.booked[KEY] = 60

    assert admission.enter(job(delivery_round=1)) == Admitted()
    assert admission.enter(job(portal="3003")) == Admitted()
    assert leases.held == {}
