"""The in-memory fakes keep their stores' promises: each story runs on the fake and on the DynamoDB store
(on moto), so a service test on a fake says what the service does on the real thing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from hubnox.errors import BadRequestError, NotFoundError
from hubnox.hubspot.models import CrmObject
from hubnox.records import FortnoxConnection, HubSpotConnection, RunFilter, RunRequest
from hubnox.store.connections import ConnectionStore, FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.store.crypto import TokenCipher
from hubnox.store.cursors import CursorStore
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.portal_settings import SettingsStore
from hubnox.store.runs import RunStore
from hubnox.store.table import ConditionFailed, StaleVersion, Table, create_table
from tests.support import fakes
from tests.support.aws import TABLE
from tests.support.clock import FakeClock

PORTAL, OTHER_PORTAL = "4242", "5353"
REQUEST = RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                     object_id="904", trigger_key="workflow:invoice")

Stores = dict[str, Callable[[], Any]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request, aws_clients, clock) -> Iterator[Stores]:
    """Makers of the fakes, or of the DynamoDB stores on moto, by name, on the one fake clock."""
    if request.param == "fake":
        yield {"runs": lambda: fakes.Runs(clock), "deal_links": lambda: fakes.DealLinks(clock),
               "nonces": lambda: fakes.Nonces(clock), "leases": lambda: fakes.Leases(clock),
               "cursors": fakes.Cursors, "settings": fakes.Settings, "connections": fakes.Connections,
               }
        return
    dynamodb, kms = aws_clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        table = Table(dynamodb, TABLE)
        key_id = kms.create_key(Description="hubnox tokens")["KeyMetadata"]["KeyId"]
        yield {"runs": lambda: RunStore(table, clock), "deal_links": lambda: DealLinkStore(table, clock),
               "nonces": lambda: NonceStore(table, clock), "leases": lambda: LeaseStore(table, clock),
               "cursors": lambda: CursorStore(table), "settings": lambda: SettingsStore(table),
               "connections": lambda: ConnectionStore(table, TokenCipher(kms, key_id))}


def build(stores: Stores, name: str) -> Any:
    return stores[name]()


def test_runs_point_to_each_objects_newest_run_and_a_succeeded_run_stays_succeeded(stores, clock):
    runs = build(stores, "runs")
    first = runs.create(REQUEST)
    clock.advance(1)
    second = runs.create(REQUEST)

    assert runs.latest_for_object(PORTAL, "deal", "904").run_id == second.run_id
    assert runs.mark_running(PORTAL, first.run_id).attempts == 1
    runs.succeed(PORTAL, first.run_id, {"document_number": "55"})
    assert runs.fail(PORTAL, first.run_id, "LATE", "too late").status == "succeeded"
    assert runs.mark_running(PORTAL, first.run_id).attempts == 1
    failed = runs.fail(PORTAL, second.run_id, "NO_LINE_ITEMS", "none")
    assert (failed.status, failed.error_code, failed.finished_at) == ("failed", "NO_LINE_ITEMS", clock.now)
    with pytest.raises(NotFoundError):
        runs.fail(PORTAL, "01UNKNOWN", "X", "x")


def test_a_run_whose_outcome_is_being_told_is_not_run_again_until_it_has_been_told(stores):
    runs = build(stores, "runs")
    run = runs.create(REQUEST)
    runs.mark_running(PORTAL, run.run_id)

    failed = runs.fail(PORTAL, run.run_id, "X", "x", None, {"note": None})
    assert (failed.delivery, failed.final) == ("pending", False)
    assert runs.mark_running(PORTAL, run.run_id).attempts == 1  # a redelivered job only tells it
    told = runs.record_delivery(PORTAL, run.run_id, {"told:callback": "done"}, "delivered")
    assert (told.final, told.progress) == (True, {"told:callback": "done"})
    again = runs.mark_running(PORTAL, run.run_id)  # a told failure is not run again: Replay makes a new run
    assert (again.attempts, again.status, again.delivery) == (1, "failed", "delivered")


def test_the_sync_log_search_finds_pages_and_refuses_the_same_runs_and_cursors(stores, clock):
    runs = build(stores, "runs")
    made = []
    for n in range(7):
        clock.advance(60)
        run = runs.create(REQUEST.model_copy(update={"object_id": str(900 + n % 2),
                                                     "trigger": "card" if n % 3 else "workflow"}))
        runs.mark_running(PORTAL, run.run_id)
        if n % 2:
            runs.fail(PORTAL, run.run_id, "X", "x", {"record_name": f"Ölprovning {n}"})
        else:
            runs.succeed(PORTAL, run.run_id, {"record_name": f"Ölprovning {n}", "document_type": "invoice",
                                              "document_number": str(70 + n), "customer_name": "Kund AB"})
        made.append(run.run_id)
    runs.create(REQUEST.model_copy(update={"portal_id": OTHER_PORTAL}))

    def ids(page: Any) -> list[str]:
        return [run.run_id for run in page.runs]

    newest = list(reversed(made))
    first = runs.search(PORTAL, RunFilter(), limit=4)
    assert ids(first) == newest[:4] and first.next_cursor
    rest = runs.search(PORTAL, RunFilter(), limit=4, cursor=first.next_cursor)
    assert ids(rest) == newest[4:] and rest.next_cursor is None
    assert ids(runs.search(PORTAL, RunFilter(status="failed"))) == [made[5], made[3], made[1]]
    assert ids(runs.search(PORTAL, RunFilter(trigger="workflow"))) == [made[6], made[3], made[0]]
    assert ids(runs.search(PORTAL, RunFilter(text="74"))) == [made[4]]
    assert ids(runs.search(PORTAL, RunFilter(text="901", status="failed"))) == [made[5], made[3], made[1]]
    named = runs.search(PORTAL, RunFilter(text="olprovning"), limit=3)
    assert ids(named) == made[:3]
    assert ids(runs.search(PORTAL, RunFilter(text="olprovning"), cursor=named.next_cursor)) == made[3:]
    assert ids(runs.search(PORTAL, RunFilter(created_from=clock.now - 60))) == [made[6], made[5]]
    assert runs.get(PORTAL, made[0]).customer_name == "Kund AB"
    # runs 1 (deal 901) failed, and no later run of deal 901 succeeded; deal 900's failures none: nothing superseded
    assert all(runs.get(PORTAL, run_id).superseded_by is None for run_id in made)
    with pytest.raises(BadRequestError):
        runs.search(OTHER_PORTAL, RunFilter(), cursor=first.next_cursor)
    with pytest.raises(BadRequestError):
        runs.search(PORTAL, RunFilter(text="olprovning"), cursor=first.next_cursor)


def test_a_deals_document_supersedes_its_earlier_failures(stores, clock):
    runs = build(stores, "runs")
    failed = runs.create(REQUEST)
    runs.mark_running(PORTAL, failed.run_id)
    runs.fail(PORTAL, failed.run_id, "X", "x")
    clock.advance(1)
    made = runs.create(REQUEST)
    runs.mark_running(PORTAL, made.run_id)
    done = runs.succeed(PORTAL, made.run_id, {"document_number": "55"})

    stored = runs.get(PORTAL, failed.run_id)
    assert stored.superseded_by == made.run_id
    assert [entry["event"] for entry in stored.history] == ["started", "failed"]
    assert [entry["event"] for entry in done.history] == ["started", "succeeded"]


def test_the_first_claim_of_a_deal_wins_and_it_records_one_document(stores):
    links = build(stores, "deal_links")
    with pytest.raises(NotFoundError):
        links.set_document(PORTAL, "904", "workflow:invoice", "invoice", "55")

    assert links.claim(PORTAL, "904", "workflow:invoice", "run-a").claimed_by("run-a")
    assert links.claim(PORTAL, "904", "workflow:invoice", "run-b").claimed_by("run-a")
    links.set_document(PORTAL, "904", "workflow:invoice", "invoice", "55")
    assert links.set_document(PORTAL, "904", "workflow:invoice", "invoice", "55").document_number == "55"
    with pytest.raises(ConditionFailed):
        links.set_document(PORTAL, "904", "workflow:invoice", "invoice", "56")
    assert links.forget_document(PORTAL, "904", "workflow:invoice", "56") is False
    assert links.forget_document(PORTAL, "904", "workflow:invoice", "55") is True
    assert links.get(PORTAL, "904", "workflow:invoice").document_number is None


def test_a_nonce_is_claimed_once_until_it_expires_or_is_given_back(stores, clock):
    nonces = build(stores, "nonces")
    assert nonces.claim("poll", "a", 60) is True
    assert nonces.claim("poll", "a", 60) is False
    assert nonces.claim("login", "a", 60) is True
    clock.advance(61)
    assert nonces.claim("poll", "a", 60) is True
    nonces.release("poll", "a")
    assert nonces.claim("poll", "a", 60) is True
    with pytest.raises(ValueError):
        nonces.claim("poll", "", 60)


def test_a_lease_is_held_by_one_owner_until_released_or_run_out(stores, clock):
    leases = build(stores, "leases")
    assert leases.acquire("refresh", "a", 30) is True
    assert leases.acquire("refresh", "b", 30) is False
    assert leases.acquire("refresh", "a", 30) is True  # a renewal
    assert leases.release("refresh", "b") is False
    clock.advance(31)
    assert leases.acquire("refresh", "b", 30) is True
    assert leases.release("refresh", "b") is True
    assert leases.acquire("refresh", "a", 30) is True


def test_a_cursor_is_none_until_put_and_then_the_last_value(stores):
    cursors = build(stores, "cursors")
    assert cursors.get(PORTAL, "deal-stages") is None
    cursors.put(PORTAL, "deal-stages", "1")
    cursors.put(PORTAL, "deal-stages", "2")
    assert (cursors.get(PORTAL, "deal-stages"), cursors.get(OTHER_PORTAL, "deal-stages")) == ("2", None)


def test_settings_are_saved_over_the_version_they_were_read_at(stores):
    settings = build(stores, "settings")
    assert settings.get(PORTAL) == (None, 0)
    assert settings.put(PORTAL, {"default_document_type": "order"}, 0) == 1
    with pytest.raises(StaleVersion):
        settings.put(PORTAL, {"default_document_type": "invoice"}, 0)
    assert settings.get(PORTAL) == ({"default_document_type": "order"}, 1)


def hubspot(portal: str) -> HubSpotConnection:
    return HubSpotConnection(portal_id=portal, access_token="hs", refresh_token="hs-r", installed_at=0)


def fortnox(portal: str, tenant: str) -> FortnoxConnection:
    return FortnoxConnection(portal_id=portal, tenant_id=tenant, auth_mode="authorization_code",
                             access_token="fx", refresh_token="fx-r", connected_at=0)


def test_a_fortnox_company_serves_one_portal_and_a_portal_one_company(stores):
    connections = build(stores, "connections")
    assert connections.put_fortnox(fortnox(PORTAL, "7001")).version == 1
    assert connections.put_fortnox(fortnox(PORTAL, "7001")).version == 2  # a reconnect
    with pytest.raises(FortnoxAlreadyConnected):
        connections.put_fortnox(fortnox(PORTAL, "7002"))
    with pytest.raises(FortnoxCompanyTaken):
        connections.put_fortnox(fortnox(OTHER_PORTAL, "7001"))

    assert connections.delete_fortnox(PORTAL).tenant_id == "7001"
    assert connections.delete_fortnox(PORTAL) is None
    assert connections.put_fortnox(fortnox(OTHER_PORTAL, "7001")).portal_id == OTHER_PORTAL


def test_an_uninstalled_portal_leaves_the_registry_and_keeps_fortnox(stores):
    connections = build(stores, "connections")
    connections.put_hubspot(hubspot(PORTAL))
    connections.put_fortnox(fortnox(PORTAL, "7001"))
    assert (connections.list_portals(), connections.hubspot_status(PORTAL)) == ([PORTAL], "active")

    assert connections.mark_uninstalled(PORTAL) is True
    assert connections.mark_uninstalled(OTHER_PORTAL) is False
    assert connections.list_portals() == []
    stored = connections.get_hubspot(PORTAL)
    assert (stored.status, stored.access_token.get_secret_value()) == ("uninstalled", "")
    assert connections.mark_broken(PORTAL, "hubspot", "gone") is False
    assert connections.get_fortnox(PORTAL).tenant_id == "7001"


def test_an_uninstall_is_dated_once_listed_for_the_purge_and_undone_by_a_reinstall(stores):
    connections = build(stores, "connections")
    connections.put_hubspot(hubspot(PORTAL))

    assert connections.mark_uninstalled(PORTAL, at=100.0, reason="app_uninstall") is True
    assert connections.mark_uninstalled(PORTAL, at=200.0, reason="refused token") is False
    stored = connections.get_hubspot(PORTAL)
    assert (stored.uninstalled_at, stored.uninstall_reason) == (100.0, "app_uninstall")
    assert connections.uninstalled_portals() == {PORTAL: 100.0}

    connections.put_hubspot(hubspot(PORTAL))
    again = connections.get_hubspot(PORTAL)
    assert (again.status, again.uninstalled_at, again.uninstall_reason) == ("active", None, None)
    assert connections.uninstalled_portals() == {}
    assert connections.list_portals() == [PORTAL]


def test_the_fake_hubspot_searches_sorts_and_keeps_its_writes():
    crm = fakes.HubSpot()
    crm.put("0-3", "1", dealstage="won", hs_lastmodifieddate=fakes.iso(2000))
    crm.put("0-3", "2", dealstage="won", hs_lastmodifieddate=fakes.iso(1000))
    crm.put("0-3", "3", dealstage="lost", hs_lastmodifieddate=fakes.iso(3000))
    filters = [{"propertyName": "dealstage", "operator": "IN", "values": ["won"]},
               {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1000"}]

    found = crm.iter_search("0-3", [{"filters": filters}], ["dealstage"],
                            [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}])

    assert [deal.id for deal in found] == ["2", "1"]
    crm.update("0-3", "1", {"fortnox_document_number": "55"})
    assert crm.get_object("0-3", "1", model=CrmObject).prop("fortnox_document_number") == "55"
    with pytest.raises(NotFoundError):
        crm.get_object("0-3", "9")
    assert crm.writes[0][:3] == ("update", "0-3", "1")
