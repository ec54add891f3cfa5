"""The settings session: a sign-in bound to the browser that asked becomes a cookie bound to one
portal, with CSRF protection, that ends on logout, on deleting the portal's data and on reinstall.

- The HubSpot install's callback (the browser proved by the install cookie) starts the session at once.
- The app card hands the admin a login link carrying a short-lived, single-use token (`login`
  purpose) naming the portal and the user. The token alone signs no one in: `GET /settings?login=...`
  claims it and sends the browser through HubSpot's OAuth (see `ConnectionService.begin_login`),
  and only when HubSpot says that browser's user is the token's user in the token's portal does
  the session start. So a login link opened in somebody else's browser signs nobody in.
- The cookie is HttpOnly, Secure, SameSite=None and Partitioned, so it works inside HubSpot's
  iframe and nowhere else can read it. It is a signed token (`session` purpose) naming the portal,
  the user, a CSRF secret, the session's id and the portal's session generation at sign-in; every
  request that reads it checks the generation is still current and the session was not logged out.
- Every state-changing request must echo the CSRF secret (header `X-CSRF-Token`, form field or
  query parameter `csrf_token`) and, when the browser sends an Origin, come from hubnox's own origin.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hubnox.errors import UnauthorizedError
from hubnox.signing import Signer
from hubnox.sync.ports import NonceClaims

SESSION_COOKIE = "hubnox_session"
#: the browser secrets that bind HubSpot's OAuth callback to the browser that left for it
INSTALL_COOKIE = "hubnox_install"
LOGIN_COOKIE = "hubnox_login"
OAUTH_COOKIE_PATH = "/oauth/hubspot/"
SESSION_TTL_SECONDS = 8 * 3600
LOGIN_TTL_SECONDS = 5 * 60
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class SessionLedger(Protocol):
    """What the session needs to know whether it has ended (`hubnox.store.sessions.SessionStore`)."""

    def generation(self, portal_id: str) -> int: ...

    def ended(self, session_id: str) -> bool: ...


@dataclass(frozen=True)
class Session:
    """Who is looking at the settings page: a user of one HubSpot portal."""

    portal_id: str
    user: str
    csrf: str
    #: the id a logout ends; the portal's session generation at sign-in; when the cookie expires
    session_id: str = ""
    generation: int = 0
    expires_at: int = 0


@dataclass(frozen=True)
class LoginRequest:
    """Who a login link is for: a HubSpot user (`user_id`, as HubSpot numbers them) of one portal."""

    portal_id: str
    user: str
    user_id: str


def login_link(signer: Signer, public_base: str, portal_id: str, user: str, user_id: str = "") -> str:
    """A short-lived, single-use link that starts signing `user` in to `portal_id`'s settings; the
    browser that opens it must still prove through HubSpot that it is that user (see the module)."""
    token = signer.sign("login", {"portal": portal_id, "user": user, "uid": user_id}, LOGIN_TTL_SECONDS)
    return f"{public_base}/settings?{urlencode({'login': token})}"


def claim_login(signer: Signer, nonces: NonceClaims, login_token: str) -> LoginRequest:
    """The user and portal a genuine, unexpired login token names; a token works once."""
    claims = signer.verify("login", login_token)
    if not nonces.claim("login", str(claims["nonce"]), LOGIN_TTL_SECONDS + 60):
        raise UnauthorizedError("This sign-in link has already been used.", code="LINK_USED")
    return LoginRequest(portal_id=str(claims["portal"]), user=str(claims.get("user", "")),
                        user_id=str(claims.get("uid") or ""))


def start_session(signer: Signer, sessions: SessionLedger, portal_id: str, user: str) -> tuple[Session, Cookie]:
    """A new session of `user` in `portal_id` and its cookie; only call it once the browser is proven."""
    session = Session(portal_id=portal_id, user=user, csrf=secrets.token_urlsafe(24),
                      session_id=secrets.token_urlsafe(18), generation=sessions.generation(portal_id))
    token = signer.sign("session", {"portal": session.portal_id, "user": session.user, "csrf": session.csrf,
                                    "sid": session.session_id, "gen": session.generation},
                        SESSION_TTL_SECONDS)
    return session, session_cookie(token, SESSION_TTL_SECONDS)


def session_cookie(value: str, max_age: int) -> Cookie:
    """The session cookie with `value` (an empty value and max_age 0 clear it)."""
    return Cookie(
        name=SESSION_COOKIE,
        value=value,
        path="/",
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.NONE_MODE,
        custom_attributes=["Partitioned"],
    )


def browser_secret_cookie(name: str, value: str, max_age: int) -> Cookie:
    """A cookie holding the secret an OAuth state is bound to, sent back only to HubSpot's callback.

    Lax: sent when HubSpot's consent page sends the browser back here, never on cross-site posts.
    """
    return Cookie(name=name, value=value, path=OAUTH_COOKIE_PATH, secure=True, http_only=True,
                  max_age=max_age, same_site=SameSite.LAX_MODE)


def cleared_session_cookie() -> Cookie:
    """The cookie that makes the browser forget its session."""
    return session_cookie("", 0)


def cookie_value(cookies: list[str] | None, name: str = SESSION_COOKIE) -> str | None:
    """The value of cookie `name` from API Gateway v2's `cookies` list."""
    for item in cookies or []:
        for part in item.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value
    return None


def read_session(signer: Signer, sessions: SessionLedger, cookies: list[str] | None) -> Session:
    """The session the request's cookie proves, if it has not ended; UnauthorizedError otherwise."""
    token = cookie_value(cookies)
    if not token:
        raise UnauthorizedError("You are not signed in. Open the settings from HubSpot.", code="NO_SESSION")
    claims = signer.verify("session", token)
    session = Session(portal_id=str(claims["portal"]), user=str(claims.get("user", "")),
                      csrf=str(claims["csrf"]), session_id=str(claims.get("sid") or ""),
                      generation=int(claims.get("gen", -1)), expires_at=int(claims["exp"]))
    if (not session.session_id or session.generation != sessions.generation(session.portal_id)
            or sessions.ended(session.session_id)):
        raise UnauthorizedError("Your session has ended. Open the settings from HubSpot to sign in again.",
                                code="SESSION_ENDED")
    return session


def check_csrf(session: Session, headers: Mapping[str, str], form: Mapping[str, str] | None,
               public_base: str) -> None:
    """Refuse a state-changing request without the session's CSRF secret, or from another origin."""
    lowered = {k.lower(): v for k, v in headers.items()}
    origin = lowered.get("origin")
    if origin and origin != "null" and _origin(origin) != _origin(public_base):
        raise UnauthorizedError("The request came from another site.", code="BAD_ORIGIN")
    if lowered.get("sec-fetch-site") == "cross-site":
        raise UnauthorizedError("The request came from another site.", code="BAD_ORIGIN")
    sent = lowered.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD) or ""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise UnauthorizedError("The request did not carry this session's form (CSRF) token, so hubnox did "
                                "nothing.", code="BAD_CSRF", hint="Reload the settings page and try again.")


def _origin(url: str) -> str:
    """The scheme and host of `url`; an Origin that is no URL (say `https://[`) stands for no site of ours."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "invalid:"
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class RequestSessions:
    """The settings session of the request a router is handling: `read` for any route, `write` for a
    write, which also needs the session's CSRF token and hubnox's own origin (`check_csrf`)."""

    signer: Signer
    sessions: SessionLedger
    #: the Powertools router whose `current_event` is the request
    router: Any
    public_base: str

    def read(self) -> Session:
        """The request's session; `UnauthorizedError` without a live one."""
        return read_session(self.signer, self.sessions, self.router.current_event.cookies)

    def write(self) -> Session:
        """The request's session, once its CSRF token and origin are checked."""
        current = self.read()
        check_csrf(current, self.router.current_event.headers, None, self.public_base)
        return current
