"""HubSpot's request signatures, computed the way HubSpot computes them when it calls an app.

The HubSpot simulator signs what it sends to the app with these functions. hubnox verifies
signatures with its own code in the layer: the two are written apart on purpose, so that a
mistake in one shows up as a failed verification against the other.

- v1: hex SHA-256 of `secret + body` (webhooks).
- v2: hex SHA-256 of `secret + METHOD + URI + body` (workflow actions, classic CRM cards).
- v3: base64 HMAC-SHA256, keyed with the client secret, of `METHOD + URI + body + timestamp`,
  where the URI has a fixed set of percent-escapes decoded (everything else stays encoded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import unquote

# The only escapes HubSpot decodes in the URI before computing a v3 signature.
_V3_DECODED_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def sign_v1(secret: str, body: str) -> str:
    """The v1 signature: hex SHA-256 of the client secret followed by the body."""
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: str = "") -> str:
    """The v2 signature: hex SHA-256 of secret, upper-case method, exact URI and body."""
    return hashlib.sha256(f"{secret}{method.upper()}{uri}{body}".encode()).hexdigest()


def v3_uri(uri: str) -> str:
    """The URI as it enters a v3 signature: only `: / ? @ ! $ ' ( ) * , ;` are decoded."""
    return _V3_DECODED_ESCAPES.sub(lambda match: unquote(match.group(0)), uri)


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp_ms: int | str) -> str:
    """The v3 signature: base64 HMAC-SHA256 (key: client secret) of method, URI, body, timestamp."""
    source = f"{method.upper()}{v3_uri(uri)}{body}{timestamp_ms}"
    digest = hmac.new(secret.encode(), source.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(
    secret: str, method: str, uri: str, body: str, timestamp_ms: int, versions: tuple[str, ...] = ("v2", "v3")
) -> dict[str, str]:
    """The headers HubSpot adds to a request it sends to an app, for the given versions."""
    headers: dict[str, str] = {}
    if "v1" in versions:
        headers["X-HubSpot-Signature"] = sign_v1(secret, body)
        headers["X-HubSpot-Signature-Version"] = "v1"
    if "v2" in versions:
        headers["X-HubSpot-Signature"] = sign_v2(secret, method, uri, body)
        headers["X-HubSpot-Signature-Version"] = "v2"
    if "v3" in versions:
        headers["X-HubSpot-Signature-v3"] = sign_v3(secret, method, uri, body, timestamp_ms)
        headers["X-HubSpot-Request-Timestamp"] = str(timestamp_ms)
    return headers
