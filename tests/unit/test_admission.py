"""Admission: a job of a busy Fortnox company waits in the queue instead of in a worker."""

from __future__ import annotations

import itertools

import pytest

from hubnox.jobs import Job
from hubnox.store.shared_budget import DynamoRateBudget
from hubnox.sync.admission import (
    AHEAD_SECONDS,
    DEALS_PER_WINDOW,
    FULL_RETRY_SECONDS,
    IN_FLIGHT_PER_COMPANY,
    WINDOW_SECONDS,
    Admission,
    Admitted,
    Later,
)
from tests.support.clock import FakeClock
from tests.support.fakes import Leases

KEY = "fortnox:hubnox-fortnox:123456"
OTHER = "fortnox:hubnox-fortnox:777777"


def job(run_id: str = "01JDQ7Z5M3X8R2K9V4T6W0B1C7", kind: str = "create_document", portal: str = "1001",
        delivery_round: int | None = None, admit_at: float | None = None) -> Job:
    return Job(run_id=run_id, portal_id=portal, kind=kind, trigger="workflow",
               object_type="deal", object_id="42", document_type="invoice", trigger_key="workflow:invoice",
               delivery_round=delivery_round, admit_at=admit_at)


class World:
    def __init__(self, table: object) -> None:
        self.clock = FakeClock()
        self.budget = DynamoRateBudget(table, self.clock, self.clock.sleep)  # type: ignore[arg-type]
        self.leases = Leases(self.clock)
        keys = {"1001": KEY, "2002": OTHER}
        self.admission = Admission(schedule=self.budget, budget_key=keys.get, leases=self.leases, clock=self.clock)

    def book_calls(self, key: str, seconds: float) -> None:
        """Other workers' calls booked on `key`'s schedule for the next `seconds`."""
        for _ in range(round(seconds * 24 / 5)):
            self.budget.reserve(key, limit=24, window=5.0)


@pytest.fixture
def world(table) -> World:
    return World(table)


def test_a_job_of_a_company_with_room_is_let_in_holding_a_slot_until_it_leaves(world):
    admitted = world.admission.enter(job())

    assert isinstance(admitted, Admitted) and admitted.slot and admitted.slot.startswith(f"inflight#{KEY}#")
    assert list(world.leases.held) == [admitted.slot]
    world.admission.leave(admitted)
    assert world.leases.held == {}


def test_a_backlog_is_let_in_at_the_deal_pace_and_the_rest_is_given_its_turn_once(world):
    answers = [world.admission.enter(job(f"run-{n:03d}")) for n in range(200)]

    now = [a for a in answers if isinstance(a, Admitted)]
    later = [a for a in answers if isinstance(a, Later)]
    interval = WINDOW_SECONDS / DEALS_PER_WINDOW
    assert len(now) == int(AHEAD_SECONDS / interval) + 1  # the turns within the next few seconds
    # Everyone not let in has a turn of their own, one deal interval apart, without another ask.
    turns = sorted(a.admit_at for a in later)
    assert turns[0] - world.clock.now == pytest.approx(AHEAD_SECONDS + interval, abs=interval)
    assert all(b - a == pytest.approx(interval, abs=1e-5) for a, b in itertools.pairwise(turns))
    assert all(a.seconds == int(a.seconds) and a.seconds >= a.admit_at - world.clock.now for a in later)


def test_a_job_back_for_its_turn_is_let_in_without_booking_another(world):
    world.admission.enter(job("run-1"))
    first = world.budget.ahead(f"admit:{KEY}")

    assert isinstance(world.admission.enter(job("run-2", admit_at=world.clock.now + 0.5)), Admitted)
    assert world.budget.ahead(f"admit:{KEY}") == first
    early = world.admission.enter(job("run-3", admit_at=world.clock.now + 40))
    assert early == Later(40, world.clock.now + 40)


def test_a_company_whose_calls_are_booked_far_ahead_holds_new_jobs_back_for_that_long(world):
    world.book_calls(KEY, AHEAD_SECONDS + 4)

    answer = world.admission.enter(job(admit_at=world.clock.now))

    assert isinstance(answer, Later) and answer.seconds == 8
    assert world.leases.held == {}
    assert isinstance(world.admission.enter(job("run-other", portal="2002")), Admitted)  # its own budget


def test_one_company_runs_at_most_its_share_of_jobs_and_another_company_is_not_held_up(world):
    inside = [world.admission.enter(job(f"run-{n}", admit_at=world.clock.now)) for n in range(IN_FLIGHT_PER_COMPANY)]
    assert all(isinstance(admitted, Admitted) for admitted in inside)

    assert world.admission.enter(job("run-late", admit_at=world.clock.now)) == Later(
        FULL_RETRY_SECONDS, world.clock.now + FULL_RETRY_SECONDS)
    assert isinstance(world.admission.enter(job("run-other", portal="2002")), Admitted)
    first = inside[0]
    assert isinstance(first, Admitted)
    world.admission.leave(first)
    assert isinstance(world.admission.enter(job("run-late", admit_at=world.clock.now)), Admitted)


def test_a_backlog_whose_turns_passed_is_sent_back_once_a_job_each_to_a_turn_of_its_own(world):
    """Jobs booked while no worker ran arrive all due at once: the ones that find every slot taken
    book new turns, one deal interval apart, instead of asking again every few seconds."""
    due = [job(f"run-{n:03d}", admit_at=world.clock.now - 60) for n in range(IN_FLIGHT_PER_COMPANY + 20)]
    answers = [world.admission.enter(j) for j in due]

    later = [a for a in answers if isinstance(a, Later)]
    assert sum(isinstance(a, Admitted) for a in answers) == IN_FLIGHT_PER_COMPANY and len(later) == 20
    interval = WINDOW_SECONDS / DEALS_PER_WINDOW
    turns = [a.admit_at - world.clock.now for a in later]
    assert turns[0] == pytest.approx(FULL_RETRY_SECONDS)  # the schedule was idle: the least wait
    assert turns[-1] == pytest.approx(19 * interval, abs=1e-5)
    assert all(b - a == pytest.approx(interval, abs=1e-5) for a, b in itertools.pairwise(turns[4:]))


def test_a_slot_whose_worker_died_frees_itself(world):
    for n in range(IN_FLIGHT_PER_COMPANY):
        world.admission.enter(job(f"run-{n}", admit_at=world.clock.now))
    assert isinstance(world.admission.enter(job("run-late", admit_at=world.clock.now)), Later)

    world.clock.advance(121)  # longer than the worker's timeout

    assert isinstance(world.admission.enter(job("run-late", admit_at=world.clock.now)), Admitted)


def test_follow_ups_and_portals_without_a_company_are_let_straight_in(world):
    world.book_calls(KEY, 60)

    assert world.admission.enter(job(delivery_round=1)) == Admitted()
    assert world.admission.enter(job(portal="3003")) == Admitted()
    assert world.leases.held == {}


# -- a turn booked as the job is sent ----------------------------------------------------------------


def test_a_backlog_sent_at_once_is_held_in_the_queue_until_each_turn_and_let_in_without_another_booking(world):
    """200 jobs booked as they are sent: each carries its turn, one deal interval apart, and is held
    back whole seconds short of it; arriving then, it is let in without booking again."""
    sent = [world.admission.book(job(f"run-{n:03d}")) for n in range(200)]

    interval = WINDOW_SECONDS / DEALS_PER_WINDOW
    starts = [booked.admit_at - world.clock.now for booked, _ in sent]
    assert starts[0] == pytest.approx(0.0, abs=1e-5)
    assert all(b - a == pytest.approx(interval, abs=1e-5) for a, b in itertools.pairwise(starts))
    assert all(0 <= start - delay < 1.0 or (start <= 1 and delay == 0)
               for (_, delay), start in zip(sent, starts, strict=True))
    booked_until = world.budget.ahead(f"admit:{KEY}")

    late, delay = sent[150]
    world.clock.advance(delay)
    assert isinstance(world.admission.enter(late), Admitted)
    assert world.budget.ahead(f"admit:{KEY}") == pytest.approx(booked_until - delay, abs=1e-5)  # nothing booked


def test_jobs_without_fortnox_work_or_a_connected_company_are_sent_as_they_are(world):
    assert world.admission.book(job(kind="create_document", portal="9999")) == (job(portal="9999"), 0)
    round_two = job(delivery_round=2)
    assert world.admission.book(round_two) == (round_two, 0)
    assert world.budget.ahead(f"admit:{KEY}") == 0.0


def test_submit_sends_the_booked_job_held_back_until_its_turn_and_without_a_booking_when_it_fails(world):
    from hubnox.jobs import submit
    from hubnox.records import RunRequest
    from tests.support.fakes import Queue, Runs

    runs, queue = Runs(world.clock), Queue()
    for _ in range(20):
        world.admission.book(job("someone-else"))  # a backlog booked before: this job's turn is later
    request = RunRequest(portal_id="1001", kind="create_document", trigger="webhook", object_type="deal",
                         object_id="42", document_type="invoice", trigger_key="stage:closedwon:invoice")
    run = submit(runs, queue, request, admission=world.admission)  # type: ignore[arg-type]

    [sent], [delay] = queue.jobs, queue.delays
    assert sent.run_id == run.run_id and sent.admit_at is not None
    assert delay == int(sent.admit_at - world.clock.now) > AHEAD_SECONDS

    class Broken:
        def book(self, job: Job) -> tuple[Job, int]:
            raise RuntimeError("the table did not answer")

    submit(runs, queue, request, admission=Broken())  # type: ignore[arg-type]
    assert queue.jobs[-1].admit_at is None and queue.delays[-1] == 0
