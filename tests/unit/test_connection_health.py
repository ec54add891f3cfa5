"""Connection health: granted scopes and licences found by probes, cached per portal, on fakes."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from hubnox.errors import ConnectionBrokenError, TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.health import FEATURE_KEYS, ConnectionHealth, check_health
from hubnox.records import FortnoxConnection
from hubnox.services.connection_health import HEALTH_TTL_SECONDS, UNCERTAIN_TTL_SECONDS, ConnectionHealthService

ALL_SCOPES = ("customer", "article", "invoice", "order", "price", "print", "settings", "currency",
              "companyinformation")
NO_LICENCE = FortnoxError(400, 2001101, "Det finns ingen aktiv licens för önskat scope")


class FakeFortnox:
    """Answers each probe as told: nothing (the company may read it) or the error Fortnox would give."""

    def __init__(self, refusals: Mapping[str, Exception] | None = None) -> None:
        self.refusals = dict(refusals or {})
        self.probed: list[str] = []

    def probe(self, path: str, params: Mapping[str, str] | None = None) -> None:
        self.probed.append(path)
        if path in self.refusals:
            raise self.refusals[path]


class FakeHealthStore:
    def __init__(self) -> None:
        self.items: dict[str, ConnectionHealth] = {}

    def get(self, portal_id: str) -> ConnectionHealth | None:
        return self.items.get(portal_id)

    def put(self, portal_id: str, health: ConnectionHealth) -> None:
        self.items[portal_id] = health


class FakeConnections:
    def __init__(self, connection: FortnoxConnection | None) -> None:
        self.connection = connection

    def get_hubspot(self, portal_id: str) -> None:
        return None

    def hubspot_status(self, portal_id: str) -> None:
        return None

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        return self.connection


def connection(scopes: tuple[str, ...] = ALL_SCOPES, **changes: object) -> FortnoxConnection:
    fields: dict[str, object] = {"portal_id": "111", "tenant_id": "1000001", "company_name": "Rosteriet AB",
                                 "auth_mode": "authorization_code", "scopes": scopes, "connected_at": 100.0}
    return FortnoxConnection.model_validate({**fields, **changes})


def check(fortnox: FakeFortnox, scopes: tuple[str, ...] = ALL_SCOPES) -> ConnectionHealth:
    return check_health(fortnox, scopes, tenant_id="1000001", connected_at=100.0, now=200.0)


def test_a_company_with_every_scope_and_licence_is_working():
    health = check(FakeFortnox())

    assert [f.key for f in health.features] == list(FEATURE_KEYS)
    assert health.problems == () and health.warnings() == []
    assert health.to_json()["working"] is True


def test_a_missing_order_licence_is_found_by_the_order_probe_and_says_what_to_do():
    health = check(FakeFortnox({"/3/orders": NO_LICENCE}))

    assert [(p.key, p.state) for p in health.problems] == [("order", "no_licence")]
    assert not health.works("order") and health.works("invoice")
    assert "Orders will not work" in health.warnings()[0]
    assert "Order licence in Fortnox" in health.warnings()[0]


def test_a_scope_fortnox_did_not_grant_is_not_probed():
    fortnox = FakeFortnox()

    health = check(fortnox, tuple(scope for scope in ALL_SCOPES if scope != "order"))

    assert "/3/orders" not in fortnox.probed
    assert [(p.key, p.state) for p in health.problems] == [("order", "no_scope")]
    assert "'order' permission" in health.warnings()[0]


def test_without_granted_scopes_on_record_the_probes_find_a_missing_scope():
    health = check(FakeFortnox({"/3/articles": FortnoxError(403, 2000663, "Har inte behörighet")}), scopes=())

    assert [(p.key, p.state) for p in health.problems] == [("article", "no_scope")]


def test_no_api_licence_fails_every_probed_feature():
    refusal = FortnoxError(400, 2001103, "API-licens saknas")
    health = check(FakeFortnox({path: refusal for path in ("/3/invoices", "/3/orders", "/3/customers",
                                                           "/3/articles", "/3/printtemplates")}))

    assert {p.key for p in health.problems} == {"invoice", "order", "customer", "article", "print"}
    assert all("integration (API) licence" in p.message for p in health.problems)


def test_a_busy_fortnox_leaves_the_feature_unknown_and_counted_as_working():
    health = check(FakeFortnox({"/3/invoices": TransientError("busy", code="RATE_LIMITED")}))

    assert health.problems == ()
    assert [f.key for f in health.unchecked] == ["invoice"] and health.works("invoice")


def test_a_broken_connection_is_not_a_health_answer():
    with pytest.raises(ConnectionBrokenError):
        check(FakeFortnox({"/3/invoices": ConnectionBrokenError("Fortnox", "revoked")}))


def test_health_survives_the_round_trip_through_its_stored_item():
    health = check(FakeFortnox({"/3/orders": NO_LICENCE}))

    assert ConnectionHealth.from_item(health.to_item()) == health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def service(connected: FortnoxConnection | None, fortnox: FakeFortnox, clock: Clock,
            store: FakeHealthStore | None = None) -> ConnectionHealthService:
    return ConnectionHealthService(connections=FakeConnections(connected), store=store or FakeHealthStore(),
                                   fortnox=lambda portal_id: fortnox, clock=clock)


def test_the_service_checks_once_per_five_minutes_per_portal():
    fortnox, clock = FakeFortnox({"/3/orders": NO_LICENCE}), Clock()
    health = service(connection(), fortnox, clock)

    first = health.for_portal("111")
    probes = len(fortnox.probed)
    clock.now += HEALTH_TTL_SECONDS - 1
    again = health.for_portal("111")
    clock.now += 2
    later = health.for_portal("111")

    assert first == again and first is not None and first.problems[0].key == "order"
    assert probes == 5 and len(fortnox.probed) == 10
    assert later is not None and later.checked_at == clock.now


def test_an_uncertain_check_is_repeated_sooner():
    fortnox, clock = FakeFortnox({"/3/orders": TransientError("busy", code="RATE_LIMITED")}), Clock()
    health = service(connection(), fortnox, clock)

    health.for_portal("111")
    clock.now += UNCERTAIN_TTL_SECONDS + 1
    health.for_portal("111")

    assert len(fortnox.probed) == 10


def test_a_check_made_for_an_earlier_connection_is_not_shown():
    fortnox, clock, store = FakeFortnox({"/3/orders": NO_LICENCE}), Clock(), FakeHealthStore()
    service(connection(), fortnox, clock, store).for_portal("111")
    fortnox.refusals.clear()

    reconnected = service(connection(connected_at=900.0), fortnox, clock, store).for_portal("111")

    assert reconnected is not None and reconnected.problems == ()


def test_no_health_without_an_active_connection_or_when_the_check_cannot_run():
    clock = Clock()

    assert service(None, FakeFortnox(), clock).for_portal("111") is None
    assert service(connection(status="broken"), FakeFortnox(), clock).for_portal("111") is None
    broken = FakeFortnox({"/3/invoices": ConnectionBrokenError("Fortnox", "revoked")})
    assert service(connection(), broken, clock).for_portal("111") is None
