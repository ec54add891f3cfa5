"""Everything hubnox hands out is signed and expires: OAuth state, login links, sessions, Replay links.

A token is `base64url(json payload) "." base64url(HMAC-SHA256(key, purpose "." payload))`. The purpose
is part of what is signed, so a token made for one use (say a Replay link) is refused for another (a
session). Single use, where a token needs it (OAuth state, login links), is the caller's job: the
payload carries a random nonce that the caller claims once in the nonce store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from hubnox.errors import UnauthorizedError

Clock = Callable[[], float]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks purpose-bound, expiring tokens with one secret key."""

    def __init__(self, key: str | bytes, clock: Clock = time.time) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        self._key = raw
        self._clock = clock

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._key, f"{purpose}.{body}".encode(), hashlib.sha256).digest()
        return _b64encode(digest)

    def sign(self, purpose: str, payload: dict[str, Any], ttl_seconds: int) -> str:
        """A token for `purpose` carrying `payload`, valid for `ttl_seconds`, with a fresh nonce."""
        claims = {**payload, "exp": int(self._clock()) + ttl_seconds, "nonce": secrets.token_urlsafe(12)}
        body = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str) -> dict[str, Any]:
        """The payload of a genuine, unexpired token made for `purpose`; UnauthorizedError otherwise."""
        body, _, mac = (token or "").partition(".")
        if not body or not mac:
            raise UnauthorizedError("The link or token is malformed.", code="MALFORMED_TOKEN")
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            raise UnauthorizedError("The link or token is not genuine.", code="BAD_SIGNATURE")
        try:
            claims = json.loads(_b64decode(body))
        except ValueError as exc:
            raise UnauthorizedError("The link or token is malformed.", code="MALFORMED_TOKEN") from exc
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            raise UnauthorizedError("The link or token is malformed.", code="MALFORMED_TOKEN")
        if claims["exp"] < self._clock():
            raise UnauthorizedError("The link or token has expired.", code="EXPIRED")
        return claims
