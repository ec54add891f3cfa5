"""Export and import of a portal's settings: an admin exports the test portal's settings, previews the
file in the production portal (what changes, what that portal lacks), and applies it with the version
the preview was made against; files hubnox cannot read are refused with their reasons and change nothing.

The routes run in a resolver as the settings function builds it; the store runs on moto; HubSpot and
Fortnox are the simulators, in process, with two portals (each its own Fortnox company). The test
portal has a pipeline and a company property the production portal does not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from hubnox.services.install import HUBSPOT_SCOPES, ConnectionService
from hubnox.services.settings_page import settings_api_router, settings_page_router
from hubnox.services.settings_transfer import settings_transfer_router
from hubnox.signing import Signer
from hubnox.store.portal_settings import SettingsStore
from hubnox.store.sessions import SessionStore
from hubnox.store.table import Table, connection_key, create_table
from hubnox.sync.portal_settings import SETTINGS_SCHEMA_VERSION, PortalSettings
from hubnox.tokens import StaticToken
from hubnox.web.responses import register_error_handlers
from hubnox.web.session import SESSION_COOKIE, SESSION_TTL_SECONDS
from sandbox.fortnox import FortnoxSimulator
from sandbox.hubspot import HubSpotSimulator
from tests.support.aws import TABLE
from tests.support.functions import SAMPLE_PUBLIC_BASE, sample_event

CSRF = "csrf-secret-of-this-session"
HUBSPOT, FORTNOX = "http://hubspot.test", "http://fortnox.test"
#: 2026-12-06 21:15:44 UTC
NOW = 1796591744.0
TEST_PIPELINE = {"id": "test-sales", "label": "Test sales",
                 "stages": [{"id": "test-won", "label": "Won", "closed": True}]}


@dataclass
class Portal:
    id: str
    hubspot_token: str
    tenant: str
    fortnox_token: str


class Ports:
    """The settings function's container as the routes use it: the real store and clients, two portals."""

    def __init__(self, table: Table) -> None:
        self.config = AppConfig(public_base_url=SAMPLE_PUBLIC_BASE, signing_key="settings-transfer-tests-key-0123")
        self.signer = Signer(self.config.signing_key.get_secret_value())
        self.portal_settings = SettingsStore(table)
        self.sessions = SessionStore(table, time.time)
        self.clock = lambda: NOW
        self.table = table
        self.hs_http = build_http_client(HUBSPOT, transport=httpx.WSGITransport(app=HubSpotSimulator()))
        self.fx_http = build_http_client(FORTNOX, transport=httpx.WSGITransport(app=FortnoxSimulator()))
        self.budget = LocalRateBudget()
        self.portals: dict[str, Portal] = {}
        self.fortnox_connections: dict[str, FortnoxConnection] = {}
        self.connections = self

    def add_portal(self, seed: dict[str, Any] | None = None, *, connect_fortnox: bool = True) -> Portal:
        """A HubSpot portal (seeded with `seed`) with hubnox installed: its properties made, its installation
        stored; and a fresh Fortnox company connected to it, with the placeholder article."""
        made = self.hs_http.post("/_sandbox/portals", json=seed or {})
        assert made.status_code == 201, made.text
        portal_id = str(made.json()["portalId"])
        oauth = HubSpotOAuth(self.hs_http, client_id="hubnox", client_secret="secret", auth_url=HUBSPOT)
        link = oauth.authorize_url(list(HUBSPOT_SCOPES), [], "https://x/cb", "s") + f"&sandbox_portal={portal_id}"
        consent = self.hs_http.get(link.removeprefix(HUBSPOT))
        tokens = oauth.exchange_code(parse_qs(urlsplit(consent.headers["location"]).query)["code"][0], "https://x/cb")
        self.table.put({**connection_key(portal_id, "hubspot"), "portal_id": portal_id, "status": "active"})
        company = self.fx_http.post("/_sandbox/companies", json={"serviceConsent": {"clientId": "hubnox"}}).json()
        tenant = str(company["tenantId"])
        fortnox_oauth = FortnoxOAuth(self.fx_http, client_id="hubnox", client_secret="secret", auth_url=FORTNOX)
        portal = Portal(portal_id, tokens.access_token, tenant, fortnox_oauth.client_credentials(tenant).access_token)
        self.portals[portal_id] = portal
        ConnectionService.ensure_properties(self.hubspot_client(portal_id))
        self.fx_http.post("/3/articles", json={"Article": {"ArticleNumber": "HUBSPOT", "Description": "HubSpot line"}},
                          headers={"Authorization": f"Bearer {portal.fortnox_token}"}).raise_for_status()
        if connect_fortnox:
            self.fortnox_connections[portal_id] = FortnoxConnection(
                portal_id=portal_id, tenant_id=tenant, auth_mode="client_credentials", connected_at=time.time())
        return portal

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        return self.fortnox_connections.get(portal_id)

    def hubspot_client(self, portal_id: str) -> HubSpotClient:
        return HubSpotClient(self.hs_http, StaticToken(self.portals[portal_id].hubspot_token), self.budget, portal_id)

    def fortnox_client(self, portal_id: str) -> FortnoxClient:
        tenant = self.portals[portal_id].tenant
        return FortnoxClient(self.fx_http, StaticToken(self.portals[portal_id].fortnox_token), self.budget,
                             FortnoxClient.tenant_key_for("hubnox", tenant))


@pytest.fixture
def ports(aws_clients) -> Iterator[Ports]:
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        yield Ports(Table(dynamodb, TABLE))


@pytest.fixture
def app(ports: Ports) -> APIGatewayHttpResolver:
    """A resolver as the settings function builds it."""
    resolver = APIGatewayHttpResolver()
    register_error_handlers(resolver, json_paths=lambda path: path.startswith("/settings/api/"))
    resolver.include_router(settings_api_router(ports))
    resolver.include_router(settings_transfer_router(ports))
    resolver.include_router(settings_page_router(ports))
    return resolver


@pytest.fixture
def test_portal(ports: Ports) -> Portal:
    portal = ports.add_portal({"pipelines": [TEST_PIPELINE],
                               "properties": {"companies": [{"name": "org_nr_test", "label": "Org nr (test)",
                                                             "type": "string", "fieldType": "text",
                                                             "groupName": "companyinformation"}]}})
    return portal


@pytest.fixture
def production(ports: Ports) -> Portal:
    return ports.add_portal()


def cookie(ports: Ports, portal: Portal) -> str:
    token = ports.signer.sign("session", {"portal": portal.id, "user": "admin@acme.example", "csrf": CSRF,
                                          "sid": "session-1", "gen": 0}, SESSION_TTL_SECONDS)
    return f"{SESSION_COOKIE}={token}"


def call(app: APIGatewayHttpResolver, ports: Ports, portal: Portal, method: str, path: str, *, body: Any = None,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One request through API Gateway's v2 event, as the settings page sends it (with the CSRF token)."""
    event = sample_event("settings_api_put.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/settings/api/")}
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["cookies"] = [cookie(ports, portal)]
    event["headers"].update({"x-csrf-token": CSRF, **{k.lower(): v for k, v in (headers or {}).items()}})
    return app.resolve(event, None)


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}


def save(app, ports, portal: Portal, version: int, settings: dict[str, Any]) -> dict[str, Any]:
    status, body = answer(call(app, ports, portal, "PUT", "/settings/api/settings",
                               body={"version": version, "settings": settings}))
    assert status == 200, body
    return body


def stored(app, ports, portal: Portal) -> dict[str, Any]:
    return answer(call(app, ports, portal, "GET", "/settings/api/settings"))[1]


def export(app, ports, portal: Portal) -> dict[str, Any]:
    response = call(app, ports, portal, "GET", "/settings/api/settings/export")
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])


def preview(app, ports, portal: Portal, document: Any) -> tuple[int, Any]:
    return answer(call(app, ports, portal, "POST", "/settings/api/settings/import/preview", body=document))


def apply(app, ports, portal: Portal, document: Any, version: int, **options: Any) -> tuple[int, Any]:
    return answer(call(app, ports, portal, "POST", "/settings/api/settings/import",
                       body={"document": document, "version": version}, **options))


#: the test portal's settings: its own pipeline and property, the default one, and Fortnox values
TESTED = {
    "default_document_type": "order",
    "trigger_stages": [{"pipeline_id": "test-sales", "stage_id": "test-won", "document_type": "invoice"},
                       {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "order"}],
    "company_match": {"hubspot_property": "org_nr_test", "fortnox_field": "OrganisationNumber",
                      "when_value_missing": "match_name"},
    "customer_defaults": {"terms_of_payment": "30", "currency": "EUR"},
    "articles": {"policy": "placeholder"},
    "deal_fields": {"remarks": "description"},
}


# -- export -----------------------------------------------------------------------------------------


def test_the_export_is_a_dated_versioned_download_of_the_settings_and_nothing_else(app, ports, test_portal):
    save(app, ports, test_portal, 0, TESTED)

    response = call(app, ports, test_portal, "GET", "/settings/api/settings/export")

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Disposition"] == (
        f'attachment; filename="hubnox-settings-{test_portal.id}-2026-12-06.json"')
    document = json.loads(response["body"])
    assert list(document) == ["format", "schemaVersion", "exportedAt", "portalId", "settings"]
    assert (document["format"], document["schemaVersion"], document["exportedAt"], document["portalId"]) == (
        "hubnox-settings", SETTINGS_SCHEMA_VERSION, "2026-12-06T21:15:44+00:00", test_portal.id)
    assert document["settings"] == stored(app, ports, test_portal)["settings"]
    # No connection data: not the tokens, nor the Fortnox company the portal is connected to.
    for secret in (test_portal.hubspot_token, test_portal.fortnox_token, test_portal.tenant, "access", "refresh"):
        assert secret not in response["body"]


def test_the_export_needs_a_session(app, ports, test_portal):
    event = sample_event("settings_api_put.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/settings/api/settings/export"
    event["requestContext"]["http"]["method"] = "GET"
    event["cookies"] = []

    status, body = answer(app.resolve(event, None))

    assert (status, body["code"]) == (401, "NO_SESSION")


# -- round trip -------------------------------------------------------------------------------------


def test_a_test_portals_export_imports_into_production_reporting_what_production_lacks(
        app, ports, test_portal, production):
    save(app, ports, test_portal, 0, TESTED)
    save(app, ports, production, 0, {"no_line_items": "placeholder_row"})
    document = export(app, ports, test_portal)

    status, seen = preview(app, ports, production, document)

    assert status == 200, seen
    assert (seen["version"], seen["blocking"], seen["fromPortal"], seen["samePortal"]) == (
        1, False, test_portal.id, False)
    changes = {change["field"]: (change["current"], change["imported"]) for change in seen["changes"]}
    assert changes["default_document_type"] == ("invoice", "order")
    assert changes["company_match.hubspot_property"] == ("organisation_number", "org_nr_test")
    assert changes["customer_defaults.currency"] == (None, "EUR")
    assert changes["no_line_items"] == ("placeholder_row", "fail")
    assert changes["trigger_stages"] == ([], TESTED["trigger_stages"])
    problems = {problem["field"]: problem for problem in seen["problems"]}
    assert set(problems) == {"trigger_stages.0.pipeline_id", "company_match.hubspot_property"}
    assert "no deal pipeline 'test-sales'" in problems["trigger_stages.0.pipeline_id"]["message"]
    assert "Trigger stages" in problems["trigger_stages.0.pipeline_id"]["fix"]
    assert "no company property 'org_nr_test'" in problems["company_match.hubspot_property"]["message"]
    assert all(problem["blocking"] is False and problem["source"] == "hubspot" for problem in seen["problems"])
    assert stored(app, ports, production)["version"] == 1  # a preview changes nothing

    status, applied = apply(app, ports, production, document, seen["version"])

    assert status == 200, applied
    assert (applied["version"], applied["saved"]) == (2, True)
    assert [problem["field"] for problem in applied["problems"]] == list(problems)
    assert applied["changes"] == seen["changes"]
    assert stored(app, ports, production)["settings"] == stored(app, ports, test_portal)["settings"]


def test_importing_a_portals_own_export_changes_nothing_and_reports_nothing(app, ports, test_portal):
    save(app, ports, test_portal, 0, TESTED)

    status, seen = preview(app, ports, test_portal, export(app, ports, test_portal))

    assert (status, seen["changes"], seen["problems"], seen["samePortal"]) == (200, [], [], True)


def test_a_stage_missing_from_a_known_pipeline_is_reported_by_its_row(app, ports, test_portal, production):
    save(app, ports, test_portal, 0, {"trigger_stages": [
        {"pipeline_id": "default", "stage_id": "closedwon"}, {"pipeline_id": "default", "stage_id": "1234567"}]})
    document = export(app, ports, test_portal)

    _, seen = preview(app, ports, production, document)

    [problem] = seen["problems"]
    assert problem["field"] == "trigger_stages.1.stage_id"
    assert "no stage '1234567'" in problem["message"]


def test_values_the_fortnox_company_lacks_block_the_import_as_they_block_a_save(app, ports, test_portal, production):
    document = export(app, ports, test_portal)
    document["settings"]["customer_defaults"]["terms_of_payment"] = "45"

    status, seen = preview(app, ports, production, document)
    refused, body = apply(app, ports, production, document, 0)

    assert (status, seen["blocking"]) == (200, True)
    [problem] = seen["problems"]
    assert (problem["field"], problem["source"], problem["blocking"]) == (
        "customer_defaults.terms_of_payment", "fortnox", True)
    assert (refused, body["code"]) == (400, "INVALID_SETTINGS")
    assert [error["field"] for error in body["errors"]] == ["customer_defaults.terms_of_payment"]
    assert "Fortnox has no terms of payment '45'" in body["errors"][0]["message"]
    assert stored(app, ports, production)["version"] == 0


def test_without_a_fortnox_connection_its_values_are_not_checked(app, ports, test_portal):
    unconnected = ports.add_portal(connect_fortnox=False)
    document = export(app, ports, test_portal)
    document["settings"]["customer_defaults"]["terms_of_payment"] = "45"

    status, seen = preview(app, ports, unconnected, document)

    assert (status, seen["blocking"], seen["problems"]) == (200, False, [])


# -- versions ---------------------------------------------------------------------------------------


def test_a_version_1_file_goes_through_the_same_migrations_as_stored_settings(app, ports, production):
    version_1 = {"default_document_type": "order", "company_match": {"hubspot_property": "organisation_number",
                                                                     "fortnox_field": "OrganisationNumber",
                                                                     "when_value_missing": "fail"},
                 "customer_defaults": {"terms_of_payment": "30"}}
    document = {"format": "hubnox-settings", "schemaVersion": 1, "exportedAt": "2026-01-02T03:04:05+00:00",
                "portalId": "42", "settings": version_1}

    status, seen = preview(app, ports, production, document)

    assert status == 200, seen
    assert (seen["schemaVersion"], seen["migrated"]) == (1, True)
    imported = seen["settings"]
    assert imported["schema_version"] == SETTINGS_SCHEMA_VERSION
    assert imported["company_match"]["when_value_missing"] == "create"  # `_v1_to_v2`
    assert (imported["primary_contact_sync"], imported["customer_defaults"]["cost_center"]) == (True, None)
    assert apply(app, ports, production, document, seen["version"])[0] == 200
    assert stored(app, ports, production)["settings"] == imported


def test_a_file_from_a_newer_hubnox_is_refused_saying_so(app, ports, test_portal, production):
    document = export(app, ports, test_portal)
    document["schemaVersion"] = SETTINGS_SCHEMA_VERSION + 1
    document["settings"]["schema_version"] = SETTINGS_SCHEMA_VERSION + 1

    for status, body in (preview(app, ports, production, document), apply(app, ports, production, document, 0)):
        assert (status, body["code"]) == (400, "SETTINGS_TOO_NEW")
        assert f"schema version {SETTINGS_SCHEMA_VERSION + 1}, newer than this hubnox" in body["message"]
        assert "Update this hubnox" in body["hint"]
    assert stored(app, ports, production)["version"] == 0


# -- files hubnox cannot read -----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "said"), [
    ('{"format": "hubnox-settings", ', "MALFORMED_JSON", "not valid JSON"),
    ("", "MALFORMED_JSON", "not valid JSON"),
    ([1, 2], "NOT_AN_EXPORT", "must be a JSON object"),
    ({"format": "zapier-export", "schemaVersion": 2, "settings": {}}, "NOT_AN_EXPORT", "'zapier-export'"),
    ({"schemaVersion": 2, "settings": {}}, "NOT_AN_EXPORT", "it has no format"),
    ({"format": "hubnox-settings", "settings": {}}, "INVALID_DOCUMENT", "missing schemaVersion"),
    ({"format": "hubnox-settings", "schemaVersion": 2, "settings": {}, "tokens": "x"}, "INVALID_DOCUMENT",
     "unknown tokens"),
    ({"format": "hubnox-settings", "schemaVersion": "2", "settings": {}}, "INVALID_DOCUMENT", "schemaVersion"),
    ({"format": "hubnox-settings", "schemaVersion": 0, "settings": {}}, "INVALID_DOCUMENT", "schemaVersion"),
    ({"format": "hubnox-settings", "schemaVersion": 2, "settings": []}, "INVALID_SETTINGS", "settings: must be"),
    ({"format": "hubnox-settings", "schemaVersion": 2, "settings": {"schema_version": 1}}, "INVALID_SETTINGS",
     "differs from the file's schemaVersion"),
])
def test_a_file_that_is_no_export_is_refused_with_its_reason(app, ports, production, body, code, said):
    status, answered = preview(app, ports, production, body)

    assert (status, answered["code"], answered["errors"]) == (400, code, [])
    assert said in answered["message"]


def test_settings_the_model_refuses_are_named_field_by_field_and_nothing_is_saved(app, ports, production):
    document = {"format": "hubnox-settings", "schemaVersion": 2, "settings": {
        "articles": {"policy": "sometimes"}, "customer_defaults": {"currency": "kronor"}, "colour": "blue"}}

    for status, body in (preview(app, ports, production, document), apply(app, ports, production, document, 0)):
        assert (status, body["code"]) == (400, "INVALID_SETTINGS")
        assert {error["field"] for error in body["errors"]} == {"articles.policy", "customer_defaults.currency",
                                                                "colour"}
        assert "kronor" in next(e["message"] for e in body["errors"] if e["field"] == "customer_defaults.currency")
    assert stored(app, ports, production)["version"] == 0


@pytest.mark.parametrize("body", ["nope", {"version": 0}, {"document": {}, "version": "1"},
                                  {"document": {}, "version": -1}])
def test_an_import_without_its_document_and_version_is_a_400_saying_so(app, ports, production, body):
    status, answered = answer(call(app, ports, production, "POST", "/settings/api/settings/import", body=body))

    assert status == 400
    assert answered["code"] in {"MALFORMED_JSON", "INVALID_IMPORT"}


# -- concurrency and CSRF ---------------------------------------------------------------------------


def test_an_import_over_settings_saved_since_the_preview_is_refused_with_409(app, ports, test_portal, production):
    document = export(app, ports, test_portal)
    _, seen = preview(app, ports, production, document)
    save(app, ports, production, seen["version"], {"default_document_type": "order"})  # another admin, meanwhile

    status, body = apply(app, ports, production, document, seen["version"])

    assert (status, body["code"], body["version"]) == (409, "STALE_VERSION", 1)
    assert "Preview the file again" in body["message"]
    assert stored(app, ports, production)["settings"]["default_document_type"] == "order"


@pytest.mark.parametrize("path", ["/settings/api/settings/import/preview", "/settings/api/settings/import"])
@pytest.mark.parametrize(("headers", "code"), [({"X-CSRF-Token": "guessed"}, "BAD_CSRF"),
                                               ({"Origin": "https://evil.example"}, "BAD_ORIGIN")])
def test_preview_and_import_need_the_sessions_csrf_token_and_hubnoxs_origin(app, ports, test_portal, production,
                                                                            path, headers, code):
    document = export(app, ports, test_portal)
    body = document if path.endswith("preview") else {"document": document, "version": 0}

    status, answered = answer(call(app, ports, production, "POST", path, body=body, headers=headers))

    assert (status, answered["code"]) == (401, code)
    assert ports.portal_settings.get(production.id) == (None, 0)


def test_defaults_everywhere_import_with_no_problems(app, ports, production):
    document = {"format": "hubnox-settings", "schemaVersion": 2, "settings": PortalSettings().model_dump(mode="json")}

    status, seen = preview(app, ports, production, document)

    assert (status, seen["changes"], seen["problems"], seen["fromPortal"]) == (200, [], [], None)
