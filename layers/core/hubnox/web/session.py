"""The settings session: a signed login link becomes a cookie bound to one portal, with CSRF protection.

- After the HubSpot install (or from the app card) hubnox hands the admin a login link carrying a
  short-lived, single-use token (`login` purpose).
- `GET /settings?login=...` checks it, claims its nonce, and answers with the session cookie:
  HttpOnly, Secure, SameSite=None and Partitioned, so it works inside HubSpot's iframe and nowhere
  else can read it. The cookie itself is a signed token (`session` purpose) naming the portal, the
  user and a CSRF secret.
- Every state-changing request must echo the CSRF secret (header `X-CSRF-Token` or form field
  `csrf_token`) and, when the browser sends an Origin, come from hubnox's own origin.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hubnox.errors import UnauthorizedError
from hubnox.web.signing import Signer

SESSION_COOKIE = "hubnox_session"
SESSION_TTL_SECONDS = 8 * 3600
LOGIN_TTL_SECONDS = 5 * 60
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class NonceClaimer(Protocol):
    """What the session needs of the nonce store: claim a value once."""

    def claim(self, kind: str, value: str, ttl_seconds: int) -> bool: ...


@dataclass(frozen=True)
class Session:
    """Who is looking at the settings page: a user of one HubSpot portal."""

    portal_id: str
    user: str
    csrf: str


def login_link(signer: Signer, public_base: str, portal_id: str, user: str) -> str:
    """A short-lived, single-use link that opens the settings page signed in to `portal_id`."""
    token = signer.sign("login", {"portal": portal_id, "user": user}, LOGIN_TTL_SECONDS)
    return f"{public_base}/settings?{urlencode({'login': token})}"


def start_session(signer: Signer, nonces: NonceClaimer, login_token: str) -> tuple[Session, Cookie]:
    """Trade a login token for a session and its cookie; a token works once."""
    claims = signer.verify("login", login_token)
    if not nonces.claim("login", str(claims["nonce"]), LOGIN_TTL_SECONDS + 60):
        raise UnauthorizedError("This sign-in link has already been used.", code="LINK_USED")
    session = Session(portal_id=str(claims["portal"]), user=str(claims.get("user", "")),
                      csrf=secrets.token_urlsafe(24))
    token = signer.sign("session", {"portal": session.portal_id, "user": session.user, "csrf": session.csrf},
                        SESSION_TTL_SECONDS)
    cookie = Cookie(
        name=SESSION_COOKIE,
        value=token,
        path="/",
        secure=True,
        http_only=True,
        max_age=SESSION_TTL_SECONDS,
        same_site=SameSite.NONE_MODE,
        custom_attributes=["Partitioned"],
    )
    return session, cookie


def cookie_value(cookies: list[str] | None, name: str = SESSION_COOKIE) -> str | None:
    """The value of cookie `name` from API Gateway v2's `cookies` list."""
    for item in cookies or []:
        for part in item.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value
    return None


def read_session(signer: Signer, cookies: list[str] | None) -> Session:
    """The session the request's cookie proves; UnauthorizedError when there is none or it is bad."""
    token = cookie_value(cookies)
    if not token:
        raise UnauthorizedError("You are not signed in. Open the settings from HubSpot.", code="NO_SESSION")
    claims = signer.verify("session", token)
    return Session(portal_id=str(claims["portal"]), user=str(claims.get("user", "")),
                   csrf=str(claims["csrf"]))


def check_csrf(session: Session, headers: Mapping[str, str], form: Mapping[str, str] | None,
               public_base: str) -> None:
    """Refuse a state-changing request without the session's CSRF secret, or from another origin."""
    lowered = {k.lower(): v for k, v in headers.items()}
    origin = lowered.get("origin")
    if origin and origin != "null" and _origin(origin) != _origin(public_base):
        raise UnauthorizedError("The request came from another site.", code="BAD_ORIGIN")
    sent = lowered.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD) or ""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise UnauthorizedError("The request is missing its CSRF token. Reload the page.", code="BAD_CSRF")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
