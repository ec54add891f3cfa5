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
from hubnox.services.settings_page import settings_api_router
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
    assert set(body["printTemplates"]) == {"invoice", "order"} and body["printTemplates"]["invoice"]
