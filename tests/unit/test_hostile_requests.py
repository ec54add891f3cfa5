"""Requests nobody should send, sent anyway: bodies that are not text, JSON nested past the parser,
digits of other scripts, ids past DynamoDB's key limits, path segments such as `..`, and methods no
route takes. Each gets a 4xx that says what is wrong (JSON on API routes, a page on browser routes),
never a 5xx, and nothing is enqueued or stored.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from sandbox.gateway import Gateway
from tests.support.clock import FakeClock
from tests.support.functions import (
    REPO_ROOT,
    SAMPLE_PORTAL,
    World,
    request_event,
    signed_by_hubspot,
    world_on_moto,
)
from tests.unit.test_gateway import FUNCTION_ENVIRONMENT

CSRF = "csrf-of-this-admin"
ACTIONS = "/hubspot/actions/create-document"


@pytest.fixture
def gateway(monkeypatch) -> httpx.Client:
    """The local API gateway over the template's routes, as `make dev` serves it."""
    for name, value in FUNCTION_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    app = Gateway.from_template(REPO_ROOT / "template.yaml")
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1:8000")


@pytest.fixture
def world(aws_clients):
    # The card route checks signatures against the wall clock, so the world's clock starts there too.
    with world_on_moto(aws_clients, clock=FakeClock(time.time())) as world:
        world.install()
        world.connect_fortnox()
        yield world


def execution(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"callbackId": "ap-102670506-56776413549-7-0", "origin": {"portalId": int(SAMPLE_PORTAL)},
                            "object": {"objectId": 904, "objectType": "DEAL"}, "inputFields": {}}
    for name, value in changes.items():
        if name == "portalId":
            body["origin"]["portalId"] = value
        elif name == "objectId":
            body["object"]["objectId"] = value
        else:
            body[name] = value
    return body


def action(world: World, body: bytes | str | dict[str, Any], *, method: str = "POST",
           base64_body: bool = False) -> dict[str, Any]:
    """A workflow-action request signed by HubSpot (v3), answered by the workflow_action function."""
    text = json.dumps(body) if isinstance(body, dict) else body
    event = request_event("workflow_action_create_document.json", method, ACTIONS, body=text,
                          base64_body=base64_body)
    return answered(world.invoke("workflow_action", signed_by_hubspot(event, world.clock.ms)))


def card(world: World, query: str) -> dict[str, Any]:
    event = request_event("crm_card_fetch.json", "GET", "/hubspot/card", raw_query=query)
    return answered(world.invoke("crm_card", signed_by_hubspot(event, world.clock.ms)))


def answered(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body") or ""
    is_json = response.get("headers", {}).get("Content-Type", "").startswith("application/json")
    response["json"] = json.loads(body) if is_json and body else None
    return response


def refused(response: dict[str, Any], status: int = 400) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"][:300]
    assert response["json"]["message"] and response["json"]["code"]
    return response["json"]


def nothing_happened(world: World) -> None:
    assert world.jobs() == []
    assert world.container.runs.list_recent(SAMPLE_PORTAL) == []
    assert world.items("NONCE#") == [] and world.items("CALLBACKS") == []


# -- bodies ----------------------------------------------------------------------------------------


def test_a_signed_body_that_is_not_utf8_is_a_400_saying_so(world):
    answer = refused(action(world, b"\xff\xfe{\"callbackId\": 1}"))
    assert answer["code"] == "MALFORMED_BODY"
    nothing_happened(world)


def test_a_body_flagged_base64_that_is_not_base64_is_refused_before_anything_happens(world):
    event = request_event("workflow_action_create_document.json", "POST", ACTIONS, body="%%% not base64 %%%")
    event["isBase64Encoded"] = True
    assert world.invoke("workflow_action", event)["statusCode"] == 401
    nothing_happened(world)


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000])
def test_json_nested_deeper_than_the_parser_goes_is_a_400(world, body):
    assert refused(action(world, body))["code"] == "MALFORMED_JSON"
    nothing_happened(world)


def test_a_number_with_more_digits_than_python_converts_is_a_400_without_pythons_words(world):
    answer = refused(action(world, json.dumps(execution()).replace("904", "9" * 5000)))
    assert answer["message"] == "The request body is not valid JSON: it holds a number with too many digits."


# -- ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("portalId", "١٢٣"), ("portalId", "²"), ("objectId", "²"), ("objectId", "١٢٣"),
    ("portalId", "9" * 3000), ("objectId", "9" * 3000), ("portalId", ""), ("objectId", ""),
])
def test_an_execution_whose_ids_are_not_hubspots_is_a_400(world, field, value):
    assert refused(action(world, execution(**{field: value})))["code"] == "MISSING_FIELD"
    nothing_happened(world)


@pytest.mark.parametrize("callback_id", ["x" * 3000, "", "  ", "ap 1", "ap-\x00-1"])
def test_a_callback_id_that_is_no_token_is_a_400_and_claims_nothing(world, callback_id):
    refused(action(world, execution(callbackId=callback_id)))
    nothing_happened(world)


@pytest.mark.parametrize("query", [
    "portalId=%D9%A1%D9%A2%D9%A3&objectId=904&objectType=0-3",
    "portalId=102670506&objectId=%C2%B2&objectType=0-3",
    f"portalId={'9' * 3000}&objectId=904&objectType=0-3",
    f"portalId=102670506&objectId={'9' * 3000}&objectType=0-3",
    f"portalId=102670506&objectId=904&objectType=0-3&userEmail={'a' * 3000}",
    "portalId=102670506&objectId=904&objectType=0-3&userId=%C2%B2",
])
def test_a_card_request_whose_ids_are_not_hubspots_is_a_400(world, query):
    refused(card(world, query))


@pytest.mark.parametrize("run_id", ["..", "%2e%2e", "a/b", "x" * 3000, "01JDQ7Z5M3"])
def test_a_replay_link_that_names_no_run_gets_a_404_page(world, run_id):
    event = request_event("replay_confirm.json", "GET", f"/replay/{run_id}", raw_query="t=anything")
    event["pathParameters"] = {"runId": run_id}
    response = world.invoke("replay", event)
    assert response["statusCode"] == 404
    assert "text/html" in response["headers"]["Content-Type"]


@pytest.mark.parametrize("limit", ["²", "١٢", "9" * 5000])
def test_a_runs_limit_in_other_digits_is_a_400(world, limit):
    event = request_event("settings_api_put.json", "GET", "/settings/api/runs", raw_query=f"limit={limit}")
    event["cookies"] = [f"hubnox_session={session(world)}"]
    assert refused(answered(settings_api(world, event)))["code"] == "INVALID"


def test_settings_nested_past_the_parser_are_a_400(world):
    event = request_event("settings_api_put.json", "PUT", "/settings/api/settings", body="[" * 100_000)
    event["cookies"] = [f"hubnox_session={session(world)}"]
    event["headers"]["x-csrf-token"] = CSRF
    assert refused(answered(settings_api(world, event)))["code"] == "INVALID_SETTINGS"


def session(world: World) -> str:
    """A signed-in admin's session of the portal, in its first generation (nothing has ended it)."""
    return world.container.signer.sign("session", {"portal": SAMPLE_PORTAL, "user": "admin@acme.se", "csrf": CSRF,
                                                   "sid": "session-1", "gen": 0}, 3600)


def settings_api(world: World, event: dict[str, Any]) -> dict[str, Any]:
    """The settings API, answered by the settings function on this world's container."""
    return world.invoke("settings", event)


# -- static files and methods ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a" * 300, "css/" + "b" * 300 + ".css", "css/settings.css\x00.png"])
def test_a_static_file_name_no_file_system_takes_is_a_404(world, name):
    event = request_event("settings_static.json", "GET", f"/settings/static/{name}")
    event["pathParameters"] = {"proxy": name}
    assert world.invoke("settings", event)["statusCode"] == 404


@pytest.mark.parametrize("method", ["PROPFIND", "FOO", "HEAD", "OPTIONS", "GET"])
def test_a_signed_request_with_a_method_the_route_does_not_take_is_a_404_naming_it(world, method):
    answer = refused(action(world, execution(), method=method), 404)
    assert answer["message"] == f"hubnox has no route {method} {ACTIONS}."
    nothing_happened(world)


@pytest.mark.parametrize("method", ["PROPFIND", "FOO", "TRACE"])
def test_the_local_gateway_answers_unusual_methods_with_a_4xx(gateway, method):
    for path in ("/settings/api/settings", "/settings/api/anything", ACTIONS, "/hubspot/card", "/replay/x"):
        response = gateway.request(method, path)
        assert 400 <= response.status_code < 500, (path, response.text[:300])
        assert response.headers["content-type"].startswith("application/json")


def test_the_settings_api_names_an_unusual_method_in_json(gateway):
    response = gateway.request("PROPFIND", "/settings/api/settings")
    assert response.status_code == 404
    assert response.json()["code"] == "NO_ROUTE"

