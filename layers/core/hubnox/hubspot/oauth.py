"""HubSpot OAuth: the install link, code exchange, refresh and introspection.

Token calls go to the API host (`/oauth/2026-03/token`, form-encoded, client credentials in the
body); the install link goes to the app host (`HUBSPOT_AUTH_URL`). None of these calls is
retried here: a code is single-use, and the token store decides when to try a refresh again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from hubnox.api_http import json_or_none, send_once
from hubnox.errors import BadRequestError, ConnectionBrokenError, HubnoxError, UserFixableError
from hubnox.hubspot import paths
from hubnox.hubspot.models import HubSpotTokens, TokenInfo

SYSTEM = "HubSpot"


class HubSpotOAuth:
    """The OAuth endpoints for one HubSpot app (client id and secret)."""

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

    def authorize_url(self, scopes: Sequence[str], optional_scopes: Sequence[str], redirect_uri: str,
                      state: str) -> str:
        """The install link: HubSpot asks the admin to consent, then redirects with code and state."""
        params = {"client_id": self._client_id, "scope": " ".join(scopes)}
        if optional_scopes:
            params["optional_scope"] = " ".join(optional_scopes)
        params["redirect_uri"] = redirect_uri
        params["state"] = state
        return f"{self._auth_url}{paths.OAUTH_AUTHORIZE}?{urlencode(params, quote_via=quote)}"

    def exchange_code(self, code: str, redirect_uri: str) -> HubSpotTokens:
        """Trade the code from the install redirect for tokens.

        A code that is expired or already used raises `BadRequestError` (start the install
        again); there is no connection yet that could be "broken".
        """
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token(data, on_invalid_grant=lambda message: BadRequestError(
            f"HubSpot did not accept the authorization code: {message}", code="HUBSPOT_BAD_CODE",
            hint="Start the install again from the install link."))

    def refresh(self, refresh_token: str) -> HubSpotTokens:
        """A new access token; HubSpot may also return a new refresh token, which must be kept.

        A refresh token that is revoked, expired or unknown (BAD_REFRESH_TOKEN, invalid_grant)
        raises `ConnectionBrokenError`: the portal must reinstall.
        """
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        tokens = self._token(data, on_invalid_grant=lambda message: ConnectionBrokenError(
            SYSTEM, f"HubSpot no longer accepts the refresh token: {message}"))
        if tokens.refresh_token is None:
            return tokens.model_copy(update={"refresh_token": refresh_token})
        return tokens

    def introspect(self, token: str, token_type_hint: str = "access_token") -> TokenInfo:  # noqa: S107
        """What HubSpot knows about a token: whether it is active, its portal, app and scopes."""
        data = {"client_id": self._client_id, "client_secret": self._client_secret, "token": token,
                "token_type_hint": token_type_hint}
        response = send_once(self._http, "POST", paths.OAUTH_INTROSPECT, system=SYSTEM, data=data)
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise _oauth_error(response, body, None)
        return TokenInfo.model_validate(body)

    def _token(self, fields: dict[str, str], *,
               on_invalid_grant: Callable[[str], HubnoxError]) -> HubSpotTokens:
        data = {**fields, "client_id": self._client_id, "client_secret": self._client_secret}
        response = send_once(self._http, "POST", paths.OAUTH_TOKEN, system=SYSTEM, data=data)
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise _oauth_error(response, body, on_invalid_grant)
        expires_in = int(body.get("expires_in", 1800))
        return HubSpotTokens(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_in=expires_in,
            expires_at=self._clock() + expires_in,
            hub_id=body.get("hub_id"),
            scopes=list(body.get("scopes") or []),
            token_type=str(body.get("token_type", "bearer")),
        )


def _oauth_error(response: httpx.Response, body: Any,
                 on_invalid_grant: Callable[[str], HubnoxError] | None) -> HubnoxError:
    """The domain error for a refused OAuth call, from HubSpot's `{status, message, error}` body."""
    body = body if isinstance(body, dict) else {}
    status = str(body.get("status") or "")
    error = str(body.get("error") or "")
    message = str(body.get("message") or body.get("error_description") or f"HTTP {response.status_code}")
    if on_invalid_grant is not None and (error == "invalid_grant" or status in ("BAD_REFRESH_TOKEN",
                                                                                  "BAD_AUTH_CODE")):
        return on_invalid_grant(message)
    if error == "invalid_client" or status in ("BAD_CLIENT_ID", "BAD_CLIENT_SECRET"):
        return UserFixableError(
            f"HubSpot did not accept the app's credentials: {message}", code="HUBSPOT_CLIENT",
            hint="Check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET in the deployment.")
    return BadRequestError(f"HubSpot refused the OAuth request: {message}", code="HUBSPOT_OAUTH")
