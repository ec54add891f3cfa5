"""The poller fanned out, on fakes: the tick sends one poll message per portal with trigger stages, ten a
batch; a portal's poll splits a window that would pass HubSpot's 10,000-result cap, continues in a new
message before the timeout, holds a lease against a second poll of the portal, and fails alone."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import pytest

from hubnox.hubspot import paths
from hubnox.hubspot.models import CrmObject, SearchPage
from hubnox.jobs import submit
from hubnox.records import Run, RunRequest
from hubnox.sync.poll_fanout import RESULTS_CAP, PollMessage, PortalPoll, dispatch
from hubnox.sync.poller import CURSOR_NAME, OVERLAP_MS, Poller, StageRule
from hubnox.sync.triggers import TriggerDecider
from sandbox.aws import sqs_record
from tests.support.clock import FakeClock
from tests.support.fakes import Cursors, DealLinks, Leases, Nonces, Queue, Runs, TriggerLog
from tests.support.functions import world_on_moto

PORTAL = "4242"
INVOICE_ON_WON = StageRule("closedwon", "invoice", "default")


class PagedSearch:
    """HubSpot's deal search as the poller uses it: dealstage IN, hs_lastmodifieddate GTE and LT, ascending,
    pages of at most 200 with a numeric `after`, `total` on every page, and a 400 past 10,000 results."""

    def __init__(self) -> None:
        self.modified: dict[str, tuple[str, int]] = {}  # deal id -> (stage, modified ms)
        self.requests: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    def put(self, deal_id: str, stage: str, modified_ms: int) -> None:
        self.modified[deal_id] = (stage, modified_ms)

    def search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]], properties: Sequence[str],
               sorts: Sequence[Any] = (), limit: int = 100, after: str | None = None, **_: Any) -> SearchPage:
        if self.failure:
            raise self.failure
        [group] = filter_groups
        filters = {(f["propertyName"], f["operator"]): f for f in group["filters"]}
        stages = filters["dealstage", "IN"]["values"]
        since = int(filters["hs_lastmodifieddate", "GTE"]["value"])
        until = int(filters["hs_lastmodifieddate", "LT"]["value"])
        self.requests.append({"since": since, "until": until, "after": after, "limit": limit})
        assert object_type == paths.DEALS and limit <= 200
        offset = int(after or 0)
        if offset + limit > RESULTS_CAP:
            raise AssertionError("HubSpot answers 400 past 10,000 results")
        found = sorted((ms, deal_id) for deal_id, (stage, ms) in self.modified.items()
                       if stage in stages and since <= ms < until)
        page = found[offset:offset + limit]
        next_after = str(offset + limit) if offset + limit < len(found) else None
        return SearchPage(total=len(found), next_after=next_after, results=[
            CrmObject(id=deal_id, properties={"dealstage": self.modified[deal_id][0], "pipeline": "default",
                                              "hs_lastmodifieddate": str(ms)}) for ms, deal_id in page])


class World:
    """One portal's poll over fake stores, a paged search per portal and the jobs queue."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runs = Runs(self.clock)
        self.queue = Queue()
        self.cursors = Cursors()
        self.leases = Leases(self.clock)
        self.rules: dict[str, list[StageRule]] = {PORTAL: [INVOICE_ON_WON]}
        self.searches: dict[str, PagedSearch] = {PORTAL: PagedSearch()}
        submit_run = partial(submit, self.runs, self.queue)

        def enqueue(portal_id: str, deal_id: str, rule: StageRule, source: str = "poller") -> Run:
            return submit_run(RunRequest(portal_id=portal_id, kind="create_document", trigger="poller",
                                         object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                         trigger_key=rule.trigger_key))

        decider = TriggerDecider(deal_links=DealLinks(self.clock), runs=self.runs, claims=Nonces(self.clock),
                                 leases=Leases(self.clock), enqueue=enqueue, log=TriggerLog(), clock=self.clock)
        poller = Poller(portals=list, rules_for=self.rules_for, search_for=self.searches.__getitem__,
                        cursors=self.cursors, decider=decider, clock=self.clock)
        self.poll = PortalPoll(poller, rules_for=self.rules_for, search_for=self.searches.__getitem__,
                               cursors=self.cursors, leases=self.leases, clock=self.clock)

    def rules_for(self, portal_id: str) -> list[StageRule]:
        return self.rules.get(portal_id, [])

    def moved(self, count: int, *, start_ms: int, spread_ms: int, portal: str = PORTAL) -> None:
        """`count` deals moved into Closed won, evenly over `spread_ms` from `start_ms`."""
        for index in range(count):
            self.searches[portal].put(f"{portal}-{index}", "closedwon", start_ms + index * spread_ms // count)

    def enqueued(self) -> list[str]:
        return [job.object_id or "" for job in self.queue.jobs]


@pytest.fixture
def world() -> World:
    return World()


# -- dispatch --------------------------------------------------------------------------------------------


class SentBatches:
    def __init__(self) -> None:
        self.batches: list[list[PollMessage]] = []

    def send_batch(self, messages: list[PollMessage]) -> None:
        self.batches.append(messages)

    def send(self, message: PollMessage) -> None:
        self.batches.append([message])


def test_the_tick_sends_one_message_per_portal_with_rules_ten_a_batch_as_the_registry_pages_in():
    read: list[str] = []

    def registry() -> Iterator[str]:
        for page in range(3):  # pages of 10 portal ids, read only as dispatch reaches them
            for index in range(10):
                read.append(portal := f"{page}{index:02d}")
                yield portal

    queue = SentBatches()
    report = dispatch(registry(), lambda portal: not portal.endswith(("3", "7")), queue)

    sent = [message.portal_id for batch in queue.batches for message in batch]
    assert [len(batch) for batch in queue.batches] == [10, 10, 4]
    assert sent == [p for p in read if not p.endswith(("3", "7"))] and len(set(sent)) == 24
    assert (report.portals, report.sent, report.without_rules, report.batches) == (30, 24, 6, 3)
    assert all(not message.is_continuation for batch in queue.batches for message in batch)


def test_a_poll_message_reads_back_what_it_carries_and_refuses_what_is_not_one():
    message = PollMessage(PORTAL, ((1, 5), (5, 9)), "400")
    assert PollMessage.from_body(message.to_body()) == message
    assert PollMessage.from_body('{"portal_id": "7"}') == PollMessage("7")
    for body in ('{"windows": []}', '["7"]', '{"portal_id": "7", "windows": [[5, 5]]}', "not json"):
        with pytest.raises(ValueError):
            PollMessage.from_body(body)


# -- one portal's poll -------------------------------------------------------------------------------------


def test_a_window_past_the_search_cap_is_halved_until_each_part_fits_and_every_deal_is_found(world):
    now = world.clock.ms
    world.cursors.put(PORTAL, CURSOR_NAME, str(now - 60 * 60 * 1000))
    world.moved(23_000, start_ms=now - 60 * 60 * 1000, spread_ms=60 * 60 * 1000)

    outcome = world.poll.run(PollMessage(PORTAL), "m1")

    assert outcome.continuation is None and outcome.splits >= 2
    assert len(world.enqueued()) == 23_000 == len(set(world.enqueued()))
    requests = world.searches[PORTAL].requests
    assert all(int(r["after"] or 0) + r["limit"] <= RESULTS_CAP for r in requests)
    assert {r["limit"] for r in requests} == {200}
    # Every window polled to its end fits under the cap, and together they cover the whole first window.
    polled = sorted({(r["since"], r["until"]) for r in requests if r["after"] is not None})
    assert polled[0][0] == now - 60 * 60 * 1000 - OVERLAP_MS and polled[-1][1] == now
    assert all(a[1] == b[0] for a, b in itertools.pairwise(polled))
    assert world.cursors.get(PORTAL, CURSOR_NAME) == str(now - 60 * 60 * 1000 + 22_999 * 60 * 60 * 1000 // 23_000)


def test_a_poll_short_of_time_stores_its_cursor_and_continues_in_the_next_message(world):
    now = world.clock.ms
    world.moved(1_000, start_ms=now - 10 * 60 * 1000, spread_ms=9 * 60 * 1000)
    left = iter([55.0, 40.0, 25.0, 9.0])  # seconds left before each search; under 10 the poll stops

    first = world.poll.run(PollMessage(PORTAL), "m1", lambda: next(left))

    assert len(world.searches[PORTAL].requests) == 3 and len(world.enqueued()) == 600
    assert first.continuation is not None and first.continuation.after == "600"
    [(since, until)] = first.continuation.windows
    assert until == now  # the window ends where the poll began, not where the next message runs
    assert world.leases.held == {}  # freed, so the continuation can take it
    cursor = int(world.cursors.get(PORTAL, CURSOR_NAME) or 0)
    assert since < cursor < now

    world.clock.advance(5)
    second = world.poll.run(PollMessage.from_body(first.continuation.to_body()), "m2")

    assert second.continuation is None
    assert sorted(world.enqueued()) == sorted(f"{PORTAL}-{i}" for i in range(1_000))
    assert world.searches[PORTAL].requests[3]["after"] == "600"


def test_a_second_message_for_a_portal_being_polled_does_nothing_and_a_later_one_enqueues_nothing_twice(world):
    now = world.clock.ms
    world.moved(3, start_ms=now - 60_000, spread_ms=30_000)
    assert world.leases.acquire(f"poll:{PORTAL}", "m1", 90)  # the first message's poll is running

    busy = world.poll.run(PollMessage(PORTAL), "m2")

    assert busy.busy and world.searches[PORTAL].requests == [] and world.enqueued() == []
    world.leases.release(f"poll:{PORTAL}", "m1")
    first = world.poll.run(PollMessage(PORTAL), "m1")
    again = world.poll.run(PollMessage(PORTAL), "m2")  # a duplicate from an overlapping tick
    assert len(first.report.enqueued) == 3 and again.report.enqueued == []
    assert sorted(world.enqueued()) == [f"{PORTAL}-{i}" for i in range(3)]
    assert sum(again.report.skipped.values()) == 3


def test_a_portal_without_rules_is_not_searched(world):
    world.rules = {}
    outcome = world.poll.run(PollMessage(PORTAL), "m1")
    assert outcome.report.found == 0 and world.searches[PORTAL].requests == []


# -- the function: each record on its own ----------------------------------------------------------------


class FailingFor:
    """The container's `portal_poll` for the handler: portal "bad" fails, the others poll as usual."""

    def __init__(self, real: PortalPoll) -> None:
        self.real = real
        self.polled: list[str] = []

    def run(self, message: PollMessage, owner: str, time_left: Any) -> Any:
        self.polled.append(message.portal_id)
        if message.portal_id == "bad":
            raise RuntimeError("HubSpot timed out")
        return self.real.run(message, owner, time_left)


def test_a_failing_portals_message_fails_alone_and_is_hidden_for_a_backoff(aws_clients):
    with world_on_moto(aws_clients) as moto:
        container = moto.container
        queue_url = container.config.poll_queue_url
        for portal in ("bad", "good"):
            container.poll_queue.send(PollMessage(portal))
        messages = moto.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            MessageSystemAttributeNames=["All"])["Messages"]
        poll = vars(container)["portal_poll"] = FailingFor(container.portal_poll)

        answer = moto.invoke("poller", {"Records": [sqs_record(m, "arn:poll") for m in messages]})

        bad = next(m for m in messages if PollMessage.from_body(m["Body"]).portal_id == "bad")
        assert answer["batchItemFailures"] == [{"itemIdentifier": bad["MessageId"]}]
        assert sorted(poll.polled) == ["bad", "good"]
        # The failed message stays hidden (its backoff), so it does not come straight back.
        assert moto.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []
