"""The signature guard in front of every route HubSpot calls: requests signed by HubSpot's own SDK and by
the simulator pass; stale, future, tampered, wrongly keyed and wrongly encoded ones get 401 and
nothing else happens."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from hubnox.config import AppConfig
from hubnox.errors import UnauthorizedError
from hubnox.web.hubspot_auth import require_hubspot_signature
from sandbox.hubspot_signing import signature_headers
from tests.support.functions import (
    SAMPLE_HUBSPOT_SECRET,
    SAMPLE_PUBLIC_BASE,
    http_event,
    sample_event,
    world_on_moto,
)

NOW_MS = 1_795_771_402_913
SETTINGS = AppConfig(public_base_url=SAMPLE_PUBLIC_BASE, hubspot_client_secret=SAMPLE_HUBSPOT_SECRET)
ACTION = "/hubspot/actions/create-document"
ACTION_URI = f"{SAMPLE_PUBLIC_BASE}{ACTION}"
BODY = json.dumps(json.loads(sample_event("workflow_action_create_document.json")["body"]), separators=(",", ":"))
INTERNAL_HOST = "a1b2c3d4e5.execute-api.eu-north-1.amazonaws.com"


def sdk_v3(uri: str, body: str = BODY, *, secret: str = SAMPLE_HUBSPOT_SECRET, timestamp: int = NOW_MS,
           method: str = "POST") -> dict[str, str]:
    """v3 headers as HubSpot's Python SDK computes them (it signs the URI exactly as given)."""
    signature = Signature.get_signature(client_secret=secret, request_body=body, signature_version="v3",
                                        http_uri=uri, http_method=method, timestamp=str(timestamp))
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(timestamp)}


def sdk_v2(uri: str, body: str = BODY, *, secret: str = SAMPLE_HUBSPOT_SECRET, method: str = "POST") -> dict[str, str]:
    signature = Signature.get_signature(client_secret=secret, request_body=body, signature_version="v2",
                                        http_uri=uri, http_method=method)
    return {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"}


def simulated(uri: str, body: str = BODY, *, timestamp: int = NOW_MS, versions: tuple[str, ...] = ("v2", "v3"),
              secret: str = SAMPLE_HUBSPOT_SECRET) -> dict[str, str]:
    """The headers the HubSpot simulator sends with a workflow action or a card fetch."""
    return signature_headers(secret, "POST", uri, body, timestamp, versions)


def action(headers: dict[str, str], body: str = BODY, **changes: Any) -> dict[str, Any]:
    return http_event("workflow_action_create_document.json", body=body, headers=headers, **changes)


def refusal(event: dict[str, Any], now_ms: int = NOW_MS) -> str:
    with pytest.raises(UnauthorizedError) as refused:
        require_hubspot_signature(event, SETTINGS, now_ms)
    return refused.value.code


# -- what passes ------------------------------------------------------------------------------------


def test_a_request_signed_with_v3_by_hubspots_sdk_passes():
    assert require_hubspot_signature(action(sdk_v3(ACTION_URI)), SETTINGS, NOW_MS) == "v3"


def test_a_request_signed_only_with_v2_by_hubspots_sdk_passes():
    assert require_hubspot_signature(action(sdk_v2(ACTION_URI)), SETTINGS, NOW_MS) == "v2"


def test_a_route_that_hubspot_signs_only_with_v3_refuses_v2():
    # App-card fetches always carry v3; v2 has no timestamp, so a captured request could be replayed.
    assert require_hubspot_signature(action(sdk_v3(ACTION_URI)), SETTINGS, NOW_MS, allow_v2=False) == "v3"
    with pytest.raises(UnauthorizedError) as refused:
        require_hubspot_signature(action(sdk_v2(ACTION_URI)), SETTINGS, NOW_MS, allow_v2=False)
    assert refused.value.code == "SIGNATURE_VERSION"


def test_a_request_signed_by_the_simulator_passes_on_its_v3_signature():
    assert require_hubspot_signature(action(simulated(ACTION_URI)), SETTINGS, NOW_MS) == "v3"


def test_the_uri_is_the_public_one_whatever_host_the_request_arrived_on():
    event = action(sdk_v3(ACTION_URI), domain=INTERNAL_HOST)
    assert require_hubspot_signature(event, SETTINGS, NOW_MS) == "v3"
    assert refusal(action(sdk_v3(f"https://{INTERNAL_HOST}{ACTION}"), domain=INTERNAL_HOST)) == "SIGNATURE_MISMATCH"


def test_a_base64_body_is_checked_as_the_bytes_hubspot_sent():
    import base64

    event = action(sdk_v3(ACTION_URI))
    event["body"], event["isBase64Encoded"] = base64.b64encode(BODY.encode()).decode(), True
    assert require_hubspot_signature(event, SETTINGS, NOW_MS) == "v3"


def test_a_timestamp_just_inside_five_minutes_passes():
    stamp = NOW_MS - 5 * 60 * 1000
    assert require_hubspot_signature(action(sdk_v3(ACTION_URI, timestamp=stamp)), SETTINGS, NOW_MS) == "v3"


@pytest.mark.parametrize("name", ["workflow_action_create_document.json", "workflow_action_sync_customer.json",
                                  "workflow_action_options.json"])
def test_each_sample_hubspot_event_is_signed_for_the_documented_test_secret(name):
    assert require_hubspot_signature(sample_event(name), SETTINGS, NOW_MS) == "v2"


# -- what is refused ---------------------------------------------------------------------------------


def test_a_stale_request_is_refused_even_with_a_good_signature():
    stamp = NOW_MS - 5 * 60 * 1000 - 1
    assert refusal(action(sdk_v3(ACTION_URI, timestamp=stamp))) == "SIGNATURE_STALE"
    assert refusal(action(simulated(ACTION_URI, timestamp=stamp))) == "SIGNATURE_STALE"


def test_a_request_from_the_future_is_refused():
    stamp = NOW_MS + 2 * 60 * 1000
    assert refusal(action(sdk_v3(ACTION_URI, timestamp=stamp))) == "SIGNATURE_FUTURE"


def test_a_tampered_body_is_refused_under_v3_and_v2():
    tampered = BODY.replace('"objectId":904', '"objectId":905')
    assert refusal(action(sdk_v3(ACTION_URI), body=tampered)) == "SIGNATURE_MISMATCH"
    assert refusal(action(sdk_v2(ACTION_URI), body=tampered)) == "SIGNATURE_MISMATCH"


def test_a_request_signed_with_another_apps_secret_is_refused():
    other = "0000aaaa-bbbb-cccc-dddd-eeeeffff0000"
    assert refusal(action(sdk_v3(ACTION_URI, secret=other))) == "SIGNATURE_MISMATCH"
    assert refusal(action(sdk_v2(ACTION_URI, secret=other))) == "SIGNATURE_MISMATCH"
    assert refusal(action(simulated(ACTION_URI, secret=other))) == "SIGNATURE_MISMATCH"


def test_a_bad_v3_is_not_rescued_by_a_good_v2():
    headers = {**sdk_v2(ACTION_URI), **sdk_v3(ACTION_URI, secret="wrong-secret")}
    assert refusal(action(headers)) == "SIGNATURE_MISMATCH"


def test_an_unsigned_or_v1_signed_request_is_refused():
    assert refusal(action({})) == "SIGNATURE_MISSING"
    v1 = Signature.get_signature(client_secret=SAMPLE_HUBSPOT_SECRET, request_body=BODY, signature_version="v1")
    assert refusal(action({"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"})) == "SIGNATURE_VERSION"


def test_without_a_configured_client_secret_every_request_is_refused():
    settings = AppConfig(public_base_url=SAMPLE_PUBLIC_BASE)
    with pytest.raises(UnauthorizedError) as refused:
        require_hubspot_signature(action(sdk_v3(ACTION_URI, secret="")), settings, NOW_MS)
    assert refused.value.code == "SIGNATURE_CONFIG"


# -- re-encoded URIs (v3 decodes only : / ? @ ! $ ' ( ) * , ;) --------------------------------------------

OPTIONS = "/hubspot/actions/options"
RAW_QUERY = "portalId=102670506&userEmail=rep%40example.com&note=net%2030%3Dok&range=%28a%2Cb%29"
#: what HubSpot signs for that query: %40 ( ) , decoded; %20 and %3D left as they are
HUBSPOT_SIGNED_URI = (f"{SAMPLE_PUBLIC_BASE}{OPTIONS}"
                      "?portalId=102670506&userEmail=rep@example.com&note=net%2030%3Dok&range=(a,b)")


def options_event(headers: dict[str, str]) -> dict[str, Any]:
    event = http_event("workflow_action_options.json", headers=headers, raw_query=RAW_QUERY)
    return event


def options_body() -> str:
    return sample_event("workflow_action_options.json")["body"]


def test_v3_decodes_the_listed_escapes_as_hubspot_does_when_it_signs():
    headers = sdk_v3(HUBSPOT_SIGNED_URI, options_body())
    assert require_hubspot_signature(options_event(headers), SETTINGS, NOW_MS) == "v3"


def test_the_simulator_signing_the_raw_uri_agrees_with_hubspots_decoding():
    headers = simulated(f"{SAMPLE_PUBLIC_BASE}{OPTIONS}?{RAW_QUERY}", options_body(), versions=("v3",))
    assert require_hubspot_signature(options_event(headers), SETTINGS, NOW_MS) == "v3"


def test_v3_over_the_uri_left_encoded_is_refused():
    headers = sdk_v3(f"{SAMPLE_PUBLIC_BASE}{OPTIONS}?{RAW_QUERY}", options_body())
    with pytest.raises(UnauthorizedError):
        require_hubspot_signature(options_event(headers), SETTINGS, NOW_MS)


def test_v3_over_a_uri_decoded_beyond_the_list_is_refused():
    over_decoded = HUBSPOT_SIGNED_URI.replace("%20", " ").replace("%3D", "=")
    with pytest.raises(UnauthorizedError):
        require_hubspot_signature(options_event(sdk_v3(over_decoded, options_body())), SETTINGS, NOW_MS)


def test_v2_signs_the_uri_exactly_as_sent():
    exact = sdk_v2(f"{SAMPLE_PUBLIC_BASE}{OPTIONS}?{RAW_QUERY}", options_body())
    assert require_hubspot_signature(options_event(exact), SETTINGS, NOW_MS) == "v2"
    with pytest.raises(UnauthorizedError):
        require_hubspot_signature(options_event(sdk_v2(HUBSPOT_SIGNED_URI, options_body())), SETTINGS, NOW_MS)


# -- through the function: 401 and nothing else ------------------------------------------------------------


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


@pytest.mark.parametrize("path", ["/hubspot/actions/create-document", "/hubspot/actions/sync-customer",
                                  "/hubspot/actions/options"])
@pytest.mark.parametrize("signing", ["unsigned", "stale", "tampered"])
def test_every_action_route_answers_401_and_records_nothing_for_a_bad_signature(world, path, signing):
    uri = f"{SAMPLE_PUBLIC_BASE}{path}"
    headers = {"unsigned": {}, "stale": sdk_v3(uri, timestamp=world.clock.ms - 6 * 60 * 1000),
               "tampered": sdk_v3(uri, BODY + " ", timestamp=world.clock.ms)}[signing]
    event = action(headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"

    response = world.invoke("workflow_action", event)

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["code"].startswith("SIGNATURE_")
    assert world.jobs() == []
    assert world.items("NONCE#") == []
    assert [item for item in world.items("PORTAL#") if item["sk"]["S"].startswith("RUN#")] == []


def test_the_same_request_signed_properly_gets_through(world):
    response = world.invoke("workflow_action", action(sdk_v3(ACTION_URI, timestamp=world.clock.ms)))
    assert response["statusCode"] == 200
    assert len(world.jobs()) == 1


# -- one captured request acts once ------------------------------------------------------------------------


def invoke_action(world, headers: dict[str, str], path: str = ACTION, raw_query: str | None = None) -> dict[str, Any]:
    event = action(headers, raw_query=raw_query)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    response = world.invoke("workflow_action", event)
    response["code"] = json.loads(response["body"]).get("code") if response.get("body") else None
    return response


def test_a_captured_v3_request_sent_again_within_its_window_is_refused(world):
    captured = sdk_v3(ACTION_URI, timestamp=world.clock.ms)

    first = invoke_action(world, captured)
    world.clock.advance(60)
    again = invoke_action(world, captured)

    assert first["statusCode"] == 200
    assert (again["statusCode"], again["code"]) == (401, "SIGNATURE_REPLAYED")
    assert len(world.jobs()) == 1


def test_a_request_signed_v2_and_v3_cannot_be_replayed_as_v2_alone_after_its_v3_window(world):
    delivered = simulated(ACTION_URI, timestamp=world.clock.ms)
    assert invoke_action(world, delivered)["statusCode"] == 200
    world.jobs()

    world.clock.advance(6 * 60)
    stripped = {name: value for name, value in delivered.items()
                if name.lower() not in ("x-hubspot-signature-v3", "x-hubspot-request-timestamp")}
    replayed = invoke_action(world, stripped)

    assert (replayed["statusCode"], replayed["code"]) == (401, "SIGNATURE_REPLAYED")
    assert world.jobs() == []


def test_a_refused_request_keeps_no_claim_so_hubspots_next_delivery_of_it_acts(aws_clients):
    # HubSpot delivers an execution again after anything but a 2xx; that delivery must then act.
    with world_on_moto(aws_clients) as world:
        headers = sdk_v3(ACTION_URI, timestamp=world.clock.ms)
        refused = invoke_action(world, headers)  # hubnox is not installed in the portal yet
        world.install()
        world.connect_fortnox()
        world.clock.advance(30)
        delivered = invoke_action(world, headers)

        assert refused["statusCode"] == 404
        assert delivered["statusCode"] == 200
        assert len(world.jobs()) == 1


@pytest.mark.parametrize("path", ["/hubspot/actions/create-document", "/hubspot/actions/options"])
def test_v2_alone_is_refused_on_an_action_route_called_with_a_query(world, path):
    raw_query = "source=card"
    headers = sdk_v2(f"{SAMPLE_PUBLIC_BASE}{path}?{raw_query}")

    response = invoke_action(world, headers, path=path, raw_query=raw_query)

    assert (response["statusCode"], response["code"]) == (401, "SIGNATURE_VERSION")
    assert world.jobs() == []


def test_v2_alone_passes_on_an_action_route_as_hubspot_documents_it(world):
    response = invoke_action(world, sdk_v2(ACTION_URI))

    assert response["statusCode"] == 200
    assert len(world.jobs()) == 1


@pytest.mark.parametrize("parameter", ["portalId=102670506", "userId=7", "userEmail=rep%40example.com",
                                       "appId=1234"])
def test_an_action_route_refuses_what_hubspot_fetch_adds_to_card_requests(world, parameter):
    # hubspot.fetch signs with the same client secret as the workflow engine, over a body the card's user wrote.
    headers = sdk_v3(f"{ACTION_URI}?{parameter.replace('%40', '@')}", timestamp=world.clock.ms)

    response = invoke_action(world, headers, raw_query=parameter)

    assert (response["statusCode"], response["code"]) == (401, "NOT_WORKFLOW_ENGINE")
    assert world.jobs() == []
    assert world.items("NONCE#") == []
