"""The runner tells the operator's signals each run once, when its outcome is final: with the status it
ends with, and not again for a duplicate delivery or a follow-up with nothing left to tell."""

from __future__ import annotations

import pytest

from hubnox.errors import JobExhausted
from hubnox.jobs import MAX_ATTEMPTS
from hubnox.records import Run
from tests.integration.test_runner import World, seed, table  # noqa: F401  (the fixture)


class Counted:
    """The runs the runner counted, in order (`hubnox.sync.ports.RunOutcomes`)."""

    def __init__(self) -> None:
        self.runs: list[Run] = []

    def finished(self, run: Run) -> None:
        self.runs.append(run)

    def seen(self) -> list[tuple[str, str, str | None]]:
        return [(run.run_id, run.status, run.error_code) for run in self.runs]


@pytest.fixture
def counted() -> Counted:
    return Counted()


def test_a_run_that_succeeds_is_counted_once_even_when_its_job_comes_again(table, counted):  # noqa: F811
    world = World(table, seed(), outcomes=counted)
    job = world.job()

    first = world.run(job)
    world.run(job)  # a duplicate delivery of the same message

    assert first.final
    assert counted.seen() == [(job.run_id, "succeeded", None)]


def test_a_run_that_fails_for_the_user_to_fix_is_counted_once_with_its_code(table, counted):  # noqa: F811
    world = World(table, seed(), outcomes=counted)
    world.configure(articles={"policy": "skip"})
    job = world.job()

    world.run(job)
    world.run(job)

    assert counted.seen() == [(job.run_id, "failed", "ARTICLE_MISSING")]


def test_a_run_is_counted_only_once_its_outcome_is_told(table, counted):  # noqa: F811
    world = World(table, seed(), outcomes=counted)
    world.hubspot_sim.faults.add({"kind": "status", "method": "POST", "path": "/crm/objects/2026-03/notes",
                                  "status": 503, "times": None})
    job = world.job()

    run = world.run(job)

    assert (run.status, run.delivery) == ("succeeded", "pending")
    assert counted.seen() == []
    world.hubspot_sim.faults.clear()
    world.clock.advance(3600)
    told = world.tell_follow_ups()
    assert told is not None and told.final
    assert counted.seen() == [(job.run_id, "succeeded", None)]


def test_a_run_that_gives_up_on_its_last_try_is_counted_as_failed_before_its_message_moves_on(table,  # noqa: F811
                                                                                            counted):
    world = World(table, seed(), outcomes=counted)
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 503,
                                  "times": None})
    job = world.job()

    with pytest.raises(JobExhausted):
        world.run(job, attempt=MAX_ATTEMPTS)

    assert counted.seen() == [(job.run_id, "failed", "UPSTREAM_UNAVAILABLE")]
