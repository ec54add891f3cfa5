"""The HubSpot client's tax-rate library and owners calls, against the HubSpot simulator: the
2026-03 paths, every page of the library, exact percentages, archived owners, and a missing
optional scope told apart from a broken connection."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from hubnox.api_http import RetryPolicy, build_http_client
from hubnox.errors import ConnectionBrokenError, NotFoundError
from hubnox.hubspot import paths
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.errors import MissingScopesError
from hubnox.hubspot.models import Owner
from hubnox.rate_budget import LocalRateBudget
from sandbox.hubspot import HubSpotSimulator
from tests.sandbox.test_hubspot_support import FakeClock, Installed, install, simulator
from tests.support import hubspot_reference

API = "http://hubspot.test"


class Tokens:
    def __init__(self, token: str) -> None:
        self.access_token = token

    def token(self) -> str:
        return self.access_token

    def invalidate(self, token: str) -> None:
        pass


def client_for(app: Installed, transport: httpx.BaseTransport | None = None) -> HubSpotClient:
    http = build_http_client(API, transport=transport or httpx.WSGITransport(app=app.sim))
    return HubSpotClient(http, Tokens(app.access_token), LocalRateBudget(), str(app.portal_id),
                         retry=RetryPolicy(sleep=lambda seconds: None))


@pytest.fixture
def app() -> Installed:
    return install(simulator(FakeClock()))


def requests_to(sim: HubSpotSimulator, prefix: str) -> list[tuple[str, dict[str, list[str]]]]:
    return [(entry.path, parse_qs(entry.query)) for entry in sim.log.entries() if entry.path.startswith(prefix)]


def test_the_library_is_read_on_the_2026_03_path_with_exact_percentages(app):
    app.client.put(f"/_sandbox/portals/{app.portal_id}/tax-rates", json={"taxRates": [
        {"id": "r12", "name": "Food", "percentageRate": 12}, {"id": "r125", "name": "Odd", "percentageRate": 12.1}]})

    rates = client_for(app).tax_rates()

    assert [(rate.id, rate.percentage_rate) for rate in rates] == [("r12", Decimal("12")), ("r125", Decimal("12.1"))]
    [(path, query)] = requests_to(app.sim, "/tax-rates/")
    assert path == paths.TAX_RATES == "/tax-rates/2026-03/tax-rates"
    assert query == {"limit": ["100"]}


def test_a_library_longer_than_a_page_is_read_page_by_page(app):
    app.client.put(f"/_sandbox/portals/{app.portal_id}/tax-rates", json={"taxRates": [
        {"name": f"Rate {i}", "percentageRate": i % 26} for i in range(150)]})

    rates = client_for(app).tax_rates()

    assert len(rates) == 150 and len({rate.id for rate in rates}) == 150
    assert [query.get("after") for _, query in requests_to(app.sim, "/tax-rates/")] == [None, ["100"]]


def test_an_owner_is_read_by_id_and_an_archived_one_when_asked(app):
    sara = app.client.post(f"/_sandbox/portals/{app.portal_id}/owners", json={
        "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"}).json()
    ola = app.client.post(f"/_sandbox/portals/{app.portal_id}/owners", json={
        "firstName": "Ola", "lastName": "", "email": "ola@acme.example", "archived": True}).json()
    client = client_for(app)

    owner = client.owner(sara["id"])

    assert (owner.id, owner.full_name, owner.email, owner.archived) == (sara["id"], "Sara Säljare",
                                                                          "sara@acme.example", False)
    with pytest.raises(NotFoundError):
        client.owner(ola["id"])
    assert client.owner(ola["id"], archived=True).full_name == "Ola"
    queries = [query for _, query in requests_to(app.sim, "/crm/owners/")]
    assert queries[0] == {"idProperty": ["id"], "archived": ["false"]}
    assert queries[-1]["archived"] == ["true"]


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("Sara", "Säljare", "Sara Säljare"), ("Sara", None, "Sara"), (None, " Säljare ", "Säljare"), ("", " ", None)])
def test_an_owners_full_name_is_first_and_last_name_without_blanks(first, last, expected):
    assert Owner(id="1", firstName=first, lastName=last).full_name == expected


def test_a_missing_optional_scope_is_its_own_error_naming_the_scope(app):
    narrow = install(app.sim, scopes="oauth crm.objects.deals.read", client_id="narrow", portal_id=app.portal_id)
    client = client_for(narrow)

    with pytest.raises(MissingScopesError) as tax:
        client.tax_rates()
    with pytest.raises(MissingScopesError) as owner:
        client.owner("81000001")

    assert (tax.value.scopes, owner.value.scopes) == (("tax_rates.read",), ("crm.objects.owners.read",))
    assert isinstance(tax.value, ConnectionBrokenError)  # callers that do not know it still see a broken grant


def test_a_403_for_another_reason_stays_a_broken_connection(app):
    body = {"status": "error", "message": "This portal is locked.", "category": "FORBIDDEN",
            "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c"}
    hubspot_reference.validate_response("GET", paths.TAX_RATES, 403, body)
    client = client_for(app, httpx.MockTransport(lambda request: httpx.Response(403, json=body)))

    with pytest.raises(ConnectionBrokenError) as refused:
        client.tax_rates()

    assert not isinstance(refused.value, MissingScopesError)


def test_a_user_is_read_with_its_super_admin_flag_and_an_unknown_one_is_not_found(app):
    colleague = app.client.post(f"/_sandbox/portals/{app.portal_id}/users",
                                json={"email": "eva@acme.example", "superAdmin": False}).json()
    hubspot = client_for(app)

    installer = hubspot.user(str(app.sim.portals[app.portal_id].user_id))
    assert (installer.super_admin, installer.email) == (True, app.sim.portals[app.portal_id].user_email)
    assert hubspot.user(colleague["id"]).super_admin is False
    with pytest.raises(NotFoundError):
        hubspot.user("404404")
    [(path, query), *_] = requests_to(app.sim, "/settings/users/")
    assert path == f"/settings/users/2026-03/{installer.id}" and query == {"idProperty": ["USER_ID"]}
