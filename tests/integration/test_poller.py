"""The poller: a deal that enters a trigger stage is enqueued once per stage rule, whatever the overlapping
search windows, ticks, retries and hubnox's own write-backs; the cursor moves only after the jobs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hubnox.errors import ConnectionBrokenError, TransientError
from hubnox.hubspot.models import CrmObject
from hubnox.records import Run, RunRequest
from hubnox.store.cursors import CursorStore
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.runs import RunStore
from hubnox.store.trigger_log import TriggerLogStore
from hubnox.sync.poller import CURSOR_NAME, FIRST_LOOKBACK_MS, OVERLAP_MS, SETTLE_SECONDS, Poller, StageRule
from hubnox.sync.triggers import TriggerDecider
from sandbox.aws import sqs_record
from tests.sandbox.test_hubspot_support import CLIENT_ID, CLIENT_SECRET, install, simulator
from tests.support.clock import FakeClock
from tests.support.functions import START, World, sample_event, world_on_moto

PORTAL = "4242"
INVOICE_ON_WON = StageRule("closedwon", "invoice", "default")
ORDER_ON_CONTRACT = StageRule("contractsent", "order", "default")


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeSearch:
    """HubSpot's deal search over a list of deals: IN and GTE filters, one ascending sort, every call kept."""

    def __init__(self) -> None:
        self.deals: dict[str, dict[str, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    def put(self, deal_id: str, stage: str, modified_ms: int, pipeline: str = "default") -> None:
        self.deals[deal_id] = {"dealstage": stage, "pipeline": pipeline, "hs_lastmodifieddate": iso(modified_ms)}

    def iter_search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]], properties: Sequence[str],
                    sorts: Sequence[Any] = (), **_: Any) -> Iterator[CrmObject]:
        self.requests.append({"object_type": object_type, "filter_groups": filter_groups,
                              "properties": list(properties), "sorts": list(sorts)})
        if self.failure:
            raise self.failure
        [group] = filter_groups
        stages = next(f["values"] for f in group["filters"] if f["propertyName"] == "dealstage")
        since = int(next(f["value"] for f in group["filters"] if f["propertyName"] == "hs_lastmodifieddate"))
        found = [CrmObject(id=deal_id, properties=dict(props)) for deal_id, props in self.deals.items()
                 if props["dealstage"] in stages and _ms(props["hs_lastmodifieddate"]) >= since]
        yield from sorted(found, key=lambda deal: _ms(deal.properties["hs_lastmodifieddate"]))


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Setup:
    """The poller over real stores on moto, a fake search per portal and an enqueue that records runs."""

    def __init__(self, table: Any) -> None:
        self.clock = FakeClock(START)
        self.runs = RunStore(table, self.clock)
        self.cursors = CursorStore(table)
        self.nonces = NonceStore(table, self.clock)
        self.deal_links = DealLinkStore(table, self.clock)
        self.portals = [PORTAL]
        self.rules: dict[str, list[StageRule]] = {PORTAL: [INVOICE_ON_WON, ORDER_ON_CONTRACT]}
        self.searches: dict[str, FakeSearch] = {PORTAL: FakeSearch()}
        self.enqueued: list[tuple[str, str, str]] = []
        self.enqueue_failure: Exception | None = None
        self.poller = Poller(portals=lambda: self.portals, rules_for=lambda portal: self.rules.get(portal, []),
                             search_for=lambda portal: self.searches[portal], cursors=self.cursors,
                             decider=TriggerDecider(deal_links=self.deal_links, runs=self.runs, claims=self.nonces,
                                                    leases=LeaseStore(table, self.clock), enqueue=self.enqueue,
                                                    log=TriggerLogStore(table, self.clock), clock=self.clock),
                             clock=self.clock)

    @property
    def search(self) -> FakeSearch:
        return self.searches[PORTAL]

    def enqueue(self, portal_id: str, deal_id: str, rule: StageRule, source: str = "poller") -> Run:
        if self.enqueue_failure:
            raise self.enqueue_failure
        self.enqueued.append((portal_id, deal_id, rule.trigger_key))
        return self.runs.create(RunRequest(portal_id=portal_id, kind="create_document", trigger="poller",
                                           object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                           trigger_key=rule.trigger_key))

    def moved(self, deal_id: str, stage: str = "closedwon", ago_seconds: float = 30, **kwargs: Any) -> None:
        self.search.put(deal_id, stage, self.clock.ms - int(ago_seconds * 1000), **kwargs)


@pytest.fixture
def setup(table) -> Setup:
    return Setup(table)


# -- what gets enqueued ----------------------------------------------------------------------------------


def test_a_deal_in_a_trigger_stage_is_enqueued_once_with_its_rules_trigger_key(setup):
    setup.moved("901")
    setup.moved("902", stage="appointmentscheduled")

    report = setup.poller.tick()

    assert setup.enqueued == [(PORTAL, "901", "stage:closedwon:invoice")]
    assert report.enqueued == 1


def test_each_stage_rule_enqueues_its_own_document_type(setup):
    setup.moved("901", ago_seconds=50)
    setup.moved("902", stage="contractsent", ago_seconds=40)
    setup.poller.tick()
    assert setup.enqueued == [(PORTAL, "901", "stage:closedwon:invoice"), (PORTAL, "902", "stage:contractsent:order")]
    assert sorted(run.document_type for run in setup.runs.list_recent(PORTAL)) == ["invoice", "order"]


def test_overlapping_ticks_do_not_enqueue_the_same_deal_twice(setup):
    setup.moved("901")
    setup.poller.tick()
    setup.clock.advance(120)
    setup.poller.tick()
    setup.clock.advance(120)
    setup.poller.tick()
    assert [deal for _, deal, _ in setup.enqueued] == ["901"]


def test_a_workflow_run_of_the_deal_in_between_does_not_let_the_next_tick_enqueue_it_again(setup):
    setup.moved("901")
    setup.poller.tick()
    setup.clock.advance(1)
    setup.runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                                 object_id="901", document_type="order", trigger_key="workflow:order"))
    setup.clock.advance(120)
    report = setup.poller.tick()
    assert len(setup.enqueued) == 1
    assert report.portals[0].skipped == {"already enqueued": 1}


def test_a_deal_in_another_pipeline_with_the_same_stage_id_is_skipped(setup):
    setup.moved("901", pipeline="partners")
    report = setup.poller.tick()
    assert setup.enqueued == []
    assert report.portals[0].skipped == {"other pipeline": 1}


# -- what is left alone ------------------------------------------------------------------------------------


def test_a_deal_that_has_its_document_is_not_enqueued_again_when_it_changes(setup):
    setup.moved("901")
    setup.poller.tick()
    run = setup.runs.list_recent(PORTAL)[0]
    setup.deal_links.claim(PORTAL, "901", run.trigger_key, run.run_id)
    setup.deal_links.set_document(PORTAL, "901", run.trigger_key, "invoice", "1042")
    setup.runs.succeed(PORTAL, run.run_id, {"document_number": "1042"})

    setup.clock.advance(600)
    setup.moved("901", ago_seconds=10)  # the rep edits the won deal later
    setup.poller.tick()

    assert len(setup.enqueued) == 1


def test_a_deal_whose_run_is_still_in_progress_is_left_to_it(setup):
    setup.moved("901")
    setup.poller.tick()
    setup.runs.mark_running(PORTAL, setup.runs.list_recent(PORTAL)[0].run_id)
    setup.clock.advance(30)
    setup.moved("901", ago_seconds=5)  # the worker's own "running" write-back
    setup.poller.tick()
    assert len(setup.enqueued) == 1


def test_a_failed_deal_is_not_retriggered_by_hubnoxs_write_back_but_is_by_a_later_change(setup):
    setup.moved("901")
    setup.poller.tick()
    run = setup.runs.list_recent(PORTAL)[0]
    setup.clock.advance(20)
    setup.runs.fail(PORTAL, run.run_id, "NO_COMPANY", "The deal has no company.")
    setup.clock.advance(5)
    setup.moved("901", ago_seconds=1)  # the failure note and properties land on the deal
    setup.clock.advance(120)
    setup.poller.tick()
    assert len(setup.enqueued) == 1

    setup.clock.advance(SETTLE_SECONDS)
    setup.moved("901", ago_seconds=1)  # the rep adds the company
    setup.poller.tick()
    assert [deal for _, deal, _ in setup.enqueued] == ["901", "901"]


def test_a_portal_without_trigger_stages_is_not_searched(setup):
    setup.rules[PORTAL] = []
    setup.poller.tick()
    assert setup.search.requests == []


# -- the search and the cursor ------------------------------------------------------------------------------


def test_the_first_search_looks_back_a_little_from_now_for_the_trigger_stages_oldest_change_first(setup):
    setup.poller.tick()

    [request] = setup.search.requests
    since = setup.clock.ms - FIRST_LOOKBACK_MS - OVERLAP_MS
    assert request["object_type"] == "0-3"
    assert request["filter_groups"] == [{"filters": [
        {"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "contractsent"]},
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since)}]}]
    assert request["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert "dealstage" in request["properties"] and "hs_lastmodifieddate" in request["properties"]


def test_the_cursor_moves_to_the_newest_change_seen_and_the_next_search_starts_before_it(setup):
    setup.moved("901", ago_seconds=90)
    setup.moved("902", ago_seconds=30)
    setup.poller.tick()
    newest = setup.clock.ms - 30_000
    assert setup.cursors.get(PORTAL, CURSOR_NAME) == str(newest)

    setup.clock.advance(120)
    setup.poller.tick()
    assert setup.search.requests[-1]["filter_groups"][0]["filters"][1]["value"] == str(newest - OVERLAP_MS)


def test_a_deal_older_than_the_cursor_window_is_not_found_again(setup):
    setup.moved("901", ago_seconds=30)
    setup.poller.tick()
    setup.clock.advance(3600)
    setup.moved("902", ago_seconds=30)
    setup.poller.tick()
    assert [deal for _, deal, _ in setup.enqueued] == ["901", "902"]


def test_when_enqueueing_fails_the_cursor_stays_and_the_next_tick_sends_the_deal(setup):
    setup.moved("901")
    setup.enqueue_failure = TransientError("SQS is unavailable")

    report = setup.poller.tick()

    assert report.portals[0].error == "TRANSIENT"
    assert setup.cursors.get(PORTAL, CURSOR_NAME) is None
    setup.enqueue_failure = None
    setup.clock.advance(120)
    setup.poller.tick()
    assert [deal for _, deal, _ in setup.enqueued] == ["901"]


# -- many portals --------------------------------------------------------------------------------------------


def test_a_portal_that_fails_does_not_stop_the_others(setup):
    setup.portals = ["1", PORTAL, "3"]
    setup.rules |= {"1": [INVOICE_ON_WON], "3": [INVOICE_ON_WON]}
    setup.searches |= {"1": FakeSearch(), "3": FakeSearch()}
    setup.searches["1"].failure = ConnectionBrokenError("HubSpot")
    setup.searches["3"].failure = RuntimeError("a bug")
    setup.moved("901")

    report = setup.poller.tick()

    assert [(r.portal_id, r.error) for r in report.portals] == [("1", "RECONNECT"), (PORTAL, None), ("3", "INTERNAL")]
    assert setup.enqueued == [(PORTAL, "901", "stage:closedwon:invoice")]


def test_portals_left_when_time_runs_out_wait_for_the_next_tick(setup):
    setup.portals = [PORTAL, "2", "3"]
    left = iter([30.0, 5.0])
    report = setup.poller.tick(lambda: next(left), reserve_seconds=10)
    assert [r.portal_id for r in report.portals] == [PORTAL]
    assert report.deferred == 2


# -- the function, over HubSpot's search and the saved settings ------------------------------------------------


def test_the_poller_function_enqueues_what_hubspots_search_finds_for_the_saved_stages(aws_clients):
    clock = FakeClock(START)
    hubspot = simulator(clock)
    installed = install(hubspot)
    portal = str(installed.portal_id)
    with world_on_moto(aws_clients, clock=clock, hubspot_transport=httpx.WSGITransport(app=hubspot),
                       hubspot_client_id=CLIENT_ID, hubspot_client_secret=CLIENT_SECRET) as world:
        world.install(portal, installed.access_token, installed.refresh_token)
        world.container.portal_settings.put(portal, {"trigger_stages": [
            {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "order"}]}, 0)
        won = installed.create("deals", {"dealname": "Acme licence", "dealstage": "closedwon", "amount": "1000"})
        installed.create("deals", {"dealname": "Open deal", "dealstage": "qualifiedtobuy"})
        clock.advance(30)

        first = tick_and_poll(world)
        clock.advance(120)
        second = tick_and_poll(world)

        assert (first["enqueued"], second["enqueued"]) == (1, 0)
        [job] = world.jobs()
        assert (job.portal_id, job.kind, job.trigger, job.object_type, job.object_id) == (
            portal, "create_document", "poller", "deal", won["id"])
        assert (job.document_type, job.trigger_key, job.callback_id) == ("order", "stage:closedwon:order", None)


def tick_and_poll(world: World) -> dict[str, int]:
    """The poller's schedule event, then each poll message it sent (and their continuations) as the poll
    queue's event source gives them to the function; answers the portals dispatched and the jobs enqueued."""
    dispatched = world.invoke("poller", sample_event("poller_schedule.json"))["dispatched"]
    queue_url = world.container.config.poll_queue_url
    enqueued = 0
    while messages := world.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                                 MessageSystemAttributeNames=["All"]).get("Messages", []):
        [message] = messages
        answer = world.invoke("poller", {"Records": [sqs_record(message, "arn:aws:sqs:poll-queue")]})
        assert answer["batchItemFailures"] == []
        enqueued += answer["enqueued"]
        world.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return {"dispatched": dispatched, "enqueued": enqueued}


def test_the_tick_dispatches_only_portals_with_trigger_stages_and_each_polls_its_own(aws_clients):
    clock = FakeClock(START)
    hubspot = simulator(clock)
    with_rules, without_rules = install(hubspot), install(hubspot)
    with world_on_moto(aws_clients, clock=clock, hubspot_transport=httpx.WSGITransport(app=hubspot),
                       hubspot_client_id=CLIENT_ID, hubspot_client_secret=CLIENT_SECRET) as world:
        for installed in (with_rules, without_rules):
            world.install(str(installed.portal_id), installed.access_token, installed.refresh_token)
            installed.create("deals", {"dealname": "Won", "dealstage": "closedwon"})
        world.container.portal_settings.put(str(with_rules.portal_id), {"trigger_stages": [
            {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "invoice"}]}, 0)
        clock.advance(30)

        assert tick_and_poll(world) == {"dispatched": 1, "enqueued": 1}
        assert {job.portal_id for job in world.jobs()} == {str(with_rules.portal_id)}
        cursor = world.container.cursors.get(str(with_rules.portal_id), CURSOR_NAME)
        assert cursor is not None and world.container.cursors.get(str(without_rules.portal_id), CURSOR_NAME) is None
