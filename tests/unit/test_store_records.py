"""Settings, runs, deal links and cursors: the records a portal accumulates."""

from __future__ import annotations

import pytest

from hubnox.errors import NotFoundError
from hubnox.records import RunRequest
from hubnox.store.cursors import CursorStore
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.portal_settings import SettingsStore, StaleVersion
from hubnox.store.runs import RUN_RETENTION_SECONDS, RunStore, new_run_id
from hubnox.store.table import ConditionFailed, run_key
from tests.support.clock import FakeClock

TABLE = "hubnox-test"
REGION = "eu-north-1"
PORTAL = "102670506"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runs(table, clock) -> RunStore:
    return RunStore(table, clock)


# --- settings -------------------------------------------------------------------------------------

PAYLOAD = {
    "document_type": "invoice",
    "trigger_stages": ["closedwon", "contractsent"],
    "default_vat_percent": 25,
    "rounding": 0.01,
    "articles": {"policy": "create", "fallback": None},
}


def test_settings_start_empty_at_version_zero(table):
    assert SettingsStore(table).get(PORTAL) == (None, 0)


def test_saved_settings_read_back_with_their_version(table):
    settings = SettingsStore(table)

    assert settings.put(PORTAL, PAYLOAD, expected_version=0) == 1
    assert settings.get(PORTAL) == (PAYLOAD, 1)
    assert settings.put(PORTAL, {**PAYLOAD, "document_type": "order"}, expected_version=1) == 2
    assert settings.get(PORTAL) == ({**PAYLOAD, "document_type": "order"}, 2)


def test_a_save_over_a_newer_version_is_refused_naming_both(table):
    settings = SettingsStore(table)
    settings.put(PORTAL, PAYLOAD, expected_version=0)
    settings.put(PORTAL, {**PAYLOAD, "document_type": "order"}, expected_version=1)

    with pytest.raises(StaleVersion) as failure:
        settings.put(PORTAL, {**PAYLOAD, "rounding": 1}, expected_version=1)

    assert (failure.value.expected, failure.value.actual) == (1, 2)
    assert "version 2" in failure.value.message and "version 1" in failure.value.message
    assert settings.get(PORTAL)[0]["document_type"] == "order"


def test_two_first_saves_cannot_both_win(table):
    settings = SettingsStore(table)
    settings.put(PORTAL, PAYLOAD, expected_version=0)

    with pytest.raises(StaleVersion) as failure:
        settings.put(PORTAL, {"document_type": "order"}, expected_version=0)

    assert (failure.value.expected, failure.value.actual) == (0, 1)


def test_a_save_at_a_version_that_never_existed_is_refused(table):
    with pytest.raises(StaleVersion) as failure:
        SettingsStore(table).put(PORTAL, PAYLOAD, expected_version=3)

    assert (failure.value.expected, failure.value.actual) == (3, 0)


# --- runs -----------------------------------------------------------------------------------------


def test_run_ids_sort_by_creation_time():
    times = [1_800_000_000.0 + step * 0.001 for step in range(200)]

    ids = [new_run_id(t) for t in times]

    assert ids == sorted(ids)
    assert all(len(run_id) == 26 for run_id in ids)
    assert len(set(ids)) == len(ids)
    assert new_run_id(times[0]) != new_run_id(times[0])  # random part


def test_a_new_run_is_queued_and_expires_after_ninety_days(table, runs, clock):
    run = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                                 object_id="9001", document_type="invoice", callback_id="ap-1-2-3"))

    assert run.status == "queued"
    assert run.attempts == 0
    assert run.created_at == clock.now
    assert runs.get(PORTAL, run.run_id) == run
    assert table.get(run_key(PORTAL, run.run_id))["expires_at"] == clock.now + RUN_RETENTION_SECONDS


def test_a_run_goes_through_a_failed_attempt_to_success(runs, clock):
    run = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="poller", object_type="deal",
                                 object_id="9001"))

    clock.now += 1
    first = runs.mark_running(PORTAL, run.run_id)
    failed = runs.fail(PORTAL, run.run_id, "TRANSIENT", "Fortnox answered 503")
    clock.now += 60
    second = runs.mark_running(PORTAL, run.run_id)
    clock.now += 2
    done = runs.succeed(PORTAL, run.run_id, {"document_number": "1042", "total": 1250.5})

    assert (first.status, first.attempts, first.started_at) == ("running", 1, 1_800_000_001)
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "TRANSIENT",
        "Fortnox answered 503",
    )
    assert (second.status, second.attempts, second.error_code, second.finished_at) == (
        "running",
        2,
        None,
        None,
    )
    assert (done.status, done.attempts, done.finished_at) == ("succeeded", 2, 1_800_000_063)
    assert done.result == {"document_number": "1042", "total": 1250.5}
    assert runs.get(PORTAL, run.run_id) == done


def test_a_succeeded_run_is_neither_restarted_nor_failed(runs):
    run = runs.create(RunRequest(portal_id=PORTAL, kind="sync_customer", trigger="card", object_type="company",
                                 object_id="77"))
    runs.mark_running(PORTAL, run.run_id)
    runs.succeed(PORTAL, run.run_id, {"customer_number": "12"})

    again = runs.mark_running(PORTAL, run.run_id)
    late_failure = runs.fail(PORTAL, run.run_id, "TRANSIENT", "late duplicate delivery")

    assert (again.status, again.attempts) == ("succeeded", 1)
    assert (late_failure.status, late_failure.error_code) == ("succeeded", None)


def test_progress_on_a_missing_run_is_an_error(runs):
    with pytest.raises(NotFoundError):
        runs.mark_running(PORTAL, "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    with pytest.raises(NotFoundError):
        runs.succeed(PORTAL, "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert runs.get(PORTAL, "01JZZZZZZZZZZZZZZZZZZZZZZZ") is None


def test_recent_runs_list_newest_first_and_only_this_portals(runs, clock):
    created = []
    for index in range(7):
        clock.now += 1
        created.append(
            runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="poller", object_type="deal",
                                   object_id=str(index)))
        )
    runs.create(RunRequest(portal_id="other-portal", kind="sync_products", trigger="settings"))

    recent = runs.list_recent(PORTAL, limit=5)

    assert [run.run_id for run in recent] == [run.run_id for run in reversed(created)][:5]
    assert len(runs.list_recent(PORTAL, limit=50)) == 7


def test_the_latest_run_for_an_object_is_found_among_many(runs, clock):
    first = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                                   object_id="9001"))
    clock.now += 1
    runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                           object_id="9002"))
    clock.now += 1
    replay = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="replay", object_type="deal",
                                    object_id="9001"), replay_of=first.run_id)
    clock.now += 1
    runs.create(RunRequest(portal_id=PORTAL, kind="sync_customer", trigger="card", object_type="company",
                           object_id="9001"))

    latest = runs.latest_for_object(PORTAL, "deal", "9001")

    assert latest.run_id == replay.run_id
    assert latest.replay_of == first.run_id
    assert runs.latest_for_object(PORTAL, "deal", "404") is None


def test_a_run_from_a_lagging_clock_does_not_hide_the_newer_one(table, runs, clock):
    newer = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                                   object_id="9001"))
    clock.now -= 0.5  # another Lambda's clock, a little behind

    runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="poller", object_type="deal",
                           object_id="9001"))

    assert runs.latest_for_object(PORTAL, "deal", "9001").run_id == newer.run_id


# --- deal links -----------------------------------------------------------------------------------


def test_the_first_claim_wins_and_later_claims_get_it_back(table, clock):
    links = DealLinkStore(table, clock)

    won = links.claim(PORTAL, "9001", "closedwon", "run-a")
    lost = links.claim(PORTAL, "9001", "closedwon", "run-b")
    other_trigger = links.claim(PORTAL, "9001", "contractsent", "run-b")

    assert won.claimed_by("run-a") and won.claimed_at == clock.now
    assert lost == won and not lost.claimed_by("run-b")
    assert other_trigger.claimed_by("run-b")


def test_a_claimed_deal_records_its_document_once(table, clock):
    links = DealLinkStore(table, clock)
    links.claim(PORTAL, "9001", "closedwon", "run-a")

    clock.now += 5
    recorded = links.set_document(PORTAL, "9001", "closedwon", "invoice", "1042")
    again = links.set_document(PORTAL, "9001", "closedwon", "invoice", "1042")

    assert (recorded.document_type, recorded.document_number, recorded.documented_at) == (
        "invoice",
        "1042",
        clock.now,
    )
    assert again.document_number == "1042"
    assert links.get(PORTAL, "9001", "closedwon") == again
    with pytest.raises(ConditionFailed, match="already has invoice 1042"):
        links.set_document(PORTAL, "9001", "closedwon", "invoice", "1043")
    assert links.get(PORTAL, "9001", "closedwon").document_number == "1042"


def test_a_document_cannot_be_recorded_without_a_claim(table, clock):
    links = DealLinkStore(table, clock)

    with pytest.raises(NotFoundError):
        links.set_document(PORTAL, "9001", "closedwon", "order", "7")
    assert links.get(PORTAL, "9001", "closedwon") is None


# --- cursors --------------------------------------------------------------------------------------


def test_a_cursor_is_absent_until_put_and_then_replaced(table):
    cursors = CursorStore(table)

    assert cursors.get(PORTAL, "deals") is None
    cursors.put(PORTAL, "deals", "2026-03-01T10:00:00Z")
    cursors.put(PORTAL, "deals", "2026-03-01T10:02:00Z")
    cursors.put("other-portal", "deals", "elsewhere")

    assert cursors.get(PORTAL, "deals") == "2026-03-01T10:02:00Z"
    assert cursors.get(PORTAL, "companies") is None
