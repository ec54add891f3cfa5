"""HubSpot request signatures (v3 and v2): proof that a request to hubnox came from HubSpot.

v3 (`X-HubSpot-Signature-v3`, `X-HubSpot-Request-Timestamp`): base64 HMAC-SHA256, keyed with the
app's client secret, of METHOD + URI + body + timestamp, where the URI has a fixed set of
percent-escapes decoded. v2 (`X-HubSpot-Signature`, `X-HubSpot-Signature-Version: v2`): hex
SHA-256 of secret + METHOD + URI + body, with the URI exactly as sent.

The URI is the one HubSpot called, rebuilt from `PUBLIC_BASE_URL` (never the internal host the
request arrived on) plus the raw path and raw query string.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from hubnox.errors import UnauthorizedError

#: v3 timestamps older than this are refused (HubSpot's documented 5 minutes)
MAX_AGE_MS = 5 * 60 * 1000
#: v3 timestamps ahead of our clock by more than this are refused. HubSpot never signs a future
#: moment, so anything ahead is clock skew; a minute covers skew without stretching the
#: replay window beyond what HubSpot documents.
MAX_FUTURE_SKEW_MS = 60 * 1000

#: the only escapes HubSpot decodes in the v3 URI; everything else stays encoded
_V3_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_V3_ESCAPE = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


def v3_uri(uri: str) -> str:
    """The URI as v3 signs it: the listed escapes decoded (either case), all others kept."""
    return _V3_ESCAPE.sub(lambda match: _V3_DECODED[match.group(0).upper()], uri)


def signature_v3(method: str, uri: str, body: bytes, timestamp: str, client_secret: str) -> str:
    """The v3 signature HubSpot sends for this request."""
    message = method.upper().encode() + v3_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v2(method: str, uri: str, body: bytes, client_secret: str) -> str:
    """The v2 signature HubSpot sends for this request."""
    message = client_secret.encode() + method.upper().encode() + uri.encode() + body
    return hashlib.sha256(message).hexdigest()


def verify_v3(method: str, uri: str, body: bytes, timestamp: str, signature: str, client_secret: str,
              now_ms: int) -> None:
    """Accept a v3-signed request or raise `UnauthorizedError` saying why not.

    Refuses timestamps more than 5 minutes old or more than a minute ahead of `now_ms`.
    """
    try:
        sent_ms = int(timestamp.strip())
    except (AttributeError, ValueError):
        raise UnauthorizedError("The request timestamp is not a number.",
                                code="SIGNATURE_TIMESTAMP") from None
    if now_ms - sent_ms > MAX_AGE_MS:
        raise UnauthorizedError("The request is older than 5 minutes.", code="SIGNATURE_STALE")
    if sent_ms - now_ms > MAX_FUTURE_SKEW_MS:
        raise UnauthorizedError("The request timestamp lies in the future.", code="SIGNATURE_FUTURE")
    expected = signature_v3(method, uri, body, timestamp.strip(), client_secret)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise UnauthorizedError("The v3 signature does not match.", code="SIGNATURE_MISMATCH")


def verify_v2(method: str, uri: str, body: bytes, signature: str, client_secret: str) -> None:
    """Accept a v2-signed request or raise `UnauthorizedError`. v2 has no timestamp."""
    expected = signature_v2(method, uri, body, client_secret)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise UnauthorizedError("The v2 signature does not match.", code="SIGNATURE_MISMATCH")


def public_uri(public_base_url: str, raw_path: str, raw_query: str) -> str:
    """The URI HubSpot called: the public base URL, the raw path and the raw query string.

    When the base URL carries a path (a stage or base path mapping, e.g. `/prod`) that the
    raw path already starts with, it is not repeated.
    """
    base = public_base_url.rstrip("/")
    prefix = urlsplit(base).path
    path = raw_path if raw_path.startswith("/") else f"/{raw_path}"
    if prefix and (path == prefix or path.startswith(f"{prefix}/")):
        base = base[: len(base) - len(prefix)]
    uri = f"{base}{path}"
    return f"{uri}?{raw_query}" if raw_query else uri


def request_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The raw body bytes from an API Gateway event (base64-decoded when flagged)."""
    if not body:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise UnauthorizedError("The request body is not valid base64.", code="SIGNATURE_BODY") from None
    return body.encode("utf-8")


def verify_request(
    *,
    method: str,
    headers: Mapping[str, str],
    raw_path: str,
    raw_query: str,
    body: str | None,
    is_base64_encoded: bool,
    client_secret: str,
    public_base_url: str,
    now_ms: int,
) -> str:
    """Check the signature of a request HubSpot sent to hubnox; answers the version checked.

    Takes the pieces of an API Gateway v2 event. Uses v3 whenever HubSpot sent it (a bad v3 is
    not rescued by a good v2) and falls back to v2 only when v3 headers are absent. Raises
    `UnauthorizedError` with the reason otherwise.
    """
    if not client_secret:
        raise UnauthorizedError("No HubSpot client secret is configured.", code="SIGNATURE_CONFIG")
    lowered = {name.lower(): value for name, value in headers.items()}
    uri = public_uri(public_base_url, raw_path, raw_query)
    payload = request_body(body, is_base64_encoded)
    v3 = lowered.get("x-hubspot-signature-v3")
    if v3:
        timestamp = lowered.get("x-hubspot-request-timestamp")
        if not timestamp:
            raise UnauthorizedError("The v3 signature comes without a timestamp.", code="SIGNATURE_TIMESTAMP")
        verify_v3(method, uri, payload, timestamp, v3, client_secret, now_ms)
        return "v3"
    legacy = lowered.get("x-hubspot-signature")
    version = (lowered.get("x-hubspot-signature-version") or "").strip().lower()
    if legacy and version == "v2":
        verify_v2(method, uri, payload, legacy, client_secret)
        return "v2"
    if legacy:
        raise UnauthorizedError(f"Signature version {version or 'v1'} is not accepted.",
                                code="SIGNATURE_VERSION")
    raise UnauthorizedError("The request is not signed by HubSpot.", code="SIGNATURE_MISSING")


def verify_event(event: Mapping[str, Any], *, client_secret: str, public_base_url: str, now_ms: int) -> str:
    """`verify_request` for a whole API Gateway v2 (HTTP API) event; answers the version checked."""
    context = event.get("requestContext") or {}
    method = str((context.get("http") or {}).get("method") or "")
    return verify_request(
        method=method,
        headers=event.get("headers") or {},
        raw_path=str(event.get("rawPath") or "/"),
        raw_query=str(event.get("rawQueryString") or ""),
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded")),
        client_secret=client_secret,
        public_base_url=public_base_url,
        now_ms=now_ms,
    )
