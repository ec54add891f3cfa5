"""Replaying once, whoever asks, and the bulk replay of a filter's failed runs (on fakes)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hubnox.errors import BadRequestError, TransientError
from hubnox.jobs import NOT_QUEUED, submit, trigger_key
from hubnox.records import Run, RunFilter, RunRequest
from hubnox.services.bulk_replay import (
    CALLS_PER_RUN,
    FORTNOX_CALLS,
    FORTNOX_WINDOW_SECONDS,
    MAX_DELAY_SECONDS,
    BulkReplay,
    CountChanged,
    failed_runs_in_log,
    schedule,
)
from hubnox.services.replay_claim import CLAIM_GRACE_SECONDS, replay_once
from hubnox.services.sync_log import read_run_filter
from tests.support.clock import FakeClock
from tests.support.fakes import DealLinks, Runs
from tests.support.queue import FollowUpQueue

PORTAL = "102670506"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runs = Runs(self.clock)
        self.queue = FollowUpQueue()
        self.deal_links = DealLinks(self.clock)
        self.submit = functools.partial(submit, self.runs, self.queue)

    def failed(self, deal: str = "904", *, kind: str = "create_document", error_code: str = "FORTNOX_2000433",
               **changes: Any) -> Run:
        values = {"object_type": "deal", "object_id": deal, "document_type": "invoice",
                  "trigger_key": trigger_key("workflow", "invoice")} | changes
        request = RunRequest(portal_id=PORTAL, kind=kind, trigger="workflow", **values)  # type: ignore[arg-type]
        run = self.runs.create(request)
        self.clock.advance(1)
        return self.runs.fail(PORTAL, run.run_id, error_code, "Fortnox could not find customer 1042.")

    def bulk(self, **kwargs: Any) -> BulkReplay:
        return BulkReplay(runs=self.runs, failed_runs=failed_runs_in_log(self.runs.search),
                          deal_links=self.deal_links, submit=self.submit, **kwargs)

    def replays(self) -> list[Run]:
        return [run for run in self.runs.runs.values() if run.trigger == "replay"]


@pytest.fixture
def world() -> World:
    return World()


def at_once(count: int, call: Callable[[], Any]) -> list[Any]:
    """`call` from `count` threads released together."""
    start = threading.Barrier(count)

    def one(_: int) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


# -- the claim -------------------------------------------------------------------------------------


def test_a_run_is_replayed_once_and_asking_again_names_that_replay(world):
    run = world.failed()

    first = replay_once(world.runs, world.submit, run)
    second = replay_once(world.runs, world.submit, run)

    assert first.queued and not second.queued and second.run_id == first.run_id
    [replay] = world.replays()
    assert (replay.run_id, replay.replay_of, replay.callback_id) == (first.run_id, run.run_id, None)
    assert world.runs.get(PORTAL, run.run_id).replayed_by == first.run_id
    assert [job.run_id for job, _ in world.queue.sent] == [first.run_id]


@pytest.mark.parametrize("attempt", range(5))
def test_threads_replaying_one_failed_run_at_once_make_one_run(world, attempt):
    run = world.failed()

    answers = at_once(8, lambda: replay_once(world.runs, world.submit, run))

    [replay] = world.replays()
    assert {answer.run_id for answer in answers} == {replay.run_id}
    assert sum(answer.queued for answer in answers) == 1
    assert len(world.queue.sent) == 1


def test_a_claim_whose_run_was_never_created_is_taken_over_after_the_grace(world):
    run = world.failed()
    world.runs.claim_replay(PORTAL, run.run_id, world.runs.new_id())  # and the process died

    assert replay_once(world.runs, world.submit, run).queued is False  # the claimer may be about to create it
    world.clock.advance(CLAIM_GRACE_SECONDS + 1)
    taken = replay_once(world.runs, world.submit, run)

    assert taken.queued and [r.run_id for r in world.replays()] == [taken.run_id]
    assert world.runs.get(PORTAL, run.run_id).replayed_by == taken.run_id


def test_a_slow_claimer_whose_claim_was_taken_over_makes_no_second_run(world):
    run = world.failed()
    slow = world.runs.new_id()
    world.runs.claim_replay(PORTAL, run.run_id, slow)
    world.clock.advance(CLAIM_GRACE_SECONDS + 1)
    taken = replay_once(world.runs, world.submit, run)

    with pytest.raises(Exception, match="no longer names"):
        world.submit(run.request, replay_of=run.run_id, run_id=slow)  # the slow claimer wakes up

    assert [r.run_id for r in world.replays()] == [taken.run_id]


def test_a_replay_whose_job_could_not_be_queued_is_replaced_by_the_next_replay(world, monkeypatch):
    run = world.failed()

    def down(job: Any, **_: Any) -> None:
        raise RuntimeError("SQS is unavailable")

    monkeypatch.setattr(world.queue, "send", down)
    with pytest.raises(RuntimeError):
        replay_once(world.runs, world.submit, run)
    monkeypatch.undo()
    again = replay_once(world.runs, world.submit, run)

    assert again.queued
    assert sorted(r.error_code or "" for r in world.replays()) == ["", NOT_QUEUED]
    assert [job.run_id for job, _ in world.queue.sent] == [again.run_id]


# -- the bulk replay -------------------------------------------------------------------------------


def test_the_preview_counts_the_failed_runs_to_replay_and_changes_nothing(world):
    for deal in ("1", "2", "3"):
        world.failed(deal)
    world.runs.succeed(PORTAL, world.runs.create(RunRequest(portal_id=PORTAL, kind="create_document",
                                                            trigger="card")).run_id)

    preview = world.bulk().preview(PORTAL, RunFilter())

    assert (preview.count, preview.remaining) == (3, 0)
    assert world.replays() == [] and world.queue.sent == []


def test_replayed_superseded_unqueued_and_product_sync_runs_are_left_out(world):
    replayed = world.failed("1")
    replay_once(world.runs, world.submit, replayed)
    made_good = world.failed("2")
    world.deal_links.claim(PORTAL, "2", made_good.trigger_key, "later")
    world.deal_links.set_document(PORTAL, "2", made_good.trigger_key, "invoice", "1001")
    world.failed("3", error_code=NOT_QUEUED)
    world.failed("4", kind="sync_products")
    world.failed("5", kind="sync_customer")
    wanted = world.failed("6")

    preview = world.bulk().preview(PORTAL, RunFilter())

    assert [run.object_id for run in preview.runs] == ["6", "5"]
    assert preview.runs[0].run_id == wanted.run_id


def test_a_run_whose_replay_could_not_be_queued_is_counted_again(world, monkeypatch):
    run = world.failed()

    def down(job: Any, **_: Any) -> None:
        raise RuntimeError("SQS is unavailable")

    monkeypatch.setattr(world.queue, "send", down)
    with pytest.raises(TransientError):
        world.bulk().replay(PORTAL, RunFilter(), expected_count=1)
    monkeypatch.undo()

    assert [r.run_id for r in world.bulk().preview(PORTAL, RunFilter()).runs] == [run.run_id]
    assert len(world.bulk().replay(PORTAL, RunFilter(), expected_count=1).queued) == 1


def test_a_batch_the_queue_fails_halfway_says_what_it_queued_and_what_it_did_not(world, monkeypatch):
    for deal in range(4):
        world.failed(str(deal))
    sent = world.queue.send

    def third_fails(job: Any, **kwargs: Any) -> None:
        if len(world.queue.sent) == 2:
            raise RuntimeError("SQS is unavailable")
        sent(job, **kwargs)

    monkeypatch.setattr(world.queue, "send", third_fails)
    outcome = world.bulk().replay(PORTAL, RunFilter(), expected_count=4)
    monkeypatch.undo()

    assert (len(outcome.queued), outcome.not_queued) == (2, 2)
    assert world.bulk().preview(PORTAL, RunFilter()).count == 2


def test_the_filter_narrows_what_is_replayed(world):
    world.failed("1")
    world.clock.advance(86400)
    late = world.failed("2")
    world.failed("3", document_type="order")

    found = world.bulk().preview(PORTAL, RunFilter(created_from=late.created_at, document_type="invoice"))
    by_text = world.bulk().preview(PORTAL, RunFilter(text="2"))  # the deal's id
    of_succeeded = world.bulk().preview(PORTAL, RunFilter(status="succeeded"))

    assert [run.run_id for run in found.runs] == [late.run_id]
    assert [run.run_id for run in by_text.runs] == [late.run_id]
    assert of_succeeded.count == 0


def test_replay_queues_each_counted_run_once_and_says_so(world):
    runs = [world.failed(str(deal)) for deal in range(5)]

    outcome = world.bulk().replay(PORTAL, RunFilter(), expected_count=5)

    assert len(outcome.queued) == 5 and outcome.already_replayed == 0 and outcome.remaining == 0
    assert {r.replay_of for r in world.replays()} == {run.run_id for run in runs}
    assert world.bulk().preview(PORTAL, RunFilter()).count == 0


def test_a_count_that_changed_since_the_confirmation_is_refused_with_the_new_count(world):
    world.failed("1")
    bulk = world.bulk()
    confirmed = bulk.preview(PORTAL, RunFilter()).count
    world.failed("2")  # another failure meanwhile

    with pytest.raises(CountChanged) as refused:
        bulk.replay(PORTAL, RunFilter(), expected_count=confirmed)

    assert (refused.value.expected, refused.value.preview.count) == (1, 2)
    assert world.replays() == []


@pytest.mark.parametrize("attempt", range(3))
def test_two_admins_replaying_at_once_replay_each_failed_run_once(world, attempt):
    runs = [world.failed(str(deal)) for deal in range(30)]
    listed = threading.Barrier(2)
    recent = failed_runs_in_log(world.runs.search)

    def failed_runs(portal_id: str, run_filter: RunFilter) -> list[Run]:
        found = list(recent(portal_id, run_filter))
        listed.wait()  # both admins counted the same 30 before either replays
        return found

    outcomes = at_once(2, lambda: BulkReplay(runs=world.runs, failed_runs=failed_runs, deal_links=world.deal_links,
                                             submit=world.submit).replay(PORTAL, RunFilter(), expected_count=30))

    assert sorted(r.replay_of for r in world.replays()) == sorted(run.run_id for run in runs)
    assert sum(len(o.queued) for o in outcomes) == 30
    assert all(len(o.queued) + o.already_replayed == 30 for o in outcomes)
    assert len(world.queue.sent) == 30


def test_a_batch_is_bounded_and_says_how_many_remain(world):
    for deal in range(12):
        world.failed(str(deal))

    outcome = world.bulk(batch_limit=5).replay(PORTAL, RunFilter(), expected_count=5)

    assert (len(outcome.queued), outcome.remaining) == (5, 7)
    assert world.bulk(batch_limit=5).preview(PORTAL, RunFilter()).remaining == 2


def test_the_jobs_are_held_back_so_the_portal_stays_inside_its_fortnox_budget(world):
    for deal in range(40):
        world.failed(str(deal), kind="create_document" if deal % 3 else "sync_customer")

    world.bulk().replay(PORTAL, RunFilter(), expected_count=40)

    kinds = {run.run_id: run.kind for run in world.runs.runs.values()}
    starts = [(delay, CALLS_PER_RUN[kinds[job.run_id]]) for job, delay in world.queue.sent]
    assert starts[0][0] == 0 and max(d for d, _ in starts) <= MAX_DELAY_SECONDS
    for second in range(max(d for d, _ in starts) + 1):
        calls = sum(c for d, c in starts if second <= d < second + FORTNOX_WINDOW_SECONDS)
        assert calls <= FORTNOX_CALLS, second
    assert [d for d, _ in starts] == sorted(d for d, _ in starts)


def test_the_schedule_packs_the_budget_and_stops_at_sqs_longest_delay():
    assert schedule([6] * 9) == [0, 0, 0, 0, 5, 5, 5, 5, 10]
    assert schedule([3, 6, 6, 6, 6]) == [0, 0, 0, 0, 5]
    long = schedule([6] * 2000)
    assert long[-1] <= MAX_DELAY_SECONDS and len(long) == 4 * (MAX_DELAY_SECONDS // 5 + 1)


def test_the_filter_is_read_as_the_log_sends_it():
    read = read_run_filter({"status": "failed", "trigger": "poller", "documentType": "order",
                            "from": "2026-12-01", "to": "2026-12-06", "q": " 1042 "})

    assert (read.status, read.trigger, read.document_type, read.text) == ("failed", "poller", "order", "1042")
    assert read.created_to - read.created_from == 6 * 86400  # the to day is included
    assert read_run_filter({"status": "", "q": ""}) == RunFilter()


@pytest.mark.parametrize("body", [{"status": "lost"}, {"trigger": 3}, {"from": "yesterday"},
                                  {"from": "2026-12-06", "to": "2026-12-01"}, {"q": "x" * 201}])
def test_a_filter_that_is_not_one_is_a_400_naming_the_field(body):
    with pytest.raises(BadRequestError) as refused:
        read_run_filter(body)
    assert next(iter(body)) in refused.value.message
