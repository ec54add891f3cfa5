"""The Fortnox simulator's auth host and bearer tokens.

  GET  /oauth-v1/auth     consents at once and answers 302 to redirect_uri?code=..&state=..;
                          creates a fresh company unless `sandbox_tenant=<DatabaseNumber>` names
                          one; `sandbox_deny=1` answers error=access_denied instead. A company
                          made with `grantableScopes` grants only those of the scopes asked for.
  POST /oauth-v1/token    HTTP Basic client auth; grant_type authorization_code (code single-use,
                          10 minutes, redirect_uri as sent to authorize), refresh_token (single-use,
                          rotates), client_credentials (header TenantId; needs a consent given with
                          account_type=service by that client; no refresh token).
  POST /oauth-v1/revoke   token_type_hint=refresh_token&token=... -> {"revoked": true}

Access tokens are JWT-shaped (claims tenantId, clientId, scope, exp, iat, jti), unsigned in any
verifiable way, like Fortnox's for which no public key exists. Any client id and secret work until
a client is registered through /_sandbox/clients/{clientId}. Each API route needs its scope
(`ROUTE_SCOPES`) and, for the company, a licence covering that scope (`SCOPE_LICENCES`).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError, OAuthError, Unauthorized
from sandbox.fortnox_fields import words
from sandbox.fortnox_state import (
    AccessToken,
    AuthCode,
    Client,
    Company,
    Consent,
    FortnoxState,
    Grant,
    RefreshToken,
)

SCOPES = words(
    "archive article bookkeeping companyinformation connectfile costcenter currency customer inbox "
    "invoice noxfinansinvoice offer order payment price print profile project salary settings "
    "supplier supplierinvoice timereporting"
)

#: a scope is usable when the company holds any of these licences (empty: no licence needed)
SCOPE_LICENCES: dict[str, frozenset[str]] = {
    "customer": frozenset({"order", "kundfaktura"}),
    "article": frozenset({"order", "kundfaktura"}),
    "invoice": frozenset({"order", "kundfaktura"}),
    "payment": frozenset({"order", "kundfaktura"}),
    "print": frozenset({"order", "kundfaktura"}),
    "price": frozenset({"order", "kundfaktura"}),
    "order": frozenset({"order"}),
    "currency": frozenset({"bokforing", "order", "kundfaktura"}),
    "settings": frozenset(),
    "companyinformation": frozenset(),
    "bookkeeping": frozenset({"bokforing", "order", "kundfaktura"}),
    "costcenter": frozenset({"bokforing", "order", "kundfaktura"}),
    "project": frozenset({"bokforing", "order", "kundfaktura"}),
}

AUTH_CODE_TTL = 600.0

REFRESH_TOKEN_TTL = 45 * 24 * 3600.0

#: the scope each API route needs, by its first path segment after /3/
ROUTE_SCOPES = {
    "customers": "customer",
    "articles": "article",
    "invoices": "invoice",
    "invoicepayments": "payment",
    "orders": "order",
    "prices": "price",
    "pricelists": "price",
    "printtemplates": "print",
    "termsofpayments": "settings",
    "wayofdeliveries": "settings",
    "currencies": "currency",
    "companyinformation": "companyinformation",
    "termsofdeliveries": "settings",
    "accounts": "bookkeeping",
    "costcenters": "costcenter",
    "projects": "project",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OAuthRoutes:
    """Authorize, token and revoke on the auth host, and the bearer check of every API request."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        return [
            ("/oauth-v1/auth", ("GET",), self._authorize),
            ("/oauth-v1/token", ("POST",), self._token),
            ("/oauth-v1/revoke", ("POST",), self._revoke),
        ]

    def _check_client(self, client_id: str, secret: str | None) -> Client:
        if not self.state.clients:
            return Client(client_id, secret or "")
        client = self.state.clients.get(client_id)
        if client is None or (secret is not None and not secrets.compare_digest(client.secret, secret)):
            raise OAuthError(401, "invalid_client", "Invalid client credentials")
        return client

    def _basic_auth(self, request: Request) -> Client:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise OAuthError(401, "invalid_client", "Client authentication with HTTP Basic is required")
        try:
            client_id, sep, secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (ValueError, binascii.Error) as exc:
            raise OAuthError(401, "invalid_client", "Malformed Basic credentials") from exc
        if not sep or not client_id:
            raise OAuthError(401, "invalid_client", "Malformed Basic credentials")
        return self._check_client(client_id, secret)

    def _authorize(self, request: Request) -> Response:
        query = request.args
        client_id = query.get("client_id")
        if not client_id:
            raise OAuthError(400, "invalid_request", "client_id is missing")
        client = self._check_client(client_id, None)
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "redirect_uri is missing (the sandbox registers none)")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OAuthError(400, "invalid_request", "redirect_uri must be an absolute http(s) URL")
        state = query.get("state")

        def refuse(error: str, description: str) -> Response:
            return self._redirect(redirect_uri, error=error, error_description=description, state=state)

        if query.get("response_type") != "code":
            return refuse(
                "unsupported_response_type" if query.get("response_type") else "invalid_request",
                "response_type must be code",
            )
        if not state:
            return refuse("invalid_request", "state is missing")
        scopes = tuple(query.get("scope", "").split())
        if not scopes:
            return refuse("invalid_request", "scope is missing")
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown:
            return refuse("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
        if query.get("access_type") not in (None, "offline", "online"):
            return refuse("invalid_request", "access_type must be offline")
        account_type = query.get("account_type")
        if account_type not in (None, "service"):
            return refuse("invalid_request", "account_type must be service")
        if account_type == "service" and not client.service_account:
            return refuse("unauthorized_client", "Client does not allow service account")
        if query.get("sandbox_deny") in ("1", "true"):
            return refuse("access_denied", "The user denied the request")
        company = self._company_for_consent(query.get("sandbox_tenant"))
        if company.grantable_scopes is not None:
            # Fortnox grants what the consenting user may give; the token's `scope` says which.
            scopes = tuple(scope for scope in scopes if scope in company.grantable_scopes)
        consent = self.state.consents.get((client_id, company.tenant_id))
        if consent is None:
            consent = self.state.consents[(client_id, company.tenant_id)] = Consent(
                client_id, company.tenant_id, scopes
            )
        consent.scopes = scopes
        consent.revoked = False
        consent.service = consent.service or account_type == "service"
        code = secrets.token_urlsafe(24)
        self.state.codes[code] = AuthCode(
            code,
            client_id,
            company.tenant_id,
            scopes,
            query.get("redirect_uri"),
            self.state.clock() + AUTH_CODE_TTL,
        )
        return self._redirect(redirect_uri, code=code, state=state)

    def _company_for_consent(self, sandbox_tenant: str | None) -> Company:
        if sandbox_tenant is None:
            return self.state.create_company()
        if not sandbox_tenant.isdigit() or int(sandbox_tenant) not in self.state.companies:
            raise OAuthError(400, "invalid_request", f"sandbox_tenant {sandbox_tenant} is no company here")
        return self.state.companies[int(sandbox_tenant)]

    @staticmethod
    def _redirect(uri: str, **params: str | None) -> Response:
        parts = urlsplit(uri)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, v) for k, v in params.items() if v is not None]
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
        return Response(status=302, headers={"Location": location})

    def _token(self, request: Request) -> Response:
        client = self._basic_auth(request)
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            body = self._exchange_code(client, request)
        elif grant_type == "refresh_token":
            body = self._refresh_grant(client, request.form.get("refresh_token", ""))
        elif grant_type == "client_credentials":
            body = self._client_credentials(client, request.headers.get("TenantId", ""))
        elif not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is missing")
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type}")
        return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _exchange_code(self, client: Client, request: Request) -> dict[str, Any]:
        code = self.state.codes.get(request.form.get("code", ""))
        if code is None or code.used or code.client_id != client.client_id or self.state.clock() >= code.expires_at:
            raise OAuthError(400, "invalid_grant", "Invalid authorization code")
        if code.redirect_uri is not None and request.form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the one sent to authorize")
        code.used = True
        consent = self.state.consents[(client.client_id, code.tenant_id)]
        if consent.revoked:
            raise OAuthError(400, "invalid_grant", "The consent behind this code has been revoked")
        grant = Grant(
            next(self.state.grant_ids), client.client_id, code.tenant_id, code.scopes, consent.generation
        )
        self.state.grants[grant.id] = grant
        return self._token_response(grant, with_refresh=True)

    def _refresh_grant(self, client: Client, token: str) -> dict[str, Any]:
        """Single-use rotation; reusing a spent token also kills the token issued in its place."""
        record = self.state.refresh_tokens.get(token)
        grant = self.state.grants.get(record.grant_id) if record else None
        invalid = OAuthError(400, "invalid_grant", "Invalid refresh token")
        if record is None or grant is None or grant.client_id != client.client_id:
            raise invalid
        if record.spent:
            grant.revoked = True
            raise invalid
        consent = self.state.consents.get((grant.client_id, grant.tenant_id))
        if (
            grant.revoked
            or self.state.clock() >= record.expires_at
            or consent is None
            or consent.revoked
            or consent.generation != grant.generation
        ):
            raise invalid
        record.spent = True
        return self._token_response(grant, with_refresh=True)

    def _client_credentials(self, client: Client, tenant_header: str) -> dict[str, Any]:
        if not tenant_header.strip():
            raise OAuthError(400, "invalid_request", "The TenantId header is missing")
        if not tenant_header.strip().isdigit():
            raise OAuthError(400, "invalid_request", "TenantId must be a number")
        consent = self.state.consents.get((client.client_id, int(tenant_header)))
        if consent is None or consent.revoked or not consent.service:
            raise OAuthError(
                400,
                "invalid_grant",
                "No service account consent for this client and tenant (authorize with "
                "account_type=service first)",
            )
        access = self._issue_access_token(
            client.client_id, consent.tenant_id, consent.scopes, consent.generation
        )
        return {
            "access_token": access.token,
            "scope": " ".join(access.scopes),
            "expires_in": self.state.token_ttl,
            "token_type": "bearer",
        }

    def _token_response(self, grant: Grant, *, with_refresh: bool) -> dict[str, Any]:
        access = self._issue_access_token(grant.client_id, grant.tenant_id, grant.scopes, grant.generation)
        body: dict[str, Any] = {"access_token": access.token}
        if with_refresh:
            refresh = RefreshToken(secrets.token_hex(16), grant.id, self.state.clock() + REFRESH_TOKEN_TTL)
            refresh.token = (
                f"{refresh.token[:8]}-{refresh.token[8:12]}-{refresh.token[12:16]}-"
                f"{refresh.token[16:20]}-{refresh.token[20:]}"
            )
            self.state.refresh_tokens[refresh.token] = refresh
            grant.refresh_token = refresh.token
            body["refresh_token"] = refresh.token
        body.update({"scope": " ".join(grant.scopes), "expires_in": self.state.token_ttl, "token_type": "bearer"})
        return body

    def _issue_access_token(
        self, client_id: str, tenant_id: int, scopes: tuple[str, ...], generation: int
    ) -> AccessToken:
        issued = int(self.state.wall_clock())
        claims = {
            "tenantId": tenant_id,
            "clientId": client_id,
            "scope": " ".join(scopes),
            "iat": issued,
            "exp": issued + self.state.token_ttl,
            "jti": secrets.token_hex(8),
            "iss": "sandbox.fortnox",
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": "sandbox"}
        token = ".".join(
            (
                _b64url(json.dumps(header).encode()),
                _b64url(json.dumps(claims).encode()),
                _b64url(secrets.token_bytes(64)),
            )
        )
        record = AccessToken(token, client_id, tenant_id, scopes, self.state.clock() + self.state.token_ttl, generation)
        self.state.access_tokens[token] = record
        return record

    def _revoke(self, request: Request) -> Response:
        client = self._basic_auth(request)
        token = request.form.get("token")
        if not token:
            raise OAuthError(400, "invalid_request", "token is missing")
        hint = request.form.get("token_type_hint", "refresh_token")
        if hint != "refresh_token":
            raise OAuthError(400, "unsupported_token_type", "Only refresh tokens can be revoked")
        record = self.state.refresh_tokens.get(token)
        grant = self.state.grants.get(record.grant_id) if record else None
        if grant is not None and grant.client_id == client.client_id:
            grant.revoked = True
        return json_response({"revoked": True})

    def access_token(self, request: Request) -> AccessToken | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        record = self.state.access_tokens.get(token.strip())
        if record is None or record.expired or self.state.clock() >= record.expires_at:
            return None
        consent = self.state.consents.get((record.client_id, record.tenant_id))
        if consent is None or consent.revoked or consent.generation != record.generation:
            return None
        return record

    def authorise(self, request: Request, scope: str) -> Company:
        record = self.access_token(request)
        if record is None:
            raise Unauthorized()
        if scope not in record.scopes:
            raise FortnoxError("SCOPE_MISSING", scope=scope)
        company = self.state.companies[record.tenant_id]
        needed = SCOPE_LICENCES.get(scope, frozenset())
        if needed and not needed & company.licences:
            raise FortnoxError("NO_LICENCE")
        return company
