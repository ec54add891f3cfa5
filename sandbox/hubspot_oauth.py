"""HubSpot's OAuth as the simulator plays it: the authorize page (consenting at once), the token
endpoint (authorization code, refresh token), introspection and revocation, and the bearer
tokens the API then accepts (reference hubspot.md §8).

Any client id and secret work: the first token exchange of a client id records its secret (or
`POST /_sandbox/apps` sets it), later exchanges must repeat it, and the simulator signs the
requests it sends to that app with it.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.common import SandboxError, json_response
from sandbox.hubspot_errors import ApiError

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator


@dataclass
class App:
    """A HubSpot app the simulator has met, known by its client id."""

    app_id: int
    client_id: str
    client_secret: str | None = None
    developer_api_key: str | None = None  # the `hapikey` of the developer account owning the app


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    portal_id: int
    scopes: list[str]
    user_id: int
    used: bool = False


@dataclass
class Grant:
    """An access or refresh token: who it acts for and with which scopes."""

    token: str
    kind: str  # "access" or "refresh"
    portal_id: int
    client_id: str
    app_id: int
    scopes: list[str]
    user_id: int
    expires_at: float | None = None  # simulator clock; refresh tokens do not expire
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def oauth_error(status: str, message: str, error: str = "invalid_grant", http_status: int = 400) -> ApiError:
    """The token endpoint's error: HubSpot's `status` code word plus the OAuth `error` pair."""
    body = {
        "status": status,
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": "VALIDATION_ERROR",
        "error": error,
        "error_description": message,
    }
    return ApiError(http_status, message, body=body)


BAD_REFRESH_TOKEN_MESSAGE = "refresh token is invalid, expired or revoked"


class OAuthRoutes:
    """The OAuth endpoints of the HubSpot simulator (a mixin of HubSpotSimulator)."""

    def _authorize(self: HubSpotSimulator, request: Request) -> Response:
        args = request.args
        client_id, redirect_uri = args.get("client_id"), args.get("redirect_uri")
        scope = args.get("scope", "")
        if not client_id or not redirect_uri or not scope.strip():
            raise ApiError(400, "client_id, redirect_uri and scope are required to authorize an app")
        state = args.get("state")
        if args.get("sandbox_deny") in ("1", "true"):
            return self._redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user declined to install the app.",
                    "state": state,
                },
            )
        portal = self._portal_for_install(args.get("sandbox_portal"))
        # The browser's HubSpot user: the portal's installing super admin unless `sandbox_user` names another.
        try:
            user_id = int(self.portal_user(portal, args.get("sandbox_user") or portal.user_id).id)
        except SandboxError as unknown:
            raise ApiError(400, unknown.message, "VALIDATION_ERROR") from unknown
        app = self.app_for_client(client_id)
        scopes = list(dict.fromkeys(scope.split() + args.get("optional_scope", "").split()))
        code = AuthCode(
            code=str(uuid.uuid4()),
            client_id=client_id,
            redirect_uri=redirect_uri,
            portal_id=portal.id,
            scopes=scopes,
            user_id=user_id,
        )
        self.codes[code.code] = code
        self.installs.pop((portal.id, app.client_id), None)  # keep the latest install last
        self.installs[(portal.id, app.client_id)] = True
        return self._redirect(redirect_uri, {"code": code.code, "state": state})

    def _redirect(self: HubSpotSimulator, target: str, params: dict[str, str | None]) -> Response:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return Response(status=302, headers={"Location": target + ("&" if "?" in target else "?") + query})

    def _portal_for_install(self: HubSpotSimulator, wanted: str | None) -> Any:
        if wanted:
            portal = self.portals.get(int(wanted)) if wanted.isdigit() else None
            if portal is None:
                raise ApiError(400, f"sandbox_portal {wanted} does not exist", "VALIDATION_ERROR")
            return portal
        return self.create_portal()

    def _token(self: HubSpotSimulator, request: Request) -> Response:
        form = request.form
        grant_type = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not client_id or not client_secret:
            raise oauth_error("BAD_CLIENT_ID", "client_id and client_secret are required", "invalid_client")
        if grant_type == "authorization_code":
            grant = self._exchange_code(form.get("code"), form.get("redirect_uri"), client_id)
        elif grant_type == "refresh_token":
            grant = self._refreshable(form.get("refresh_token"), client_id)
        else:
            raise oauth_error(
                "BAD_GRANT_TYPE",
                f"grant_type {grant_type!r} is not supported for this app",
                "unsupported_grant_type",
            )
        self._check_secret(client_id, client_secret)
        if grant_type == "authorization_code":
            grant = self._issue_refresh(grant)
        access = self._issue_access(grant)
        return json_response(
            {
                "token_type": "bearer",
                "refresh_token": grant.token,
                "access_token": access.token,
                "hub_id": access.portal_id,
                "user_id": access.user_id,
                "scopes": access.scopes,
                "expires_in": int(self.token_ttl),
                "token_use": "access_token",
            }
        )

    def _exchange_code(
        self: HubSpotSimulator, code_value: str | None, redirect_uri: str | None, client_id: str
    ) -> AuthCode:
        code = self.codes.get(code_value or "")
        if code is None or code.used:
            raise oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
        if code.client_id != client_id:
            raise oauth_error("BAD_CLIENT_ID", "client_id does not match the auth code", "invalid_client")
        if code.redirect_uri != redirect_uri:
            raise oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match initial auth code URL")
        return code

    def _refreshable(self: HubSpotSimulator, token: str | None, client_id: str) -> Grant:
        grant = self.refresh_tokens.get(token or "")
        if (
            grant is None
            or grant.revoked
            or grant.client_id != client_id
            or not self.installs.get((grant.portal_id, grant.client_id))
        ):
            raise oauth_error("BAD_REFRESH_TOKEN", BAD_REFRESH_TOKEN_MESSAGE)
        return grant

    def _check_secret(self: HubSpotSimulator, client_id: str, client_secret: str) -> None:
        app = self.app_for_client(client_id)
        if app.client_secret is None:
            app.client_secret = client_secret
        elif not secrets.compare_digest(app.client_secret, client_secret):
            raise oauth_error("BAD_CLIENT_SECRET", "client_secret does not match the app", "invalid_client")

    def _issue_refresh(self: HubSpotSimulator, code: Any) -> Grant:
        code.used = True
        app = self.app_for_client(code.client_id)
        grant = Grant(
            token=f"na1-{uuid.uuid4().hex[:4]}-{uuid.uuid4()}",
            kind="refresh",
            portal_id=code.portal_id,
            client_id=code.client_id,
            app_id=app.app_id,
            scopes=code.scopes,
            user_id=code.user_id,
        )
        self.refresh_tokens[grant.token] = grant
        return grant

    def _issue_access(self: HubSpotSimulator, refresh: Grant) -> Grant:
        grant = Grant(
            token="C" + secrets.token_urlsafe(48),
            kind="access",
            portal_id=refresh.portal_id,
            client_id=refresh.client_id,
            app_id=refresh.app_id,
            scopes=list(refresh.scopes),
            user_id=refresh.user_id,
            expires_at=self.clock() + self.token_ttl,
        )
        self.access_tokens[grant.token] = grant
        return grant

    def _introspect(self: HubSpotSimulator, request: Request) -> Response:
        """Describe a token. Known tokens that expired, were revoked or lost their install are
        described with `active: false`; an unknown token answers 400 BAD_TOKEN (a decision: the
        spec describes only the two known-token shapes)."""
        form = request.form
        token = form.get("token") or form.get("access_token") or form.get("refresh_token") or ""
        if form.get("client_id") and form.get("client_secret"):
            self._check_secret(form["client_id"], form["client_secret"])
        grant = self.access_tokens.get(token) or self.refresh_tokens.get(token)
        if grant is None:
            raise oauth_error("BAD_TOKEN", "token is invalid or unknown", "invalid_token")
        return json_response(self._token_info(grant))

    def _user_email(self: HubSpotSimulator, portal: Any, user_id: int) -> str:
        user = self.users.get(portal.id, {}).get(str(user_id))
        return user.email if user is not None else portal.user_email

    def _token_info(self: HubSpotSimulator, grant: Grant) -> dict[str, Any]:
        portal = self.portals[grant.portal_id]
        installed = bool(self.installs.get((grant.portal_id, grant.client_id)))
        info: dict[str, Any] = {
            "token": grant.token,
            "active": installed and not grant.revoked,
            "hub_id": grant.portal_id,
            "hub_domain": portal.hub_domain,
            "user_id": grant.user_id,
            "user": self._user_email(portal, grant.user_id),
            "app_id": grant.app_id,
            "client_id": grant.client_id,
            "scopes": grant.scopes,
        }
        if grant.kind == "refresh":
            return {**info, "token_type": "refresh", "token_use": "refresh_token"}
        assert grant.expires_at is not None
        remaining = max(0, int(grant.expires_at - self.clock()))
        info["active"] = info["active"] and remaining > 0
        expires_at_ms = self.now_ms() + remaining * 1000
        return {
            **info,
            "token_type": "access",
            "token_use": "access_token",
            "expires_in": remaining,
            "is_private_distribution": False,
            "signed_access_token": {
                "appId": grant.app_id,
                "hubId": grant.portal_id,
                "userId": grant.user_id,
                "installingUserId": portal.user_id,
                "expiresAt": expires_at_ms,
                "scopes": " ".join(grant.scopes),
                "trialScopes": "",
                "scopeToScopeGroupPks": "",
                "trialScopeToScopeGroupPks": "",
                "hublet": "eu1",
                "isUserLevel": False,
                "isServiceAccount": False,
                "isPrivateDistribution": False,
                "audience": grant.client_id,
                "appInstallId": f"{grant.app_id}-{grant.portal_id}",
                "newSignature": "",
                "signature": "",
            },
        }

    def _revoke(self: HubSpotSimulator, request: Request) -> Response:
        token = request.form.get("token", "")
        grant = self.access_tokens.get(token) or self.refresh_tokens.get(token)
        if grant is not None:
            grant.revoked = True
        return Response(status=204)

    def authenticate(self: HubSpotSimulator, request: Request) -> Grant:
        """The access token a request carries, or HubSpot's 401 for a missing, unknown, revoked,
        uninstalled or expired one."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise ApiError(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        grant = self.access_tokens.get(header[7:].strip())
        if grant is None or grant.revoked or not self.installs.get((grant.portal_id, grant.client_id)):
            raise ApiError(
                401,
                "The OAuth token used to make this call is not valid: it is unknown, revoked, "
                "or the app was uninstalled.",
                "INVALID_AUTHENTICATION",
            )
        assert grant.expires_at is not None
        expired_for = self.clock() - grant.expires_at
        if expired_for >= 0:
            minutes = int(expired_for // 60)
            raise ApiError(
                401,
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )
        return grant

    def require_scope(self: HubSpotSimulator, grant: Grant, alternatives: tuple[str, ...]) -> None:
        """HubSpot's 403 MISSING_SCOPES unless the token holds one of the alternatives."""
        if alternatives and not set(alternatives) & set(grant.scopes):
            raise ApiError(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more about "
                "required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": list(alternatives)},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )
