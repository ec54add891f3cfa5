"""The HubSpot client's batch update and property update against the HubSpot simulator (held to
HubSpot's 2026-03 specs): 100 records per request, each request counted against the portal's
budget, a 207 partial reported rather than raised; and a version-1 install upgraded to the
current property set through the real client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.api_http import build_http_client
from hubnox.errors import BadRequestError
from hubnox.hubspot import properties
from hubnox.hubspot.app_properties import upgrade_if_needed
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.tokens import StaticToken
from tests.support.fake_api import RecordingBudget
from tests.support.fakes import Cursors

API = "https://api.hubapi.com"
CALLBACK = "https://hubnox.example/oauth/hubspot/callback"
SCOPES = ["oauth", "crm.objects.deals.read", "crm.objects.deals.write", "crm.objects.companies.read",
          "crm.objects.companies.write", "crm.objects.contacts.read", "crm.objects.contacts.write",
          "crm.schemas.deals.read", "crm.schemas.deals.write", "crm.schemas.companies.write",
          "crm.schemas.contacts.write"]
DEALS = 230


class Portal:
    """A simulated portal with `DEALS` deals and hubnox installed in it, called through the client."""

    def __init__(self) -> None:
        module = pytest.importorskip("sandbox.hubspot")
        self.simulator = module.HubSpotSimulator()
        self.http = build_http_client(API, transport=httpx.WSGITransport(app=self.simulator))
        deals = [{"ref": f"d{i}", "properties": {"dealname": f"Deal {i}"}} for i in range(DEALS)]
        seeded = self.http.post("/_sandbox/portals", json={"objects": {"deals": deals}}).json()
        self.portal, self.deal_ids = str(seeded["portalId"]), [seeded["refs"][f"d{i}"] for i in range(DEALS)]
        oauth = HubSpotOAuth(self.http, client_id="cid", client_secret="secret", auth_url="https://app.hubspot.com")
        consent = self.http.get(f"{oauth.authorize_url(SCOPES, [], CALLBACK, 'st')}&sandbox_portal={self.portal}")
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        self.token = oauth.exchange_code(code, CALLBACK).access_token
        self.budget = RecordingBudget()
        self.client = HubSpotClient(self.http, StaticToken(self.token), self.budget, self.portal)

    def deal(self, deal_id: str, *names: str) -> dict[str, Any]:
        return self.client.get_object("deals", deal_id, names).properties


@pytest.fixture
def portal() -> Portal:
    return Portal()


def test_a_batch_update_goes_in_hundreds_and_reports_the_ids_hubspot_does_not_have(portal: Portal) -> None:
    updates = {deal_id: {"description": f"balance {i}", "amount": Decimal("12.50")}
               for i, deal_id in enumerate(portal.deal_ids)}
    updates["404404"] = {"description": "nobody"}
    portal.budget.taken.clear()

    result = portal.client.batch_update("deals", updates)

    assert sorted(result.updated) == sorted(portal.deal_ids)
    assert (result.missing, result.errors) == (["404404"], [])
    assert len([key for key in portal.budget.taken if key.startswith(f"hubspot:{portal.portal}=")]) == 3
    last = portal.deal(portal.deal_ids[-1], "description", "amount")
    assert (last["description"], last["amount"]) == (f"balance {DEALS - 1}", "12.50")


def test_none_clears_a_value_and_a_refused_value_raises(portal: Portal) -> None:
    deal_id = portal.deal_ids[0]
    portal.client.batch_update("deals", {deal_id: {"description": "set"}})
    portal.client.batch_update("deals", {deal_id: {"description": None}})
    assert portal.deal(deal_id, "description")["description"] in (None, "")
    with pytest.raises(BadRequestError):
        portal.client.batch_update("deals", {deal_id: {"no_such_property": "1"}})


def test_an_empty_batch_makes_no_call(portal: Portal) -> None:
    portal.budget.taken.clear()
    assert portal.client.batch_update("deals", {}).updated == []
    assert portal.budget.taken == []


def version_one(client: HubSpotClient) -> None:
    """What an install made before version 2 created: the group, the old properties, five statuses."""
    for kind, definitions in (("deals", properties.DEAL_PROPERTIES),
                              ("companies", (properties.CUSTOMER_PROPERTY, properties.ORGANISATION_NUMBER_PROPERTY)),
                              ("contacts", (properties.CUSTOMER_PROPERTY,))):
        client.create_property_group(kind, properties.GROUP_NAME, properties.GROUP_LABEL)
        for definition in definitions:
            if definition["name"] == properties.DOCUMENT_STATUS:
                definition = {**definition, "options": [o for o in definition["options"] if o["value"] in (
                    "draft", "booked", "sent", "paid", "cancelled")]}
            client.create_property(kind, definition)


def test_a_version_one_install_is_upgraded_once_and_keeps_an_admins_option(portal: Portal) -> None:
    client, cursors = portal.client, Cursors()
    version_one(client)
    status = next(p for p in client.list_properties("deals") if p["name"] == properties.DOCUMENT_STATUS)
    client.update_property("deals", properties.DOCUMENT_STATUS, {
        "options": [*status["options"], {"label": "Disputed", "value": "disputed", "displayOrder": 9}]})
    with pytest.raises(BadRequestError):  # HubSpot refuses a value the property does not have yet
        client.batch_update("deals", {portal.deal_ids[0]: {properties.DOCUMENT_BALANCE: "10"}})

    assert upgrade_if_needed(client, cursors, portal.portal) is True

    status = next(p for p in client.list_properties("deals") if p["name"] == properties.DOCUMENT_STATUS)
    assert [o["value"] for o in status["options"]] == [
        "draft", "booked", "sent", "paid", "cancelled", "disputed", "partly_paid", "overdue", "credited", "invoiced"]
    result = client.batch_update("deals", {portal.deal_ids[0]: {
        properties.DOCUMENT_STATUS: "partly_paid", properties.DOCUMENT_BALANCE: "250.50",
        properties.DOCUMENT_DUE_DATE: "2026-12-27", properties.STATUS_SYNCED_AT: "2026-12-07T10:02:00Z"}})
    assert result.updated == [portal.deal_ids[0]]
    names = {p["name"] for p in client.list_properties("companies")}
    assert set(properties.CUSTOMER_AGGREGATE_PROPERTY_NAMES) <= names
    portal.budget.taken.clear()
    assert upgrade_if_needed(client, cursors, portal.portal) is False
    assert portal.budget.taken == []


def test_other_errors_of_a_207_are_reported_with_their_ids() -> None:
    """HubSpot may refuse single inputs for reasons other than a missing record; they are reported,
    not raised, and the records it wrote are listed."""
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(207, json={
            "status": "COMPLETE", "startedAt": "2026-12-07T10:00:00Z", "completedAt": "2026-12-07T10:00:01Z",
            "results": [{"id": "1", "properties": {}, "createdAt": "2026-12-07T10:00:00Z",
                         "updatedAt": "2026-12-07T10:00:00Z", "archived": False}],
            "numErrors": 2, "errors": [
                {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"ids": ["2"]},
                 "errors": [], "links": {}},
                {"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid",
                 "context": {"ids": ["3"]}, "errors": [], "links": {}}]})

    client = HubSpotClient(build_http_client(API, transport=httpx.MockTransport(answer)), StaticToken("t"),
                           RecordingBudget(), "4242")
    result = client.batch_update("companies", {"1": {"a": "1"}, "2": {"a": "2"}, "3": {"a": "3"}})
    assert (result.updated, result.missing) == (["1"], ["2"])
    assert result.errors == ["VALIDATION_ERROR: Property values were not valid (3)"]
