"""HubSpot request signatures: the official vectors, HubSpot's own SDK, and every way to get it wrong."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from hubnox.errors import UnauthorizedError
from hubnox.hubspot.signature import (
    MAX_AGE_MS,
    MAX_FUTURE_SKEW_MS,
    public_uri,
    signature_v2,
    signature_v3,
    v3_uri,
    verify_event,
    verify_request,
    verify_v2,
    verify_v3,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
BODY = b'{"example_field":"example_value"}'
NOW = 1_700_000_000_000
PUBLIC = "https://hubnox.example.com"


# -- the published vectors ----------------------------------------------------------------------------


def test_v2_matches_hubspots_published_vector_for_a_get_without_body() -> None:
    expected = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert signature_v2("GET", URI, b"", SECRET) == expected
    verify_v2("GET", URI, b"", expected, SECRET)


def test_v2_matches_hubspots_published_vector_for_a_post_with_body() -> None:
    expected = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    assert signature_v2("POST", URI, BODY, SECRET) == expected
    verify_v2("POST", URI, BODY, expected, SECRET)


def test_v3_matches_the_reference_vector() -> None:
    expected = "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o="
    assert signature_v3("POST", URI, BODY, str(NOW), SECRET) == expected
    verify_v3("POST", URI, BODY, str(NOW), expected, SECRET, now_ms=NOW)


# -- cross-checks with HubSpot's own SDK --------------------------------------------------------------

CASES = [
    (
        "POST",
        "https://hubnox.example.com/hubspot/actions/create-document",
        '{"callbackId":"ap-1","origin":{}}',
    ),
    ("GET", "https://hubnox.example.com/hubspot/card?portalId=4242&associatedObjectId=1001", ""),
    ("POST", "https://hubnox.example.com/hubspot/card/actions/replay?userEmail=anna@example.se", '{"å":"ö"}'),
]


@pytest.mark.parametrize(("method", "uri", "body"), CASES)
def test_v2_agrees_with_the_hubspot_sdk(method: str, uri: str, body: str) -> None:
    sdk = Signature.get_signature(
        client_secret=SECRET, request_body=body, signature_version="v2", http_uri=uri, http_method=method
    )
    assert signature_v2(method, uri, body.encode(), SECRET) == sdk


@pytest.mark.parametrize(("method", "uri", "body"), CASES)
def test_v3_agrees_with_the_hubspot_sdk(method: str, uri: str, body: str) -> None:
    timestamp = str(int(time.time() * 1000))
    sdk = Signature.get_signature(
        client_secret=SECRET,
        request_body=body,
        signature_version="v3",
        http_uri=uri,
        http_method=method,
        timestamp=timestamp,
    )
    ours = signature_v3(method, uri, body.encode(), timestamp, SECRET)
    assert ours == sdk
    assert Signature.is_valid(
        signature=ours,
        client_secret=SECRET,
        request_body=body,
        http_uri=uri,
        http_method=method,
        signature_version="v3",
        timestamp=timestamp,
    )


# -- what v3 refuses ----------------------------------------------------------------------------------


def sign(timestamp: int, body: bytes = BODY, uri: str = URI, secret: str = SECRET) -> str:
    return signature_v3("POST", uri, body, str(timestamp), secret)


def test_a_request_older_than_five_minutes_is_refused() -> None:
    sent = NOW - MAX_AGE_MS - 1
    with pytest.raises(UnauthorizedError) as caught:
        verify_v3("POST", URI, BODY, str(sent), sign(sent), SECRET, now_ms=NOW)
    assert caught.value.code == "SIGNATURE_STALE"


def test_a_request_exactly_five_minutes_old_is_still_accepted() -> None:
    sent = NOW - MAX_AGE_MS
    verify_v3("POST", URI, BODY, str(sent), sign(sent), SECRET, now_ms=NOW)


def test_a_timestamp_slightly_ahead_of_our_clock_is_accepted_as_skew() -> None:
    sent = NOW + MAX_FUTURE_SKEW_MS
    verify_v3("POST", URI, BODY, str(sent), sign(sent), SECRET, now_ms=NOW)


def test_a_timestamp_far_in_the_future_is_refused() -> None:
    sent = NOW + MAX_FUTURE_SKEW_MS + 1
    with pytest.raises(UnauthorizedError) as caught:
        verify_v3("POST", URI, BODY, str(sent), sign(sent), SECRET, now_ms=NOW)
    assert caught.value.code == "SIGNATURE_FUTURE"


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(UnauthorizedError) as caught:
        verify_v3("POST", URI, BODY.replace(b"value", b"VALUE"), str(NOW), sign(NOW), SECRET, now_ms=NOW)
    assert caught.value.code == "SIGNATURE_MISMATCH"


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(UnauthorizedError):
        verify_v3("POST", URI, BODY, str(NOW), sign(NOW, secret="other-secret"), SECRET, now_ms=NOW)


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(UnauthorizedError) as caught:
        verify_v3("POST", URI, BODY, "yesterday", sign(NOW), SECRET, now_ms=NOW)
    assert caught.value.code == "SIGNATURE_TIMESTAMP"


def test_a_changed_timestamp_breaks_the_signature() -> None:
    with pytest.raises(UnauthorizedError):
        verify_v3("POST", URI, BODY, str(NOW + 1), sign(NOW), SECRET, now_ms=NOW)


def test_v2_refuses_a_wrong_secret_and_a_tampered_body() -> None:
    good = signature_v2("POST", URI, BODY, SECRET)
    with pytest.raises(UnauthorizedError):
        verify_v2("POST", URI, BODY, good, "other-secret")
    with pytest.raises(UnauthorizedError):
        verify_v2("POST", URI, BODY + b" ", good, SECRET)


# -- the URI as HubSpot signed it ---------------------------------------------------------------------


def test_v3_decodes_only_the_listed_escapes_in_either_case() -> None:
    assert v3_uri("https://h.example/p?u=https%3A%2F%2Fx.example%2Fa%20b%26c%3dd&m=a%40b%2c%3a") == (
        "https://h.example/p?u=https://x.example/a%20b%26c%3dd&m=a@b,:"
    )
    assert v3_uri("%21%24%27%28%29%2A%3B%3F") == "!$'()*;?"


def test_a_re_encoded_colon_verifies_against_the_signature_over_the_plain_colon() -> None:
    signed_uri = f"{PUBLIC}/hubspot/card?returnUrl=https://app.hubspot.com/x&q=a%20b"
    signature = signature_v3("GET", signed_uri, b"", str(NOW), SECRET)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(NOW)}

    version = verify_request(
        method="GET",
        headers=headers,
        raw_path="/hubspot/card",
        raw_query="returnUrl=https%3A%2F%2Fapp.hubspot.com%2Fx&q=a%20b",
        body=None,
        is_base64_encoded=False,
        client_secret=SECRET,
        public_base_url=PUBLIC,
        now_ms=NOW,
    )
    assert version == "v3"


def test_a_space_must_stay_encoded_in_the_v3_uri() -> None:
    signature = signature_v3("GET", f"{PUBLIC}/hubspot/card?q=a b", b"", str(NOW), SECRET)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(NOW)}
    with pytest.raises(UnauthorizedError):
        verify_request(
            method="GET",
            headers=headers,
            raw_path="/hubspot/card",
            raw_query="q=a%20b",
            body=None,
            is_base64_encoded=False,
            client_secret=SECRET,
            public_base_url=PUBLIC,
            now_ms=NOW,
        )


def test_the_query_order_is_part_of_the_signature() -> None:
    signature = signature_v3("GET", f"{PUBLIC}/hubspot/card?portalId=1&userId=2", b"", str(NOW), SECRET)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(NOW)}
    with pytest.raises(UnauthorizedError):
        verify_request(
            method="GET",
            headers=headers,
            raw_path="/hubspot/card",
            raw_query="userId=2&portalId=1",
            body=None,
            is_base64_encoded=False,
            client_secret=SECRET,
            public_base_url=PUBLIC,
            now_ms=NOW,
        )


def test_the_uri_comes_from_the_public_base_url_not_the_internal_host() -> None:
    assert public_uri("https://hubnox.example.com/", "/hubspot/card", "a=1") == (
        "https://hubnox.example.com/hubspot/card?a=1"
    )
    assert (
        public_uri("https://hubnox.example.com", "/hubspot/card", "")
        == "https://hubnox.example.com/hubspot/card"
    )


def test_a_stage_in_the_public_base_url_is_not_repeated() -> None:
    base = "https://abc.execute-api.eu-north-1.amazonaws.com/prod"
    assert public_uri(base, "/prod/hubspot/card", "") == f"{base}/hubspot/card"
    assert public_uri(base, "/hubspot/card", "") == f"{base}/hubspot/card"
    assert public_uri(base, "/production/x", "") == f"{base}/production/x"


# -- whole requests as API Gateway hands them over ----------------------------------------------------


def event(headers: dict[str, str], body: str | None = None, b64: bool = False) -> dict[str, Any]:
    return {
        "method": "POST",
        "headers": headers,
        "raw_path": "/hubspot/actions/create-document",
        "raw_query": "",
        "body": body,
        "is_base64_encoded": b64,
        "client_secret": SECRET,
        "public_base_url": PUBLIC,
        "now_ms": NOW,
    }


ACTION_URI = f"{PUBLIC}/hubspot/actions/create-document"
ACTION_BODY = json.dumps(
    {"callbackId": "ap-1", "origin": {"portalId": 4242}, "inputFields": {"kind": "invoice"}}
)


def v3_headers(body: bytes = ACTION_BODY.encode()) -> dict[str, str]:
    return {
        "x-hubspot-signature-v3": signature_v3("POST", ACTION_URI, body, str(NOW), SECRET),
        "x-hubspot-request-timestamp": str(NOW),
    }


def v2_headers(body: bytes = ACTION_BODY.encode()) -> dict[str, str]:
    return {
        "X-HubSpot-Signature": signature_v2("POST", ACTION_URI, body, SECRET),
        "X-HubSpot-Signature-Version": "v2",
    }


def test_a_request_signed_both_ways_is_checked_with_v3() -> None:
    headers = {**v3_headers(), "X-HubSpot-Signature": "0" * 64, "X-HubSpot-Signature-Version": "v2"}
    assert verify_request(**event(headers, ACTION_BODY)) == "v3"


def test_a_bad_v3_is_not_rescued_by_a_good_v2() -> None:
    headers = {**v2_headers(), "X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": str(NOW)}
    with pytest.raises(UnauthorizedError):
        verify_request(**event(headers, ACTION_BODY))


def test_a_request_signed_only_with_v2_falls_back_to_v2() -> None:
    assert verify_request(**event(v2_headers(), ACTION_BODY)) == "v2"


def test_a_v2_signature_over_another_body_is_refused() -> None:
    with pytest.raises(UnauthorizedError):
        verify_request(**event(v2_headers(b"{}"), ACTION_BODY))


def test_a_base64_encoded_body_is_decoded_before_checking() -> None:
    encoded = base64.b64encode(ACTION_BODY.encode()).decode()
    assert verify_request(**event(v3_headers(), encoded, b64=True)) == "v3"


def test_a_body_that_is_not_base64_is_refused() -> None:
    with pytest.raises(UnauthorizedError):
        verify_request(**event(v3_headers(), "not base64!!", b64=True))


def test_v3_without_a_timestamp_is_refused() -> None:
    headers = {"X-HubSpot-Signature-v3": v3_headers()["x-hubspot-signature-v3"]}
    with pytest.raises(UnauthorizedError) as caught:
        verify_request(**event(headers, ACTION_BODY))
    assert caught.value.code == "SIGNATURE_TIMESTAMP"


def test_a_v1_signature_is_not_accepted() -> None:
    headers = {"X-HubSpot-Signature": "abc", "X-HubSpot-Signature-Version": "v1"}
    with pytest.raises(UnauthorizedError) as caught:
        verify_request(**event(headers, ACTION_BODY))
    assert caught.value.code == "SIGNATURE_VERSION"


def test_an_unsigned_request_is_refused() -> None:
    with pytest.raises(UnauthorizedError) as caught:
        verify_request(**event({}, ACTION_BODY))
    assert caught.value.code == "SIGNATURE_MISSING"


def test_without_a_configured_secret_nothing_verifies() -> None:
    arguments = {**event(v3_headers(), ACTION_BODY), "client_secret": ""}
    with pytest.raises(UnauthorizedError):
        verify_request(**arguments)


def test_a_whole_api_gateway_event_is_verified() -> None:
    body = base64.b64encode(ACTION_BODY.encode()).decode()
    api_event = {
        "version": "2.0",
        "rawPath": "/hubspot/actions/create-document",
        "rawQueryString": "",
        "headers": v3_headers(),
        "requestContext": {"domainName": "internal.execute-api.local", "http": {"method": "POST"}},
        "body": body,
        "isBase64Encoded": True,
    }
    assert verify_event(api_event, client_secret=SECRET, public_base_url=PUBLIC, now_ms=NOW) == "v3"
    with pytest.raises(UnauthorizedError):
        verify_event(
            {**api_event, "rawPath": "/hubspot/card"},
            client_secret=SECRET,
            public_base_url=PUBLIC,
            now_ms=NOW,
        )
