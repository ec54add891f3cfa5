"""Every API route the HubSpot simulator serves answers what HubSpot's official 2026-03 specs
describe: requests shaped by the specs' request schemas get responses that fit the specs'
response schemas, errors fit the specs' Error schema, and the scopes the simulator demands are
among the alternatives the specs list.

The cases are keyed by the simulator's route table, so a new route without a case fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from jsonschema import Draft4Validator

from sandbox.hubspot_schema import (
    ACCOUNT_SCOPES,
    AUTOMATION_SCOPES,
    FILES_READ_SCOPES,
    FILES_WRITE_SCOPES,
    OBJECT_TYPES,
)
from tests.sandbox.test_hubspot_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    START,
    FakeClock,
    Installed,
    association,
    install,
    simulator,
)
from tests.support import hubspot_reference
from tests.support.openapi import OpenApiSpec

OBJECTS = "/crm/objects/2026-03/<object_type>"
ASSOCIATIONS = f"{OBJECTS}/<object_id>/associations"
PIPELINES = "/crm/pipelines/2026-03/<object_type>"
PROPERTIES = "/crm/properties/2026-03/<object_type>"
CALLBACKS = "/automation/actions/callbacks/2026-03"


@dataclass
class Case:
    """One request to the simulator and the spec operation it is held to."""

    method: str
    path: str
    spec_file: str
    spec_path: str = ""
    status: int = 200
    json: Any = None
    params: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    auth: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spec_path = self.spec_path or self.path


@dataclass
class World:
    """A portal with one record of each type (every default property set), associations, a file,
    a blocked workflow callback, its default tax-rate library and its owner."""

    app: Installed
    clock: FakeClock
    ids: dict[str, str]
    file_id: str
    callbacks: list[str]

    def account(self) -> dict[str, Any]:
        return self.app.client.get(f"/_sandbox/portals/{self.app.portal_id}").json()


def build_world() -> World:
    clock = FakeClock(START)
    app = install(simulator(clock))
    product = app.create("products", {"name": "Widget", "description": "A widget", "price": "100", "hs_sku": "W-1"})
    company = app.create("companies", {"name": "Acme AB", "domain": "acme.se"})
    contact = app.create("contacts", {"firstname": "Ada", "lastname": "Lind", "email": "ada@acme.se"})
    deal = app.create("deals", {"dealname": "Widgets", "amount": "200", "closedate": "2026-04-01"},
                      [association(company["id"], 5), association(contact["id"], 3)])
    line = app.create("line_items", {"hs_product_id": product["id"], "quantity": "2"}, [association(deal["id"], 20)])
    upload = app.call("POST", "/files/2026-03/files", files={"file": ("invoice.pdf", b"%PDF-1.7", "application/pdf")},
                      data={"options": json.dumps({"access": "PRIVATE"}), "folderPath": "/fortnox"})
    note = app.create("notes", {"hs_timestamp": "2026-09-01T10:00:00Z", "hs_note_body": "<p>Invoice</p>",
                                "hs_attachment_ids": upload.json()["id"]}, [association(deal["id"], 214)])
    app.sim.outbound_transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"outputFields": {"hs_execution_state": "BLOCK"}}))
    callbacks = [app.client.post("/_sandbox/workflows/enroll", json={
        "portalId": app.portal_id, "objectType": "DEAL", "objectId": deal["id"],
        "actionUrl": "https://hubnox.example/hubspot/actions/create-document"}).json()["callbackId"]
        for _ in range(2)]
    ids = {"products": product["id"], "companies": company["id"], "contacts": contact["id"], "deals": deal["id"],
           "line_items": line["id"], "notes": note["id"]}
    return World(app, clock, ids, upload.json()["id"], callbacks)


# -- the cases, by route ---------------------------------------------------------------------------


def per_type(make: Callable[[World, str, str, str], list[Case]]) -> Callable[[World], list[Case]]:
    """Cases for every object type, on the paths of the spec file that documents the type."""
    def cases(world: World) -> list[Case]:
        out = []
        for t in OBJECT_TYPES.values():
            path_type = "deals" if t.name == "deals" else t.name  # the simulator also takes `deals`
            out += make(world, t.name, path_type, t.spec_file)
        return out
    return cases


def _spec_path(path: str, type_name: str) -> str:
    t = OBJECT_TYPES[type_name]
    return path.replace(f"/crm/objects/2026-03/{type_name}", t.spec_base, 1)


SAMPLE_PROPERTIES = {
    "products": {"name": "Gadget", "price": "50"}, "companies": {"name": "Beta AB"},
    "contacts": {"email": "bo@beta.se"}, "deals": {"dealname": "Gadgets"},
    "line_items": {"name": "Gadget", "price": "50", "quantity": "1"},
    "notes": {"hs_timestamp": "2026-09-02T10:00:00Z", "hs_note_body": "Done"},
}
DEFAULTS_SET = {  # properties every seeded record has a value for
    "products": ["name", "price"], "companies": ["name", "domain"], "contacts": ["email"],
    "deals": ["dealname", "amount"], "line_items": ["name", "amount"], "notes": ["hs_note_body"],
}


def object_case(method: str, suffix: str, status: int = 200, **kwargs: Any):
    def make(world: World, type_name: str, path_type: str, spec_file: str) -> list[Case]:
        path = f"/crm/objects/2026-03/{path_type}{suffix.format(id=world.ids[type_name])}"
        body = kwargs.get("json")
        if callable(body):
            body = body(world, type_name)
        params = kwargs.get("params")
        if callable(params):
            params = params(world, type_name)
        return [Case(method, path, spec_file, _spec_path(path, type_name), status, body, params)]
    return per_type(make)


def search_body(world: World, type_name: str) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ",
                                           "value": world.ids[type_name]}]}],
            "sorts": ["hs_object_id"], "properties": DEFAULTS_SET[type_name], "limit": 10, "after": "0"}


def batch_body(missing: bool) -> Callable[[World, str], dict[str, Any]]:
    def body(world: World, type_name: str) -> dict[str, Any]:
        inputs = [{"id": world.ids[type_name]}] + ([{"id": "404404"}] if missing else [])
        return {"properties": DEFAULTS_SET[type_name], "propertiesWithHistory": [], "inputs": inputs}
    return body


def batch_read_cases(world: World) -> list[Case]:
    return object_case("POST", "/batch/read", json=batch_body(False))(world) + \
        object_case("POST", "/batch/read", 207, json=batch_body(True))(world)


def batch_update_body(missing: bool) -> Callable[[World, str], dict[str, Any]]:
    def body(world: World, type_name: str) -> dict[str, Any]:
        properties = {k: v for k, v in SAMPLE_PROPERTIES[type_name].items() if k != "hs_timestamp"}
        inputs = [{"id": world.ids[type_name], "properties": properties}]
        return {"inputs": inputs + ([{"id": "404404", "properties": properties}] if missing else [])}
    return body


def batch_update_cases(world: World) -> list[Case]:
    return object_case("POST", "/batch/update", json=batch_update_body(False))(world) + \
        object_case("POST", "/batch/update", 207, json=batch_update_body(True))(world)


def token_form(world: World, grant: str) -> dict[str, str]:
    if grant == "refresh_token":
        return {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "refresh_token": world.app.refresh_token}
    location = world.app.client.get("/oauth/authorize", params={
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "oauth"}).headers["Location"]
    code = dict(part.split("=") for part in urlsplit(location).query.split("&"))["code"]
    return {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT_URI, "code": code}


def token_cases(path: str) -> Callable[[World], list[Case]]:
    return lambda w: [Case("POST", path, "oauth.json", "/oauth/2026-03/token", form=token_form(w, grant), auth=False)
                      for grant in ("authorization_code", "refresh_token")]


def deal_association(method: str, suffix: str, status: int = 200, body: Any = None) -> Callable[[World], list[Case]]:
    def cases(world: World) -> list[Case]:
        path = f"/crm/objects/2026-03/deals/{world.ids['deals']}/associations{suffix.format(**world.ids)}"
        return [Case(method, path, "associations.json", status=status, json=body)]
    return cases


def complete_body(state: str = "SUCCESS") -> dict[str, Any]:
    return {"outputFields": {"hs_execution_state": state, "fortnoxDocumentNumber": "1001"}, "typedOutputs": {}}


#: the spec file of routes no official spec documents
REFERENCE = "reference"

NEW_PROPERTY = {"groupName": "dealinformation", "name": "fortnox_invoice_number", "label": "Fortnox invoice number",
                "type": "string", "fieldType": "text", "description": "Set by hubnox"}

CASES: dict[tuple[str, str], Callable[[World], list[Case]]] = {
    ("GET", "/oauth/authorize"): lambda w: [Case(
        "GET", "/oauth/authorize", "securitySchemes", status=302, auth=False,
        params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "oauth", "state": "s"})],
    ("POST", "/oauth/2026-03/token"): token_cases("/oauth/2026-03/token"),
    ("POST", "/oauth/v1/token"): token_cases("/oauth/v1/token"),
    ("POST", "/oauth/v3/token"): token_cases("/oauth/v3/token"),
    ("POST", "/oauth/2026-03/token/introspect"): lambda w: [
        Case("POST", "/oauth/2026-03/token/introspect", "oauth.json", auth=False,
             form={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": token})
        for token in (w.app.access_token, w.app.refresh_token)],
    ("POST", "/oauth/2026-03/token/revoke"): lambda w: [Case(
        "POST", "/oauth/2026-03/token/revoke", "oauth.json", status=204, auth=False,
        form={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": w.app.refresh_token,
              "token_type_hint": "refresh_token"})],
    ("GET", OBJECTS): object_case("GET", "", params=lambda w, t: {"limit": 5, "properties": ",".join(DEFAULTS_SET[t])}),
    ("POST", OBJECTS): object_case("POST", "", 201, json=lambda w, t: {"properties": SAMPLE_PROPERTIES[t],
                                                                       "associations": []}),
    ("GET", f"{OBJECTS}/<object_id>"): object_case("GET", "/{id}", params=lambda w, t: {
        "properties": ",".join(DEFAULTS_SET[t]), "associations": "deals,companies,line_items,notes",
        "propertiesWithHistory": DEFAULTS_SET[t][0]}),
    ("PATCH", f"{OBJECTS}/<object_id>"): object_case("PATCH", "/{id}", json=lambda w, t: {
        "properties": {k: v for k, v in SAMPLE_PROPERTIES[t].items() if k != "hs_timestamp"}}),
    ("DELETE", f"{OBJECTS}/<object_id>"): object_case("DELETE", "/{id}", 204),
    ("POST", f"{OBJECTS}/batch/read"): batch_read_cases,
    ("POST", f"{OBJECTS}/batch/update"): batch_update_cases,
    ("POST", f"{OBJECTS}/search"): object_case("POST", "/search", json=search_body),
    ("GET", f"{ASSOCIATIONS}/<to_type>"): lambda w: [
        Case("GET", f"/crm/objects/2026-03/deals/{w.ids['deals']}/associations/{to}", "associations.json",
             params={"limit": 500}) for to in ("line_items", "companies", "contacts", "notes")],
    ("PUT", f"{ASSOCIATIONS}/<to_type>/<to_id>"): deal_association(
        "PUT", "/contacts/{contacts}", 201, [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]),
    ("DELETE", f"{ASSOCIATIONS}/<to_type>/<to_id>"): deal_association("DELETE", "/contacts/{contacts}", 204),
    ("PUT", f"{ASSOCIATIONS}/default/<to_type>/<to_id>"): deal_association("PUT", "/default/companies/{companies}"),
    ("POST", "/crm/associations/2026-03/<from_type>/<to_type>/batch/read"): lambda w: [
        Case("POST", "/crm/associations/2026-03/deals/line_items/batch/read", "associations.json",
             json={"inputs": [{"id": w.ids["deals"]}]}),
        Case("POST", "/crm/associations/2026-03/deals/line_items/batch/read", "associations.json", status=207,
             json={"inputs": [{"id": w.ids["deals"]}, {"id": "404404"}]})],
    ("GET", PIPELINES): lambda w: [Case("GET", "/crm/pipelines/2026-03/deals", "pipelines.json")],
    ("GET", f"{PIPELINES}/<pipeline_id>"): lambda w: [Case("GET", "/crm/pipelines/2026-03/deals/default",
                                                           "pipelines.json")],
    ("GET", f"{PIPELINES}/<pipeline_id>/stages"): lambda w: [
        Case("GET", "/crm/pipelines/2026-03/deals/default/stages", "pipelines.json")],
    ("GET", PROPERTIES): lambda w: [Case("GET", f"/crm/properties/2026-03/{t}", "properties.json")
                                    for t in ("deals", "line_items", "companies", "products")],
    ("POST", PROPERTIES): lambda w: [Case("POST", "/crm/properties/2026-03/deals", "properties.json", status=201,
                                          json=NEW_PROPERTY)],
    ("GET", f"{PROPERTIES}/<property_name>"): lambda w: [
        Case("GET", "/crm/properties/2026-03/deals/dealstage", "properties.json"),
        Case("GET", "/crm/properties/2026-03/line_items/hs_discount_percentage", "properties.json")],
    ("PATCH", f"{PROPERTIES}/<property_name>"): lambda w: [
        Case("PATCH", "/crm/properties/2026-03/deals/dealname", "properties.json",
             json={"label": "Deal name", "description": "What the deal is called"}),
        Case("PATCH", "/crm/properties/2026-03/deals/dealstage", "properties.json", status=400,
             json={"type": "string", "fieldType": "text"})],
    ("GET", f"{PROPERTIES}/groups"): lambda w: [Case("GET", "/crm/properties/2026-03/deals/groups",
                                                     "properties.json")],
    ("POST", f"{PROPERTIES}/groups"): lambda w: [Case("POST", "/crm/properties/2026-03/deals/groups",
                                                      "properties.json", status=201,
                                                      json={"name": "fortnox", "label": "Fortnox", "displayOrder": 1})],
    ("POST", "/files/2026-03/files"): lambda w: [Case(
        "POST", "/files/2026-03/files", "files.json", status=201,
        form={"options": json.dumps({"access": "PRIVATE", "overwrite": False}), "folderPath": "/fortnox/invoices",
              "fileName": "invoice-1002"},
        files={"file": ("invoice-1002.pdf", b"%PDF-1.7 second", "application/pdf")})],
    ("GET", "/files/2026-03/files/<file_id>"): lambda w: [Case("GET", f"/files/2026-03/files/{w.file_id}",
                                                               "files.json")],
    ("GET", "/files/2026-03/files/<file_id>/signed-url"): lambda w: [
        Case("GET", f"/files/2026-03/files/{w.file_id}/signed-url", "files.json", params={"expirationSeconds": 600})],
    ("POST", f"{CALLBACKS}/<callback_id>/complete"): lambda w: [
        Case("POST", f"{CALLBACKS}/{w.callbacks[0]}/complete", "actionsV4.json", status=204, json=complete_body())],
    ("POST", f"{CALLBACKS}/complete"): lambda w: [Case(
        "POST", f"{CALLBACKS}/complete", "actionsV4.json", status=204,
        json={"inputs": [{"callbackId": c, **complete_body("FAIL_CONTINUE")} for c in w.callbacks]})],
    ("GET", "/account-info/2026-03/details"): lambda w: [Case("GET", "/account-info/2026-03/details",
                                                              "accountInfo.json")],
    # No spec file documents these: they are held to HubSpot's API reference (tests.support.hubspot_reference).
    ("GET", "/tax-rates/2026-03/tax-rates"): lambda w: [
        Case("GET", "/tax-rates/2026-03/tax-rates", REFERENCE), Case(
            "GET", "/tax-rates/2026-03/tax-rates", REFERENCE, params={"limit": 2, "after": "1"})],
    ("GET", "/tax-rates/v1/tax-rates"): lambda w: [Case("GET", "/tax-rates/v1/tax-rates", REFERENCE)],
    ("GET", "/tax-rates/2026-03/tax-rates/<tax_rate_id>"): lambda w: [
        Case("GET", f"/tax-rates/2026-03/tax-rates/{w.account()['taxRates'][1]['id']}", REFERENCE)],
    ("GET", "/tax-rates/v1/tax-rates/<tax_rate_id>"): lambda w: [
        Case("GET", f"/tax-rates/v1/tax-rates/{w.account()['taxRates'][0]['id']}", REFERENCE)],
    ("GET", "/crm/owners/2026-03/<owner_id>"): lambda w: [
        Case("GET", f"/crm/owners/2026-03/{w.account()['owners'][0]['id']}", REFERENCE),
        Case("GET", f"/crm/owners/2026-03/{w.account()['owners'][0]['userId']}", REFERENCE,
             params={"idProperty": "userId"})],
    ("GET", "/settings/users/2026-03/<user_id>"): lambda w: [
        Case("GET", f"/settings/users/2026-03/{w.account()['users'][0]['id']}", REFERENCE),
        Case("GET", f"/settings/users/2026-03/{w.account()['users'][0]['email']}", REFERENCE,
             params={"idProperty": "EMAIL"})],
}


def test_every_api_route_has_a_conformance_case():
    served = {(method, route.rule) for route in build_world().app.sim.api_routes for method in route.methods}
    assert served == set(CASES)


# -- checking a case against its spec --------------------------------------------------------------


def form_schema(spec: OpenApiSpec, case: Case) -> dict[str, Any]:
    operation = spec.operation(case.method, case.spec_path)
    content = spec._deref(operation.spec["requestBody"])["content"]
    media = next(m for m in content if m.startswith(("application/x-www-form-urlencoded", "multipart/form-data")))
    return content[media]["schema"]


def check_request(spec: OpenApiSpec, case: Case) -> None:
    if case.form is not None:
        schema = form_schema(spec, case)
        assert set(case.form) <= set(schema["properties"]), f"fields the spec does not know: {case.form}"
        Draft4Validator({**schema, "additionalProperties": False}).validate(case.form)
        if case.files:
            assert set(case.files) <= set(schema["properties"])
    else:
        spec.validate_request(case.method, case.spec_path, case.json, case.params or {})


def run(world: World, case: Case) -> httpx.Response:
    headers = world.app.headers if case.auth else {}
    return world.app.client.request(case.method, case.path, json=case.json, params=case.params, data=case.form,
                                    files=case.files, headers=headers)


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda route: f"{route[0]} {route[1]}")
def test_the_route_answers_as_the_spec_describes(route):
    world = build_world()
    cases = CASES[route](world)
    assert cases
    for case in cases:
        world.clock.advance(1)  # stay within search's five requests a second
        response = run(world, case)
        assert response.status_code == case.status, f"{case.method} {case.path}: {response.text[:500]}"
        if case.spec_file == "securitySchemes":
            scheme = OpenApiSpec.load("hubspot/deals.json").document["components"]["securitySchemes"]["oauth2"]
            assert urlsplit(scheme["flows"]["authorizationCode"]["authorizationUrl"]).path == case.path
            assert "code=" in response.headers["Location"]
            continue
        if case.spec_file == REFERENCE:
            hubspot_reference.validate_response(case.method, case.path, response.status_code, response.json())
            continue
        spec = OpenApiSpec.load(f"hubspot/{case.spec_file}")
        check_request(spec, case)
        body = response.json() if response.content else None
        spec.validate_response(case.method, case.spec_path, response.status_code, body)


# -- errors ------------------------------------------------------------------------------------------


def error_cases(world: World) -> list[tuple[str, str, httpx.Response]]:
    app, deal = world.app, world.ids["deals"]
    unauthenticated = app.client.get(f"/crm/objects/2026-03/deals/{deal}")
    narrow = install(app.sim, scopes="oauth", client_id="narrow")
    return [
        ("deals.json", f"/crm/objects/2026-03/0-3/{deal}", unauthenticated),
        ("deals.json", f"/crm/objects/2026-03/0-3/{deal}", narrow.call("GET", f"/crm/objects/2026-03/deals/{deal}")),
        ("deals.json", "/crm/objects/2026-03/0-3/1", app.call("GET", "/crm/objects/2026-03/deals/1")),
        ("deals.json", "/crm/objects/2026-03/0-3", app.call(
            "POST", "/crm/objects/2026-03/deals", json={"properties": {"nope": "1"}, "associations": []})),
        ("deals.json", "/crm/objects/2026-03/0-3/search", app.call(
            "POST", "/crm/objects/2026-03/deals/search", json={"limit": 500})),
        ("properties.json", "/crm/properties/2026-03/deals", app.call(
            "POST", "/crm/properties/2026-03/deals", json={**NEW_PROPERTY, "name": "dealname_copy",
                                                           "fieldType": "select"})),
        ("files.json", "/files/2026-03/files/1", app.call("GET", "/files/2026-03/files/1")),
        ("actionsV4.json", f"{CALLBACKS}/x/complete", app.call(
            "POST", f"{CALLBACKS}/ap-1-1-1-0/complete", json=complete_body())),
        ("oauth.json", "/oauth/2026-03/token", app.client.post("/oauth/2026-03/token", data={
            "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": "na1-nope"})),
        (REFERENCE, "/crm/owners/2026-03/1", app.call("GET", "/crm/owners/2026-03/1")),
        (REFERENCE, "/tax-rates/2026-03/tax-rates", narrow.call("GET", "/tax-rates/2026-03/tax-rates")),
        (REFERENCE, "/tax-rates/2026-03/tax-rates", app.call("GET", "/tax-rates/2026-03/tax-rates",
                                                             params={"limit": 0})),
    ]


def test_error_bodies_fit_the_specs_error_schema():
    world = build_world()
    statuses = set()
    for spec_file, spec_path, response in error_cases(world):
        assert response.status_code >= 400, response.text
        statuses.add(response.status_code)
        method = response.request.method
        if spec_file == REFERENCE:
            hubspot_reference.validate_response(method, spec_path, response.status_code, response.json())
            continue
        OpenApiSpec.load(f"hubspot/{spec_file}").validate_response(method, spec_path, response.status_code,
                                                                     response.json())
    assert statuses == {400, 401, 403, 404}


def test_the_rate_limit_429_fits_the_error_schema():
    clock = FakeClock(START)
    app = install(simulator(clock, rate_limit=1))
    app.call("GET", "/crm/pipelines/2026-03/deals")
    limited = app.call("GET", "/crm/pipelines/2026-03/deals")
    assert limited.status_code == 429
    OpenApiSpec.load("hubspot/pipelines.json").validate_response("GET", "/crm/pipelines/2026-03/deals", 429,
                                                                 limited.json())


# -- scopes ------------------------------------------------------------------------------------------


def spec_scopes(spec_file: str, method: str, path: str) -> set[str]:
    operation = OpenApiSpec.load(f"hubspot/{spec_file}").operation(method, path)
    return {scope for alternative in operation.spec.get("security", []) for scopes in alternative.values()
            for scope in scopes}


@pytest.mark.parametrize("type_name", sorted(OBJECT_TYPES))
def test_object_scopes_are_among_the_specs_alternatives(type_name):
    t = OBJECT_TYPES[type_name]
    assert set(t.read_scopes) <= spec_scopes(t.spec_file, "GET", f"{t.spec_base}/1")
    assert set(t.read_scopes) <= spec_scopes(t.spec_file, "POST", f"{t.spec_base}/search")
    assert set(t.write_scopes) <= spec_scopes(t.spec_file, "POST", t.spec_base)
    assert set(t.write_scopes) <= spec_scopes(t.spec_file, "PATCH", f"{t.spec_base}/1")
    assert set(t.schema_read_scopes) <= spec_scopes("properties.json", "GET", f"/crm/properties/2026-03/{t.name}")
    assert set(t.schema_write_scopes) <= spec_scopes("properties.json", "POST", f"/crm/properties/2026-03/{t.name}")


def test_other_scopes_are_among_the_specs_alternatives():
    assert set(FILES_WRITE_SCOPES) == spec_scopes("files.json", "POST", "/files/2026-03/files")
    assert set(FILES_READ_SCOPES) == spec_scopes("files.json", "GET", "/files/2026-03/files/1")
    assert set(AUTOMATION_SCOPES) == spec_scopes("actionsV4.json", "POST", f"{CALLBACKS}/x/complete")
    assert set(ACCOUNT_SCOPES) == spec_scopes("accountInfo.json", "GET", "/account-info/2026-03/details")
    sim = simulator()
    pipeline_scopes = sim._pipeline_scopes({"object_type": "deals"})
    assert set(pipeline_scopes) <= spec_scopes("pipelines.json", "GET", "/crm/pipelines/2026-03/deals")
    batch = sim._association_batch_scopes({"from_type": "deals", "to_type": "line_items"})
    batch_path = "/crm/associations/2026-03/deals/line_items/batch/read"
    assert set(batch) <= spec_scopes("associations.json", "POST", batch_path)
