"""Fortnox OAuth: the connect link, code exchange, refresh, client credentials and revoke.

All token calls go to `FORTNOX_AUTH_URL` (`/oauth-v1/token`, `/oauth-v1/revoke`) with the app's
client id and secret as HTTP Basic auth and a form body. None is retried here: codes are
single-use and so are Fortnox refresh tokens (every refresh returns a new one and spends the
old), so repeating a refresh whose answer was lost would break the connection. The token store
serialises refreshes and saves the new refresh token before the access token is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from hubnox.api_http import json_or_none, send_once
from hubnox.errors import BadRequestError, ConnectionBrokenError, HubnoxError, UserFixableError
from hubnox.fortnox.models import FortnoxTokens, tenant_of_access_token

SYSTEM = "Fortnox"
AUTHORIZE_PATH = "/oauth-v1/auth"
TOKEN_PATH = "/oauth-v1/token"
REVOKE_PATH = "/oauth-v1/revoke"

#: OAuth error codes that mean the grant (refresh token, consent) is gone for good
_GRANT_GONE = frozenset({"invalid_grant", "unauthorized_client", "access_denied"})


class FortnoxOAuth:
    """The OAuth endpoints for one Fortnox integration (client id and secret)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        client_id: str,
        client_secret: str,
        auth_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url.rstrip("/")
        self._clock = clock

    def authorize_url(self, scopes: Sequence[str], state: str, redirect_uri: str,
                      service_account: bool = False) -> str:
        """The connect link. `service_account` asks the admin to create a service account, which
        later lets hubnox use client credentials instead of single-use refresh tokens."""
        params = {
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "access_type": "offline",
            "response_type": "code",
        }
        if service_account:
            params["account_type"] = "service"
        return f"{self._auth_url}{AUTHORIZE_PATH}?{urlencode(params, quote_via=quote)}"

    def exchange_code(self, code: str, redirect_uri: str) -> FortnoxTokens:
        """Trade the code from the connect redirect for tokens (a code lives 10 minutes, once).

        A refused code raises `BadRequestError`: there is no connection yet to call broken.
        """
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token(data, {}, on_grant_gone=lambda message: BadRequestError(
            f"Fortnox did not accept the authorization code: {message}", code="FORTNOX_BAD_CODE",
            hint="Connect Fortnox again from the hubnox settings page."))

    def refresh(self, refresh_token: str) -> FortnoxTokens:
        """New tokens for a refresh token, which is spent by this call.

        Raises `ConnectionBrokenError` when Fortnox refuses it (already used, expired, revoked).
        """
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token(data, {}, on_grant_gone=_broken)

    def client_credentials(self, tenant_id: str | int) -> FortnoxTokens:
        """An access token for a service account's company (`TenantId` header); no refresh token.

        Raises `ConnectionBrokenError` when the company has not consented (or revoked it).
        """
        return self._token({"grant_type": "client_credentials"}, {"TenantId": str(tenant_id)},
                           on_grant_gone=_broken)

    def revoke(self, refresh_token: str) -> bool:
        """Revoke a refresh token (disconnect); answers whether Fortnox confirmed it."""
        data = {"token_type_hint": "refresh_token", "token": refresh_token}
        response = send_once(self._http, "POST", f"{self._auth_url}{REVOKE_PATH}", system=SYSTEM, data=data,
                             auth=(self._client_id, self._client_secret))
        body = json_or_none(response)
        if response.status_code != 200:
            raise _oauth_error(response, body, on_grant_gone=None)
        return bool(isinstance(body, dict) and body.get("revoked"))

    def _token(self, data: dict[str, str], headers: dict[str, str], *,
               on_grant_gone: Callable[[str], HubnoxError]) -> FortnoxTokens:
        response = send_once(self._http, "POST", f"{self._auth_url}{TOKEN_PATH}", system=SYSTEM, data=data,
                             headers=headers, auth=(self._client_id, self._client_secret))
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise _oauth_error(response, body, on_grant_gone=on_grant_gone)
        access_token = str(body["access_token"])
        expires_in = int(body.get("expires_in", 3600))
        return FortnoxTokens(
            access_token=access_token,
            refresh_token=body.get("refresh_token"),
            expires_in=expires_in,
            expires_at=self._clock() + expires_in,
            scopes=str(body.get("scope") or "").split(),
            token_type=str(body.get("token_type", "bearer")),
            tenant_id=tenant_of_access_token(access_token),
        )


def _broken(message: str) -> HubnoxError:
    return ConnectionBrokenError(SYSTEM, f"Fortnox no longer accepts hubnox's authorization: {message}")


def _oauth_error(response: httpx.Response, body: Any,
                 on_grant_gone: Callable[[str], HubnoxError] | None) -> HubnoxError:
    """The domain error for a refused OAuth call (`{error, error_description}`)."""
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "")
    message = str(body.get("error_description") or body.get("message") or error
                  or f"HTTP {response.status_code}")
    if "does not allow service account" in message.lower():
        return UserFixableError(
            f"Fortnox refused a service account: {message}", code="FORTNOX_SERVICE_ACCOUNT",
            hint="Enable service accounts for the integration in the Fortnox Developer Portal, or connect "
                 "Fortnox without a service account.")
    if error == "invalid_client" or (response.status_code == 401 and not error):
        return UserFixableError(
            f"Fortnox did not accept the integration's credentials: {message}", code="FORTNOX_CLIENT",
            hint="Check FORTNOX_CLIENT_ID and FORTNOX_CLIENT_SECRET in the deployment.")
    if on_grant_gone is not None and error in _GRANT_GONE:
        return on_grant_gone(message)
    return BadRequestError(f"Fortnox refused the OAuth request: {message}", code="FORTNOX_OAUTH")
