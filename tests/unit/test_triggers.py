"""The shared trigger decision: a deal seen by a webhook and by the poller, in either order or at the same
moment, makes one run; every decision lands in the trigger log, which reads one deal newest first."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from moto import mock_aws

from hubnox.errors import BadRequestError
from hubnox.jobs import submit
from hubnox.records import Run, RunRequest
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.runs import RunStore
from hubnox.store.table import Table, create_table
from hubnox.store.trigger_log import RETENTION_SECONDS, TriggerLogStore
from hubnox.sync.poller import StageRule
from hubnox.sync.triggers import (
    ALREADY_ENQUEUED,
    BUSY,
    DUPLICATE_EVENT,
    ENQUEUED,
    HAS_DOCUMENT,
    IN_PROGRESS,
    UNCHANGED_SINCE_FAILURE,
    TriggerDecider,
    TriggerRecord,
    TriggerSource,
)
from tests.support.aws import OneRequestAtATime
from tests.support.clock import FakeClock
from tests.support.fakes import DealLinks, Leases, Nonces, Queue, Runs, TriggerLog

PORTAL = "102670506"
RULE = StageRule("closedwon", "invoice", "default")


class World:
    """The decider over fakes, submitting as hubnox does."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runs = Runs(self.clock)
        self.queue = Queue()
        self.deal_links = DealLinks(self.clock)
        self.nonces = Nonces(self.clock)
        self.leases = Leases(self.clock)
        self.log = TriggerLog()
        self.submit = partial(submit, self.runs, self.queue)
        self.decider = TriggerDecider(deal_links=self.deal_links, runs=self.runs, claims=self.nonces,
                                      leases=self.leases, enqueue=self.enqueue, log=self.log, clock=self.clock,
                                      sleep=self.clock.sleep)

    def enqueue(self, portal_id: str, deal_id: str, rule: StageRule, source: TriggerSource) -> Run:
        return self.submit(RunRequest(portal_id=portal_id, kind="create_document", trigger=source,
                                      object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                      trigger_key=rule.trigger_key))


@pytest.fixture
def world() -> World:
    return World()


def test_a_webhook_then_the_poller_make_one_run(world):
    moved_ms = world.clock.ms - 2000
    first = world.decider.consider(PORTAL, "904", moved_ms, RULE, "webhook")
    world.clock.advance(60)
    second = world.decider.consider(PORTAL, "904", moved_ms + 5, RULE, "poller")

    assert first.decision == ENQUEUED and first.run_id
    assert second.decision == IN_PROGRESS and second.run_id is None
    assert [(job.object_id, job.trigger_key) for job in world.queue.jobs] == [("904", "stage:closedwon:invoice")]
    assert world.runs.get(PORTAL, first.run_id).trigger == "webhook"
    assert world.log.decisions() == [("904", "webhook", ENQUEUED), ("904", "poller", IN_PROGRESS)]
    assert world.log.entries[0].run_id == first.run_id and world.log.entries[0].trigger_key == RULE.trigger_key


def test_the_poller_then_a_webhook_make_one_run(world):
    moved_ms = world.clock.ms - 2000
    first = world.decider.consider(PORTAL, "904", moved_ms, RULE, "poller")
    world.runs.succeed(PORTAL, first.run_id or "")
    second = world.decider.consider(PORTAL, "904", moved_ms, RULE, "webhook")

    assert first.enqueued and not second.enqueued
    assert second.decision == HAS_DOCUMENT
    assert len(world.queue.jobs) == 1


def test_the_same_deal_version_twice_is_a_duplicate_for_a_webhook_and_already_enqueued_for_the_poller(world):
    # The run record vanished from view (e.g. NOT_QUEUED cleared), yet the version's claim still holds.
    moved_ms = world.clock.ms - 2000
    world.nonces.claim("poll", f"{PORTAL}:904:{RULE.trigger_key}:{moved_ms}", 3600)

    assert world.decider.consider(PORTAL, "904", moved_ms, RULE, "webhook").decision == DUPLICATE_EVENT
    assert world.decider.consider(PORTAL, "904", moved_ms, RULE, "poller").decision == ALREADY_ENQUEUED
    assert world.queue.jobs == []


def test_a_failed_run_waits_for_a_change_after_it(world):
    moved_ms = world.clock.ms - 2000
    run = world.decider.consider(PORTAL, "904", moved_ms, RULE, "webhook")
    world.runs.fail(PORTAL, run.run_id or "", "FORTNOX_REFUSED", "no customer")

    assert world.decider.consider(PORTAL, "904", moved_ms + 1, RULE, "poller").decision == UNCHANGED_SINCE_FAILURE
    world.clock.advance(600)
    assert world.decider.consider(PORTAL, "904", world.clock.ms, RULE, "webhook").enqueued


def test_a_lease_held_by_another_decision_is_waited_for_then_given_up_on(world):
    world.leases.acquire(f"trigger:{PORTAL}:904:{RULE.trigger_key}", "someone-else", 600)

    decision = world.decider.consider(PORTAL, "904", world.clock.ms, RULE, "webhook")

    assert decision.decision == BUSY
    assert world.queue.jobs == [] and world.clock.slept  # it waited before giving up
    assert world.log.decisions() == [("904", "webhook", BUSY)]


def test_a_failed_enqueue_gives_the_claim_and_the_lease_back(world):
    def broken(*args: Any) -> Run:
        raise RuntimeError("queue down")

    world.decider._enqueue = broken
    with pytest.raises(RuntimeError):
        world.decider.consider(PORTAL, "904", world.clock.ms, RULE, "webhook")

    assert world.nonces.of_kind("poll") == [] and world.leases.held == {}


def test_a_trigger_log_that_cannot_be_written_never_stops_a_trigger(world):
    class Broken:
        def record(self, entry: TriggerRecord) -> None:
            raise RuntimeError("table down")

    world.decider._log = Broken()
    assert world.decider.consider(PORTAL, "904", world.clock.ms, RULE, "webhook").enqueued


# -- at the same moment, on the real stores --------------------------------------------------------


@pytest.fixture
def shared_table(aws_clients):
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, "hubnox-triggers")
        yield Table(OneRequestAtATime(dynamodb), "hubnox-triggers")


def test_a_webhook_and_the_poller_at_the_same_moment_make_one_run(shared_table):
    runs = RunStore(shared_table, time.time)
    enqueued: list[str] = []
    lock = threading.Lock()

    def enqueue(portal_id: str, deal_id: str, rule: StageRule, source: TriggerSource) -> Run:
        time.sleep(0.05)  # the other decision runs its checks meanwhile
        run = runs.create(RunRequest(portal_id=portal_id, kind="create_document", trigger=source,
                                     object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                     trigger_key=rule.trigger_key))
        with lock:
            enqueued.append(source)
        return run

    decider = TriggerDecider(deal_links=DealLinkStore(shared_table, time.time), runs=runs,
                             claims=NonceStore(shared_table, time.time), leases=LeaseStore(shared_table, time.time),
                             enqueue=enqueue, log=TriggerLogStore(shared_table, time.time), clock=time.time)
    moved_ms = int(time.time() * 1000) - 2000
    sources: list[TriggerSource] = ["webhook", "poller"] * 3
    start = threading.Barrier(len(sources))

    def decide(index: int) -> str:
        start.wait()
        # The poller's version moment differs from the event's, so the claims do not meet: the lease does.
        return decider.consider(PORTAL, "904", moved_ms + index, RULE, sources[index]).decision

    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        decisions = list(pool.map(decide, range(len(sources))))

    assert len(enqueued) == 1
    assert decisions.count(ENQUEUED) == 1
    assert set(decisions) - {ENQUEUED} == {IN_PROGRESS}


# -- the trigger log's store -------------------------------------------------------------------------


def test_the_trigger_log_reads_one_deal_newest_first_in_pages_and_expires(table):
    clock = FakeClock()
    store = TriggerLogStore(table, clock)
    for index in range(5):
        store.record(TriggerRecord(PORTAL, "904", "poller", IN_PROGRESS, at=clock() + index,
                                   trigger_key=RULE.trigger_key, stage_id="closedwon"))
    store.record(TriggerRecord(PORTAL, "905", "webhook", ENQUEUED, at=clock(), run_id="R1"))
    store.record(TriggerRecord("999", "904", "webhook", ENQUEUED, at=clock()))

    first = store.for_deal(PORTAL, "904", limit=3)
    assert [record["at"] for record in first.records] == [clock() + 4, clock() + 3, clock() + 2]
    assert first.next_cursor is not None
    rest = store.for_deal(PORTAL, "904", limit=3, cursor=first.next_cursor)
    assert [record["at"] for record in rest.records] == [clock() + 1, clock()]
    assert rest.records[0]["triggerKey"] == RULE.trigger_key and rest.records[0]["source"] == "poller"
    assert store.for_deal(PORTAL, "905").records[0]["runId"] == "R1"

    clock.advance(RETENTION_SECONDS + 10)
    assert store.for_deal(PORTAL, "904").records == []


def test_the_trigger_log_refuses_a_cursor_it_did_not_give(table):
    with pytest.raises(BadRequestError):
        TriggerLogStore(table, FakeClock()).for_deal(PORTAL, "904", cursor="TRIGGER#905#x")
