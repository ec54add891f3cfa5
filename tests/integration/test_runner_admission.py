"""A job that would only wait for its Fortnox budget goes back to the queue without spending a try."""

from __future__ import annotations

from typing import Any

import pytest

from hubnox.errors import TransientError
from hubnox.fortnox.client import FortnoxClient
from hubnox.jobs import LAST_TRY
from hubnox.rate_budget import LocalRateBudget
from hubnox.sync.admission import Admission
from hubnox.sync.runner import JobRunner
from hubnox.web.render import render
from tests.integration.test_runner import PUBLIC_BASE, World, seed
from tests.support.fakes import Leases


class BookedOnce:
    """A budget whose Fortnox schedule is booked far ahead at the `nth` Fortnox call, once."""

    def __init__(self, nth: int) -> None:
        self.inner = LocalRateBudget()
        self.nth = nth
        self.fortnox_calls = 0

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        if key.startswith("fortnox:"):
            self.fortnox_calls += 1
            if self.fortnox_calls == self.nth:
                raise TransientError("booked ahead", code="RATE_BUDGET", retry_after=12.3)
        self.inner.acquire(key, limit=limit, window=window, max_wait=max_wait)


class Schedule:
    """A company whose deal turns and calls are booked `ahead` seconds ahead."""

    def __init__(self, ahead: float) -> None:
        self.booked = ahead

    def ahead(self, key: str) -> float:
        return self.booked

    def reserve(self, key: str, *, limit: int, window: float) -> float:
        return self.booked


def runner(world: World, admission: Admission | None = None) -> JobRunner:
    """The world's runner, with admission when given."""
    return JobRunner(follow_ups=world.follow_ups, hubspot=lambda portal: world.hubspot,
                     fortnox=lambda portal: world.fortnox_factory(portal), runs=world.runs,
                     deal_links=world.links, settings=world.settings, leases=world.leases, notes=render,
                     signer=world.signer, public_base=PUBLIC_BASE, clock=world.clock, sleep=world.clock.sleep,
                     admission=admission)


@pytest.fixture
def world(table: Any) -> World:
    return World(table, seed())


def booked_fortnox(world: World, budget: BookedOnce) -> None:
    token = world.fortnox._api.tokens  # the world's company, over a budget the test controls
    world.fortnox_factory = lambda portal: FortnoxClient(
        world.fx_http, token, budget, FortnoxClient.tenant_key_for("hubnox-fortnox", world.tenant))


@pytest.mark.parametrize("attempt", [1, LAST_TRY])
def test_a_call_whose_budget_is_booked_ahead_sends_the_job_back_for_the_wait_without_spending_a_try(
        world, attempt):
    booked_fortnox(world, BookedOnce(nth=2))
    job = world.job()

    run = world.run(job, attempt=attempt)  # no error: the message is let go, a copy comes back later

    assert run.status == "running" and world.invoices() == []
    [(again, delay)] = world.follow_ups.sent
    assert delay == 13
    assert again.model_copy(update={"spent_tries": None, "admit_at": None}) == job
    assert (again.spent_tries or 0, again.admit_at) == (attempt - 1, world.clock.now + 12.3)
    world.follow_ups.sent.clear()

    done = world.runner.run(again, attempt=1)  # the new message's first delivery is still try `attempt`

    assert done.status == "succeeded" and len(world.invoices()) == 1
    assert world.follow_ups.sent == []


def test_a_job_of_a_company_booked_far_ahead_waits_outside_before_any_call(world):
    admission = Admission(schedule=Schedule(9.4), budget_key=lambda portal: "fortnox:x", leases=Leases(world.clock),
                          clock=world.clock)
    job = world.job()

    run = runner(world, admission).run(job, attempt=2)

    assert run.status == "queued"
    assert (world.hubspot_calls(), world.fortnox_calls()) == ([], [])
    assert [(j.spent_tries, j.admit_at, delay) for j, delay in world.follow_ups.sent] == [
        (1, world.clock.now + 9.4, 10)]


def test_an_admitted_job_runs_and_gives_its_slot_back(world):
    leases = Leases(world.clock)
    admission = Admission(schedule=Schedule(0.0), budget_key=lambda portal: "fortnox:x", leases=leases,
                          clock=world.clock)

    run = runner(world, admission).run(world.job())

    assert run.status == "succeeded" and len(world.invoices()) == 1
    assert leases.held == {}
