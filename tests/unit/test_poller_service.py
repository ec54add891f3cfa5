"""The poller on fakes: a deal that enters a trigger stage is submitted once per stage rule, whatever the
overlapping search windows, ticks, failed enqueues and hubnox's own write-backs; the cursor moves to the
newest change seen, and only after the jobs are sent."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from hubnox.errors import ConnectionBrokenError
from hubnox.hubspot import paths
from hubnox.jobs import submit
from hubnox.records import Run, RunRequest
from hubnox.sync.poller import (
    CLAIM_KIND,
    CURSOR_NAME,
    FIRST_LOOKBACK_MS,
    OVERLAP_MS,
    SETTLE_SECONDS,
    Poller,
    StageRule,
)
from hubnox.sync.triggers import TriggerDecider
from tests.support.clock import FakeClock
from tests.support.fakes import Cursors, DealLinks, HubSpot, Leases, Nonces, Queue, Runs, TriggerLog, iso

PORTAL = "4242"
OTHER_PORTAL = "5353"
INVOICE_ON_WON = StageRule("closedwon", "invoice", "default")
ORDER_ON_CONTRACT = StageRule("contractsent", "order", "default")


class World:
    """The poller over fake stores, a fake HubSpot per portal and the jobs queue, submitting as hubnox does."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runs = Runs(self.clock)
        self.queue = Queue()
        self.cursors = Cursors()
        self.nonces = Nonces(self.clock)
        self.deal_links = DealLinks(self.clock)
        self.portals = [PORTAL]
        self.rules: dict[str, list[StageRule]] = {PORTAL: [INVOICE_ON_WON, ORDER_ON_CONTRACT]}
        self.hubspots: dict[str, HubSpot] = {PORTAL: HubSpot(), OTHER_PORTAL: HubSpot()}
        self.submit = partial(submit, self.runs, self.queue)
        self.trigger_log = TriggerLog()
        self.poller = Poller(portals=lambda: self.portals, rules_for=lambda portal: self.rules.get(portal, []),
                             search_for=lambda portal: self.hubspots[portal], cursors=self.cursors,
                             decider=self.decider, clock=self.clock)

    @property
    def decider(self) -> TriggerDecider:
        return TriggerDecider(deal_links=self.deal_links, runs=self.runs, claims=self.nonces,
                              leases=Leases(self.clock), enqueue=self.enqueue, log=self.trigger_log,
                              clock=self.clock)

    def enqueue(self, portal_id: str, deal_id: str, rule: StageRule, source: str = "poller") -> Run:
        return self.submit(RunRequest(portal_id=portal_id, kind="create_document", trigger="poller",
                                      object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                      trigger_key=rule.trigger_key))

    def moved(self, deal_id: str, stage: str = "closedwon", ago_seconds: float = 30, *, portal: str = PORTAL,
              pipeline: str = "default") -> int:
        """A rep moves the deal to `stage`, `ago_seconds` before now; answers its hs_lastmodifieddate in ms."""
        modified_ms = self.clock.ms - int(ago_seconds * 1000)
        self.hubspots[portal].put(paths.DEALS, deal_id, dealstage=stage, pipeline=pipeline,
                                  hs_lastmodifieddate=iso(modified_ms))
        return modified_ms

    def submitted(self) -> list[tuple[str, str, str | None]]:
        return [(job.portal_id, job.object_id or "", job.trigger_key) for job in self.queue.jobs]

    def cursor(self, portal: str = PORTAL) -> int | None:
        stored = self.cursors.get(portal, CURSOR_NAME)
        return int(stored) if stored else None

    def last_search(self, portal: str = PORTAL) -> dict[str, Any]:
        return self.hubspots[portal].searches[-1]


@pytest.fixture
def world() -> World:
    return World()


def since_ms(search: dict[str, Any]) -> int:
    [group] = search["filter_groups"]
    return int(next(f["value"] for f in group["filters"] if f["propertyName"] == "hs_lastmodifieddate"))


# -- what gets submitted -------------------------------------------------------------------------------


def test_a_deal_entering_a_trigger_stage_submits_one_job_with_its_rules_trigger_key(world):
    world.moved("904", "closedwon")

    report = world.poller.tick()

    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]
    [job] = world.queue.jobs
    [run] = world.runs.list_recent(PORTAL)
    assert (job.run_id, run.trigger, run.document_type) == (run.run_id, "poller", "invoice")
    assert report.enqueued == 1 and report.portals[0].enqueued == [run.run_id]


def test_a_deal_in_a_stage_with_no_rule_is_not_submitted(world):
    world.moved("904", "appointmentscheduled")
    world.poller.tick()
    assert world.submitted() == []


def test_each_stage_rule_submits_its_own_document_type(world):
    world.rules[PORTAL].append(StageRule("closedwon", "order", "default"))
    world.moved("904", "closedwon")
    world.moved("905", "contractsent")

    world.poller.tick()

    assert sorted(world.submitted()) == [(PORTAL, "904", "stage:closedwon:invoice"),
                                         (PORTAL, "904", "stage:closedwon:order"),
                                         (PORTAL, "905", "stage:contractsent:order")]


def test_a_deal_seen_by_two_overlapping_ticks_is_submitted_once(world):
    world.moved("904")
    world.poller.tick()
    world.clock.advance(60)

    second = world.poller.tick()

    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]
    assert second.portals[0].found == 1 and second.portals[0].enqueued == []


def test_a_deal_version_already_claimed_by_an_overlapping_tick_is_not_submitted_again(world):
    modified_ms = world.moved("904")
    world.nonces.claim(CLAIM_KIND, f"{PORTAL}:904:stage:closedwon:invoice:{modified_ms}", 3600)

    report = world.poller.tick()

    assert world.submitted() == []
    assert report.portals[0].skipped == {"already enqueued": 1}


def test_a_deal_in_another_pipeline_with_the_same_stage_id_is_skipped(world):
    world.moved("904", pipeline="enterprise")
    report = world.poller.tick()
    assert world.submitted() == []
    assert report.portals[0].skipped == {"other pipeline": 1}


# -- what keeps a deal out -----------------------------------------------------------------------------


def test_a_deal_whose_link_records_its_document_is_not_submitted_again_when_it_changes(world):
    world.deal_links.claim(PORTAL, "904", INVOICE_ON_WON.trigger_key, "01RUN")
    world.deal_links.set_document(PORTAL, "904", INVOICE_ON_WON.trigger_key, "invoice", "55")
    world.moved("904")

    report = world.poller.tick()

    assert world.submitted() == []
    assert report.portals[0].skipped == {"has its document": 1}


@pytest.mark.parametrize(("status", "reason"), [("queued", "run in progress"), ("running", "run in progress"),
                                                ("succeeded", "has its document")])
def test_a_deal_whose_newest_run_for_the_rule_is_in_hand_or_done_is_left_alone(world, status, reason):
    run = world.enqueue(PORTAL, "904", INVOICE_ON_WON)
    if status == "running":
        world.runs.mark_running(PORTAL, run.run_id)
    if status == "succeeded":
        world.runs.succeed(PORTAL, run.run_id)
    world.queue.jobs.clear()
    world.moved("904", ago_seconds=1)

    report = world.poller.tick()

    assert world.submitted() == []
    assert report.portals[0].skipped == {reason: 1}


def test_a_newest_run_for_another_rule_does_not_keep_the_deal_out(world):
    world.enqueue(PORTAL, "904", ORDER_ON_CONTRACT)
    world.queue.jobs.clear()
    world.moved("904")

    world.poller.tick()

    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]


def test_a_failed_deal_is_not_retriggered_by_hubnoxs_write_back_but_is_by_a_later_change(world):
    world.moved("904", ago_seconds=300)
    world.poller.tick()
    [run] = world.runs.list_recent(PORTAL)
    world.runs.fail(PORTAL, run.run_id, "NO_LINE_ITEMS", "The deal has no line items.")
    world.queue.jobs.clear()

    world.moved("904", ago_seconds=-(SETTLE_SECONDS - 10))  # hubnox's own note and properties land
    world.clock.advance(SETTLE_SECONDS)
    world.poller.tick()
    assert world.submitted() == []

    world.clock.advance(600)
    world.moved("904", ago_seconds=1)  # a person fixes the deal
    world.poller.tick()
    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]


# -- the cursor ----------------------------------------------------------------------------------------


def test_a_portal_without_trigger_stages_is_not_searched_and_gets_no_cursor(world):
    world.rules[PORTAL] = []
    world.moved("904")

    world.poller.tick()

    assert world.hubspots[PORTAL].searches == []
    assert world.cursor() is None


def test_the_first_search_looks_back_a_little_from_now_for_the_trigger_stages_oldest_change_first(world):
    world.poller.tick()

    search = world.last_search()
    assert since_ms(search) == world.clock.ms - FIRST_LOOKBACK_MS - OVERLAP_MS
    assert search["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    [group] = search["filter_groups"]
    assert {"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "contractsent"]} in group["filters"]
    assert world.cursor() == world.clock.ms - FIRST_LOOKBACK_MS


def test_the_cursor_advances_to_the_newest_change_seen_and_the_next_search_starts_before_it(world):
    world.moved("904", ago_seconds=120)
    newest = world.moved("905", "contractsent", ago_seconds=20)

    report = world.poller.tick()
    assert world.cursor() == newest == report.portals[0].cursor

    world.clock.advance(120)
    world.poller.tick()
    assert since_ms(world.last_search()) == newest - OVERLAP_MS


def test_a_deal_older_than_the_cursors_window_is_not_found_again(world):
    world.moved("904", ago_seconds=60)
    world.poller.tick()
    world.clock.advance(3600)
    world.moved("905", ago_seconds=10)

    world.poller.tick()

    assert [deal for _, deal, _ in world.submitted()] == ["904", "905"]
    assert world.poller.tick().portals[0].found == 1  # only 905 is still inside the window


def test_when_submitting_fails_the_cursor_stays_and_the_deals_claim_is_given_back(world):
    world.poller.tick()
    before = world.cursor()
    world.moved("904")
    world.queue.down = ConnectionError("queue unreachable")

    failed = world.poller.tick()

    assert failed.portals[0].error == "INTERNAL"
    assert world.cursor() == before
    assert world.nonces.of_kind(CLAIM_KIND) == []


def test_after_a_queue_outage_the_next_tick_sends_the_deal(world):
    world.moved("904")
    world.queue.down = ConnectionError("queue unreachable")
    world.poller.tick()

    world.queue.down = None
    world.clock.advance(120)
    world.poller.tick()

    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]


# -- many portals --------------------------------------------------------------------------------------


def test_a_portal_that_fails_does_not_stop_the_others(world):
    world.portals = [OTHER_PORTAL, PORTAL]
    world.rules[OTHER_PORTAL] = [INVOICE_ON_WON]
    world.hubspots[OTHER_PORTAL].failure = ConnectionBrokenError("HubSpot", "refresh token revoked")
    world.moved("904")

    report = world.poller.tick()

    assert [(p.portal_id, p.error) for p in report.portals] == [(OTHER_PORTAL, "RECONNECT"), (PORTAL, None)]
    assert report.failed == 1
    assert world.submitted() == [(PORTAL, "904", "stage:closedwon:invoice")]


def test_portals_left_when_time_runs_out_wait_for_the_next_tick(world):
    world.portals = [PORTAL, OTHER_PORTAL]
    world.rules[OTHER_PORTAL] = [INVOICE_ON_WON]
    world.moved("904")
    world.moved("77", portal=OTHER_PORTAL)
    time_left = iter([60.0, 5.0])

    report = world.poller.tick(time_left=lambda: next(time_left), reserve_seconds=10)

    assert [p.portal_id for p in report.portals] == [PORTAL]
    assert report.deferred == 1
    assert world.cursor(OTHER_PORTAL) is None

    world.poller.tick()
    assert world.submitted()[-1] == (OTHER_PORTAL, "77", "stage:closedwon:invoice")
