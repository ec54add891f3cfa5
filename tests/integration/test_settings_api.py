"""The settings API: the signed-in admin reads and saves the portal's sync settings, versioned so
two admins cannot undo each other, and gets the choices the page offers from HubSpot and Fortnox.

The router runs in a resolver with the settings function's error handling; the settings store
runs on moto; HubSpot and Fortnox are the simulators, in process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from moto import mock_aws

from hubnox.api_http import build_http_client
from hubnox.config import AppConfig
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.rate_budget import LocalRateBudget
from hubnox.records import FortnoxConnection
from hubnox.services.install import HUBSPOT_SCOPES
from hubnox.services.settings_page import customer_default_options, settings_api_router
from hubnox.signing import Signer
from hubnox.store.portal_settings import SettingsStore
from hubnox.store.sessions import SessionStore
from hubnox.store.table import Table, connection_key, create_table
from hubnox.sync.portal_settings import PortalSettings
from hubnox.tokens import StaticToken
from hubnox.web.responses import register_error_handlers
from hubnox.web.session import SESSION_COOKIE, SESSION_TTL_SECONDS
from sandbox.fortnox import FortnoxSimulator
from sandbox.hubspot import HubSpotSimulator
from tests.support.aws import TABLE
from tests.support.functions import SAMPLE_PUBLIC_BASE, sample_event

CSRF = "csrf-secret-of-this-session"
HUBSPOT, FORTNOX = "http://hubspot.test", "http://fortnox.test"



class ConnectedFortnox:
    """The portal's connections as the settings API reads them: Fortnox connected to the simulator's company."""

    def __init__(self, portal: str, tenant: str) -> None:
        self.fortnox = FortnoxConnection(portal_id=portal, tenant_id=tenant, auth_mode="client_credentials",
                                         connected_at=time.time())

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        return self.fortnox if portal_id == self.fortnox.portal_id else None


class Ports:
    """What the settings function's container gives the router: the real store and clients."""

    def __init__(self, table: Table) -> None:
        self.config = AppConfig(public_base_url=SAMPLE_PUBLIC_BASE, signing_key="settings-api-tests-key-0123456789")
        self.signer = Signer(self.config.signing_key.get_secret_value())
        self.portal_settings = SettingsStore(table)
        self.sessions = SessionStore(table, time.time)
        hubspot_sim, fortnox_sim = HubSpotSimulator(), FortnoxSimulator()
        self.hs_http = build_http_client(HUBSPOT, transport=httpx.WSGITransport(app=hubspot_sim))
        self.fx_http = build_http_client(FORTNOX, transport=httpx.WSGITransport(app=fortnox_sim))
        oauth = HubSpotOAuth(self.hs_http, client_id="hubnox", client_secret="secret", auth_url=HUBSPOT)
        install_link = oauth.authorize_url(list(HUBSPOT_SCOPES), [], "https://x/cb", "s")
        consent = self.hs_http.get(install_link.removeprefix(HUBSPOT))
        tokens = oauth.exchange_code(parse_qs(urlsplit(consent.headers["location"]).query)["code"][0], "https://x/cb")
        self.portal = str(tokens.hub_id)
        table.put({**connection_key(self.portal, "hubspot"), "portal_id": self.portal, "status": "active"})
        self._hubspot_token = tokens.access_token
        company = self.fx_http.post("/_sandbox/companies", json={"serviceConsent": {"clientId": "hubnox"}}).json()
        self.tenant = str(company["tenantId"])
        fortnox_oauth = FortnoxOAuth(self.fx_http, client_id="hubnox", client_secret="secret", auth_url=FORTNOX)
        self._fortnox_token = fortnox_oauth.client_credentials(self.tenant).access_token
        self.fx_http.post("/3/articles", json={"Article": {"ArticleNumber": "HUBSPOT", "Description": "HubSpot line"}},
                          headers={"Authorization": f"Bearer {self._fortnox_token}"}).raise_for_status()
        self.budget = LocalRateBudget()
        self.connections = ConnectedFortnox(self.portal, self.tenant)

    def hubspot_client(self, portal_id: str) -> HubSpotClient:
        return HubSpotClient(self.hs_http, StaticToken(self._hubspot_token), self.budget, portal_id)

    def fortnox_client(self, portal_id: str) -> FortnoxClient:
        return FortnoxClient(self.fx_http, StaticToken(self._fortnox_token), self.budget,
                             FortnoxClient.tenant_key_for("hubnox", self.tenant))


@pytest.fixture
def ports(aws_clients) -> Iterator[Ports]:
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        yield Ports(Table(dynamodb, TABLE))


@pytest.fixture
def app(ports: Ports) -> APIGatewayHttpResolver:
    """A resolver as the settings function builds it, with the settings API included."""
    resolver = APIGatewayHttpResolver()
    register_error_handlers(resolver, json_paths=lambda path: path.startswith("/settings/api/"))
    resolver.include_router(settings_api_router(ports))
    return resolver


def session_cookie(ports: Ports, portal: str | None = None) -> str:
    token = ports.signer.sign("session", {"portal": portal or ports.portal, "user": "admin@acme.example",
                                          "csrf": CSRF, "sid": "session-1", "gen": 0}, SESSION_TTL_SECONDS)
    return f"{SESSION_COOKIE}={token}"


def call(app: APIGatewayHttpResolver, method: str, path: str, *, body: Any = None, cookie: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """One request through API Gateway's v2 event, as the browser on the settings page sends it."""
    event = sample_event("settings_api_put.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/settings/api/")}
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["cookies"] = [cookie] if cookie else []
    event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    answer = app.resolve(event, None)
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else {}


def save(app: APIGatewayHttpResolver, ports: Ports, version: int, settings: dict[str, Any],
         **options: Any) -> tuple[int, dict[str, Any]]:
    return call(app, "PUT", "/settings/api/settings", body={"version": version, "settings": settings},
                cookie=session_cookie(ports), headers={"X-CSRF-Token": CSRF, **options.pop("headers", {})}, **options)


def test_a_setting_naming_what_fortnox_lacks_is_refused_beside_its_field(app, ports):
    status, body = save(app, ports, 0, {"customer_defaults": {"terms_of_payment": "45", "currency": "EUR",
                                                              "price_list": "Z", "invoice_print_template": "fakt"},
                                        "articles": {"defaults": {"price_list": "A"}}})

    assert status == 400
    assert [error["field"] for error in body["errors"]] == ["customer_defaults.terms_of_payment",
                                                            "customer_defaults.price_list"]
    assert "Fortnox has no terms of payment '45'" in body["errors"][0]["message"]
    assert "customer_defaults.terms_of_payment" in body["message"]
    assert call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))[1]["version"] == 0


def test_the_placeholder_article_must_exist_once_a_setting_uses_it(app, ports):
    status, body = save(app, ports, 0, {"articles": {"policy": "placeholder", "placeholder_article_number": "PH-1"}})
    unused = save(app, ports, 0, {"articles": {"policy": "skip", "placeholder_article_number": "PH-1"}})[0]

    assert status == 400
    assert [error["field"] for error in body["errors"]] == ["articles.placeholder_article_number"]
    assert unused == 200


def test_a_portal_that_saved_nothing_gets_the_defaults_at_version_0(app, ports):
    status, body = call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))

    assert (status, body["version"], body["saved"]) == (200, 0, False)
    assert body["settings"] == PortalSettings().model_dump(mode="json")
    assert body["settings"]["company_match"]["hubspot_property"] == "organisation_number"


def test_saved_settings_come_back_with_their_new_version(app, ports):
    wanted = {"default_document_type": "order", "articles": {"policy": "placeholder"},
              "customer_defaults": {"terms_of_payment": "30", "currency": "EUR"}}

    status, saved = save(app, ports, 0, wanted)
    again = call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))[1]

    assert (status, saved["version"], saved["saved"]) == (200, 1, True)
    assert again == saved
    assert (again["settings"]["default_document_type"], again["settings"]["articles"]["policy"],
            again["settings"]["customer_defaults"]["currency"]) == ("order", "placeholder", "EUR")


def test_a_save_over_settings_someone_else_saved_meanwhile_is_refused_with_409(app, ports):
    save(app, ports, 0, {"default_document_type": "order"})
    save(app, ports, 1, {"default_document_type": "invoice"})

    status, body = save(app, ports, 1, {"no_line_items": "placeholder_row"})

    assert (status, body["code"], body["version"]) == (409, "STALE_VERSION", 2)
    stored = call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))[1]
    assert (stored["version"], stored["settings"]["no_line_items"]) == (2, "fail")


def test_invalid_settings_get_a_400_naming_every_wrong_field_and_nothing_is_saved(app, ports):
    status, body = save(app, ports, 0, {"articles": {"policy": "sometimes"},
                                        "customer_defaults": {"currency": "kronor"}, "colour": "blue"})

    assert (status, body["code"]) == (400, "INVALID_SETTINGS")
    for field in ("articles.policy", "customer_defaults.currency", "colour"):
        assert field in body["message"]
    assert call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))[1]["version"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ("not json", "JSON"),
    ({"settings": {}}, "version"),
    ({"version": "1", "settings": {}}, "version"),
    ({"version": 0, "settings": []}, "settings"),
])
def test_a_body_without_a_version_and_settings_object_is_a_400_saying_so(app, ports, body, field):
    status, answer = call(app, "PUT", "/settings/api/settings", body=body, cookie=session_cookie(ports),
                          headers={"X-CSRF-Token": CSRF})

    assert status == 400
    assert field in answer["message"]


def test_a_save_without_the_sessions_csrf_token_changes_nothing(app, ports):
    status, body = call(app, "PUT", "/settings/api/settings", body={"version": 0, "settings": {}},
                        cookie=session_cookie(ports), headers={"X-CSRF-Token": "guessed"})

    assert (status, body["code"]) == (401, "BAD_CSRF")
    assert ports.portal_settings.get(ports.portal) == (None, 0)


def test_a_save_sent_from_another_site_is_refused(app, ports):
    status, body = save(app, ports, 0, {}, headers={"Origin": "https://evil.example"})

    assert (status, body["code"]) == (401, "BAD_ORIGIN")


def test_without_a_session_no_settings_are_shown(app, ports):
    status, body = call(app, "GET", "/settings/api/settings")

    assert (status, body["code"]) == (401, "NO_SESSION")


def test_a_session_sees_only_its_own_portals_settings(app, ports):
    save(app, ports, 0, {"default_document_type": "order"})

    other = call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports, portal="999"))[1]

    assert (other["version"], other["settings"]["default_document_type"]) == (0, "invoice")


def test_the_page_gets_the_deal_pipelines_with_their_stage_ids_and_labels(app, ports):
    status, body = call(app, "GET", "/settings/api/hubspot/pipelines", cookie=session_cookie(ports))

    [pipeline] = body["pipelines"]
    assert (status, pipeline["id"]) == (200, "default")
    assert {"id": "closedwon", "label": "Closed Won"} in pipeline["stages"]


def test_the_page_gets_the_properties_it_can_map(app, ports):
    status, body = call(app, "GET", "/settings/api/hubspot/properties/companies", cookie=session_cookie(ports))

    assert status == 200
    assert {"name": "name", "label": "Company name", "type": "string"} in body["properties"]
    assert call(app, "GET", "/settings/api/hubspot/properties/tickets", cookie=session_cookie(ports))[0] == 400


def test_the_page_gets_fortnox_terms_currencies_price_lists_and_print_templates(app, ports):
    status, body = call(app, "GET", "/settings/api/fortnox/options", cookie=session_cookie(ports))

    assert status == 200
    assert body["termsOfPayment"] and all(set(t) == {"code", "description"} for t in body["termsOfPayment"])
    assert "SEK" in {c["code"] for c in body["currencies"]}
    assert [p["code"] for p in body["priceLists"] if p["default"]] == ["A"]
    assert set(body["printTemplates"]) == {"invoice", "order", "offer"} and body["printTemplates"]["invoice"]


def test_primary_contact_sync_and_its_rule_are_saved_and_checked_by_their_fields(app, ports):
    status, body = save(app, ports, 0, {"primary_contact_sync": "on",
                                        "contact_match": {"hubspot_property": "Mobile Phone", "fortnox_field": "WWW"}})
    assert (status, body["code"]) == (400, "INVALID_SETTINGS")
    for field in ("primary_contact_sync", "contact_match.hubspot_property", "contact_match.fortnox_field"):
        assert field in body["message"]

    status, _ = save(app, ports, 0, {"primary_contact_sync": False,
                                         "contact_match": {"hubspot_property": "phone", "fortnox_field": "Phone1"}})

    assert status == 200
    again = call(app, "GET", "/settings/api/settings", cookie=session_cookie(ports))[1]["settings"]
    assert again["primary_contact_sync"] is False
    assert again["contact_match"] == {"hubspot_property": "phone", "fortnox_field": "Phone1",
                                      "when_value_missing": "create"}


def create_property(app: APIGatewayHttpResolver, ports: Ports, object_type: str, body: Any,
                    csrf: str | None = CSRF) -> tuple[int, dict[str, Any]]:
    return call(app, "POST", f"/settings/api/hubspot/properties/{object_type}", body=body,
                cookie=session_cookie(ports), headers={"X-CSRF-Token": csrf} if csrf else {})


def hubspot_property(ports: Ports, object_type: str, name: str) -> dict[str, Any] | None:
    found = ports.hubspot_client(ports.portal).list_properties(object_type)
    return next((p for p in found if p["name"] == name), None)


def test_a_mapping_row_creates_a_company_property_in_hubnoxs_group_as_text(app, ports):
    status, body = create_property(app, ports, "companies", {"label": "Organisation number (SE)",
                                                             "fortnoxField": "OrganisationNumber"})

    assert (status, body["property"]) == (201, {"name": "organisation_number_se",
                                                 "label": "Organisation number (SE)", "type": "string"})
    made = hubspot_property(ports, "companies", "organisation_number_se")
    assert made is not None
    assert (made["groupName"], made["type"], made["fieldType"]) == ("hubnox", "string", "text")
    listed = call(app, "GET", "/settings/api/hubspot/properties/companies", cookie=session_cookie(ports))[1]
    assert {"name": "organisation_number_se", "label": "Organisation number (SE)", "type": "string"} in (
        listed["properties"])


def test_a_property_for_a_phone_field_is_a_phone_number_and_keeps_the_name_asked_for(app, ports):
    status, body = create_property(app, ports, "contacts", {"label": "Mobile for invoices", "name": "invoice_mobile",
                                                            "fortnoxField": "Phone2"})

    assert (status, body["property"]["name"]) == (201, "invoice_mobile")
    made = hubspot_property(ports, "contacts", "invoice_mobile")
    assert made is not None and (made["type"], made["fieldType"]) == ("string", "phonenumber")


def test_a_property_that_exists_is_a_409_that_says_to_choose_it(app, ports):
    status, body = create_property(app, ports, "contacts", {"label": "Phone", "name": "phone",
                                                            "fortnoxField": "Phone1"})

    assert (status, body["code"], body["name"]) == (409, "PROPERTY_EXISTS", "phone")
    assert body["message"] == ("HubSpot already has a contact property named phone. Choose it in the list, or "
                               "give the new property another name.")
    assert hubspot_property(ports, "contacts", "phone")["groupName"] != "hubnox"  # HubSpot's own, untouched


@pytest.mark.parametrize(("body", "named"), [
    ({"label": "", "fortnoxField": "Name"}, "label:"),
    ({"label": "x" * 101, "fortnoxField": "Name"}, "label:"),
    ({"label": "Org nr", "name": "Org Nr", "fortnoxField": "OrganisationNumber"}, "name:"),
    ({"label": "Org nr", "name": "hs_org_nr", "fortnoxField": "OrganisationNumber"}, "name:"),
    ({"label": "Org nr", "name": "orgnr", "fortnoxField": "Colour"}, "fortnoxField:"),
    ({"label": "Org nr", "name": "orgnr"}, "fortnoxField:"),
])
def test_an_invalid_property_is_refused_naming_what_is_wrong_and_nothing_is_made(app, ports, body, named):
    status, answer = create_property(app, ports, "companies", body)

    assert (status, answer["code"]) == (400, "INVALID_PROPERTY")
    assert answer["message"].startswith(named)
    assert hubspot_property(ports, "companies", "orgnr") is None


def test_properties_are_created_only_for_companies_and_contacts(app, ports):
    status, answer = create_property(app, ports, "deals", {"label": "Org nr", "fortnoxField": "OrganisationNumber"})

    assert (status, answer["code"]) == (400, "INVALID")


@pytest.mark.parametrize("csrf", [None, "guessed"])
def test_creating_a_property_needs_the_sessions_csrf_token(app, ports, csrf):
    status, answer = create_property(app, ports, "companies", {"label": "Org nr", "name": "orgnr",
                                                               "fortnoxField": "OrganisationNumber"}, csrf=csrf)

    assert (status, answer["code"]) == (401, "BAD_CSRF")
    assert hubspot_property(ports, "companies", "orgnr") is None


def test_creating_a_property_needs_a_session(app, ports):
    status, _ = call(app, "POST", "/settings/api/hubspot/properties/companies",
                     body={"label": "Org nr", "fortnoxField": "OrganisationNumber"}, headers={"X-CSRF-Token": CSRF})

    assert status == 401




def test_the_page_gets_every_list_new_customers_defaults_come_from(app, ports):
    status, body = call(app, "GET", "/settings/api/fortnox/options", cookie=session_cookie(ports))

    assert status == 200
    assert [t["code"] for t in body["vatTypes"]] == ["SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT"]
    assert {"code": "P", "description": "Post"} in body["waysOfDelivery"]
    assert {"code": "FVL", "description": "Fritt vårt lager"} in body["termsOfDelivery"]
    accounts = [a["code"] for a in body["salesAccounts"]]
    assert "3001" in accounts and accounts == sorted(accounts)
    assert all(3000 <= int(code) <= 3999 for code in accounts)  # 1510 and 4010 are no sales accounts
    assert {"code": "SALJ", "description": "Försäljning"} in body["costCenters"]
    assert {"code": "1", "description": "Allmänt"} in body["projects"]
    assert body["printTemplates"]["offer"] and body["unavailable"] == {}


def test_a_list_fortnox_refuses_is_named_and_the_others_still_come(ports):
    company = ports.fx_http.post("/_sandbox/companies", json={"serviceConsent": {
        "clientId": "hubnox", "scope": "customer settings print price currency companyinformation"}}).json()
    tenant = str(company["tenantId"])
    oauth = FortnoxOAuth(ports.fx_http, client_id="hubnox", client_secret="secret", auth_url=FORTNOX)
    client = FortnoxClient(ports.fx_http, StaticToken(oauth.client_credentials(tenant).access_token), ports.budget,
                           FortnoxClient.tenant_key_for("hubnox", tenant))

    options = customer_default_options(client)

    assert set(options["unavailable"]) == {"salesAccounts", "costCenters", "projects"}
    assert options["costCenters"] == [] and "scope" in options["unavailable"]["costCenters"]
    assert options["waysOfDelivery"] and options["termsOfDelivery"]
