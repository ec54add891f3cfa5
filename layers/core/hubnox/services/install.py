"""Install and connections: installing hubnox in HubSpot, signing a browser in from the app card's
link, and connecting and disconnecting Fortnox, each with signed single-use OAuth state
(`ConnectionService`), and the oauth function's routes over it (`oauth_router`). The tokens these
flows store are kept fresh by `hubnox.tokens`.

The other end of an installation lives here too: `UninstallService`, the one place an uninstall is
handled (HubSpot's uninstall event and a refused refresh token), `PortalDeletion`, the one way a
portal's data is deleted (the settings page's "delete" and the retention purge), and
`UninstalledDataPurge`, which deletes the data of portals uninstalled longer than the retention
period. A reinstall through `ConnectionService.finish_hubspot_install` undoes an uninstall.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie

from hubnox.config import AppConfig
from hubnox.errors import BadRequestError, HubnoxError, NotFoundError, UnauthorizedError, UserFixableError
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.fortnox.scopes import PAYMENT_SCOPE
from hubnox.hubspot.app_properties import ensure_app_properties, stamp_version
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.errors import MissingScopesError
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.observability import logger, metrics
from hubnox.records import FortnoxConnection, HubSpotConnection
from hubnox.services.connection_health import ConnectionHealthService
from hubnox.signing import Signer
from hubnox.store.connections import ConnectionStore, FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.store.nonces import NonceStore
from hubnox.store.portals import PortalDataStore
from hubnox.store.sessions import SessionStore
from hubnox.sync.ports import Cursors
from hubnox.web.responses import body_text, form_fields, message_page, redirect
from hubnox.web.session import (
    CSRF_FIELD,
    INSTALL_COOKIE,
    LOGIN_COOKIE,
    Session,
    browser_secret_cookie,
    check_csrf,
    claim_login,
    cookie_value,
    read_session,
    start_session,
)

#: the scope of HubSpot's users API, through which hubnox asks whether a user is a super admin
USERS_READ_SCOPE = "settings.users.read"
ONLY_SUPER_ADMINS = "Only super admins of this HubSpot account can change hubnox's settings."

HUBSPOT_SCOPES = (
    "oauth",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.line_items.read",
    "crm.objects.products.read",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.schemas.companies.write",
    "crm.schemas.contacts.write",
    "files",
    "automation",
)
#: optional: a portal that withholds one loses only what needs it (tax rates, the deal owner's name,
#: super admins other than the installer opening the settings)
HUBSPOT_OPTIONAL_SCOPES = ("tax_rates.read", "crm.objects.owners.read", USERS_READ_SCOPE)
FORTNOX_SCOPES = (
    "customer",
    "article",
    "invoice",
    "order",
    "price",
    "print",
    "settings",
    "currency",
    "companyinformation",
    # the sales accounts, cost centers and projects new customers' defaults are chosen from
    "bookkeeping",
    "costcenter",
    "project",
    # the payments of invoices, read by the status sync; connections made before it was asked for
    # lack it until the admin reconnects Fortnox (`hubnox.fortnox.scopes`)
    PAYMENT_SCOPE,
)

STATE_TTL_SECONDS = 15 * 60

HUBSPOT_CALLBACK_PATH = "/oauth/hubspot/callback"
FORTNOX_CALLBACK_PATH = "/oauth/fortnox/callback"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _same_browser(browser_secret: str | None, what: str) -> Callable[[dict[str, object]], None]:
    """A state check: the callback reached the browser whose secret the state was signed with."""
    def check(claims: dict[str, object]) -> None:
        if not browser_secret or not hmac.compare_digest(_digest(browser_secret).encode(),
                                                         str(claims.get("browser")).encode()):
            raise BadRequestError(f"This {what} was started in another browser (or its cookie expired).",
                                  code="BAD_STATE", hint=f"Start the {what} again from this browser.")
    return check



@dataclass(frozen=True)
class InstallStart:
    """Where to send the admin to install (or to prove who they are), and the secret their browser
    keeps until the callback."""

    url: str
    browser_secret: str


LoginStart = InstallStart


@dataclass(frozen=True)
class SignedIn:
    """A browser proven at the HubSpot callback, signed in: its session, the cookie and where to go."""

    portal_id: str
    session: Session
    cookie: Cookie
    settings_url: str


InstallResult = SignedIn


class ConnectionService:
    """Install, connect and disconnect, with signed single-use OAuth state."""

    def __init__(
        self,
        *,
        public_base: str,
        connections: ConnectionStore,
        nonces: NonceStore,
        sessions: SessionStore,
        signer: Signer,
        hubspot_oauth: HubSpotOAuth,
        fortnox_oauth: FortnoxOAuth,
        hubspot_client: Callable[[str, str], HubSpotClient],
        fortnox_client: Callable[[str, str], FortnoxClient],
        fortnox_service_account: bool = False,
        health: ConnectionHealthService | None = None,
        cursors: Cursors | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = public_base.rstrip("/")
        self._connections = connections
        self._nonces = nonces
        self._sessions = sessions
        self._signer = signer
        self._hubspot_oauth = hubspot_oauth
        self._fortnox_oauth = fortnox_oauth
        self._hubspot_client = hubspot_client  # (portal id, access token) -> client
        self._fortnox_client = fortnox_client  # (tenant id, access token) -> client
        self._service_account = fortnox_service_account
        self._health = health
        self._cursors = cursors  # where the property set's version is recorded at install
        self._clock = clock

    # -- HubSpot -------------------------------------------------------------------------------

    def hubspot_install_url(self) -> InstallStart:
        """HubSpot's consent page for this app, with a signed, expiring, single-use state bound to the
        browser that asked (the caller keeps `browser_secret` in a cookie for the callback)."""
        secret = secrets.token_urlsafe(24)
        state = self._signer.sign("hubspot-install", {"browser": _digest(secret)}, STATE_TTL_SECONDS)
        url = self._hubspot_oauth.authorize_url(HUBSPOT_SCOPES, HUBSPOT_OPTIONAL_SCOPES,
                                                self._base + HUBSPOT_CALLBACK_PATH, state)
        return InstallStart(url, secret)

    def finish_hubspot_install(self, code: str, state: str, browser_secret: str | None) -> SignedIn:
        """Exchange the code, store the installation, create the app's properties, and sign the admin in.

        The state must come back to the browser that started the install, or anyone could sign a
        victim in to their own portal's settings by sending them a finished install link. That
        browser is signed in at once; every session the portal had before ends.
        """
        self._claim_state("hubspot-install", state, _same_browser(browser_secret, "install"))
        tokens = self._hubspot_oauth.exchange_code(code, self._base + HUBSPOT_CALLBACK_PATH)
        info = self._hubspot_oauth.introspect(tokens.access_token)
        portal_id = str(tokens.hub_id or info.hub_id or "")
        if not portal_id:
            raise BadRequestError("HubSpot did not say which portal installed the app.", code="NO_PORTAL")
        user = str(info.user_id or "")
        before = self._connections.hubspot_status(portal_id)
        # A reinstall replaces the connection whole: active again, its uninstall date gone, the portal
        # back in the poller's registry; settings, runs and the Fortnox connection were kept.
        self._connections.put_hubspot(HubSpotConnection(
            portal_id=portal_id,
            hub_domain=info.hub_domain or "",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or "",
            access_expires_at=tokens.expires_at,
            scopes=tuple(tokens.scopes or info.scopes),
            installed_at=self._clock(),
            installed_by_user=user or None,
        ))
        self.ensure_properties(self._hubspot_client(portal_id, tokens.access_token), self._cursors, portal_id)
        self._sessions.end_all(portal_id)  # a reinstall starts afresh: no session from before survives
        if before == "uninstalled":
            logger.info("hubspot reinstalled after an uninstall", extra={"portal_id": portal_id})
            metrics.add_metric(name="PortalsReinstalled", unit=MetricUnit.Count, value=1)
        else:
            logger.info("hubspot installed", extra={"portal_id": portal_id})
        return self._signed_in(portal_id, info.user or user)

    def is_login_state(self, state: str) -> bool:
        """Whether a HubSpot callback's state belongs to a sign-in (`begin_login`) rather than an install."""
        try:
            self._signer.verify("hubspot-login", state)
        except UnauthorizedError as bad:
            return bad.code == "EXPIRED"  # genuine, only late: finish_login says so
        return True

    def begin_login(self, login_token: str) -> LoginStart:
        """Claim a login link's token and send its browser through HubSpot's OAuth to prove who it is.

        The state names the token's portal and user and is bound to a secret the caller keeps in
        the browser's cookie; `finish_login` signs in only that browser, and only as that user.
        """
        login = claim_login(self._signer, self._nonces, login_token)
        secret = secrets.token_urlsafe(24)
        # The generation: an install or a deletion while HubSpot has the browser ends this sign-in too.
        state = self._signer.sign("hubspot-login", {"browser": _digest(secret), "portal": login.portal_id,
                                                    "user": login.user, "uid": login.user_id,
                                                    "gen": self._sessions.generation(login.portal_id)},
                                  STATE_TTL_SECONDS)
        url = self._hubspot_oauth.authorize_url(HUBSPOT_SCOPES, HUBSPOT_OPTIONAL_SCOPES,
                                                self._base + HUBSPOT_CALLBACK_PATH, state)
        return LoginStart(url, secret)

    def finish_login(self, code: str, state: str, browser_secret: str | None) -> SignedIn:
        """Sign the browser in once HubSpot says its user is the login link's user in the link's portal,
        and that user installed hubnox or is, by HubSpot's users API asked now, a super admin.

        The tokens of this authorization only prove who the user is: they are not stored.
        """
        claims = self._claim_state("hubspot-login", state, _same_browser(browser_secret, "sign-in"))
        tokens = self._hubspot_oauth.exchange_code(code, self._base + HUBSPOT_CALLBACK_PATH)
        info = self._hubspot_oauth.introspect(tokens.access_token)
        portal_id, user_id = str(claims["portal"]), str(claims.get("uid") or "")
        proven_portal = str(tokens.hub_id or info.hub_id or "")
        proven_user = str(info.user_id or "")
        if proven_portal != portal_id or not user_id or proven_user != user_id:
            logger.warning("sign-in refused: another user or portal", extra={"portal_id": portal_id})
            raise UnauthorizedError(
                f"This sign-in link was made for another HubSpot user or portal, so it cannot sign you in "
                f"to portal {portal_id}'s hubnox settings.",
                code="WRONG_USER",
                hint="Open hubnox's settings from the app card in your own HubSpot portal.",
            )
        hubspot = self._connections.get_hubspot(portal_id)
        if hubspot is None or hubspot.status == "uninstalled":
            raise UnauthorizedError("hubnox is not installed in this HubSpot portal.", code="NOT_INSTALLED",
                                    hint="Install hubnox again from HubSpot.")
        if str(hubspot.installed_by_user or "") != user_id:
            self._require_super_admin(portal_id, user_id, tokens.access_token)
        if claims.get("gen") != self._sessions.generation(portal_id):
            raise UnauthorizedError("hubnox was installed again, or its data deleted, while you were signing in.",
                                    code="SESSION_ENDED", hint="Open hubnox's settings from the app card again.")
        return self._signed_in(portal_id, info.user or str(claims.get("user") or user_id))

    def _require_super_admin(self, portal_id: str, user_id: str, access_token: str) -> None:
        """Refuse a user who did not install hubnox unless HubSpot says, now, that they are a super admin.

        Asked live with the sign-in's own token (never a cached answer): a super admin demoted a
        minute ago is refused.
        """
        try:
            user = self._hubspot_client(portal_id, access_token).user(user_id)
        except MissingScopesError:
            raise UnauthorizedError(
                f"{ONLY_SUPER_ADMINS} hubnox may not read this account's users, so only the user who "
                "installed it can.", code="NOT_SUPER_ADMIN",
                hint=f"Install hubnox again as a super admin and allow it to read users ({USERS_READ_SCOPE}).",
            ) from None
        except NotFoundError:
            user = None
        if user is None or not user.super_admin:
            logger.info("sign-in refused: not a super admin", extra={"portal_id": portal_id})
            raise UnauthorizedError(ONLY_SUPER_ADMINS, code="NOT_SUPER_ADMIN",
                                    hint="Ask a super admin of this HubSpot account to open the settings, "
                                         "or to make you a super admin.")

    def _signed_in(self, portal_id: str, user: str) -> SignedIn:
        session, cookie = start_session(self._signer, self._sessions, portal_id, user)
        return SignedIn(portal_id, session, cookie, f"{self._base}/settings")

    @staticmethod
    def ensure_properties(client: HubSpotClient, cursors: Cursors | None = None,
                          portal_id: str | None = None) -> list[str]:
        """Create hubnox's property group and properties where missing (safe to repeat), and record
        the property set's version for the portal so the status sync's upgrade does not run again.

        Answers what changed (`hubnox.hubspot.app_properties.ensure_app_properties`).
        """
        changed = ensure_app_properties(client)
        if cursors is not None and portal_id:
            stamp_version(cursors, portal_id)
        return changed

    # -- Fortnox -------------------------------------------------------------------------------

    def fortnox_connect_url(self, session: Session) -> str:
        """Fortnox's consent page for the session's portal; refused while a working company is connected.

        A broken connection may be reconnected in one step: the callback then accepts the same
        company only (`FortnoxReconnectOtherCompany` for another) and replaces its tokens.
        """
        current = self._connections.get_fortnox(session.portal_id)
        if current is not None and current.status == "active":
            raise FortnoxAlreadyConnected(session.portal_id, current.tenant_id, current.company_name)
        state = self._signer.sign("fortnox-connect", {"portal": session.portal_id}, STATE_TTL_SECONDS)
        return self._fortnox_oauth.authorize_url(FORTNOX_SCOPES, state, self._base + FORTNOX_CALLBACK_PATH,
                                                 service_account=self._service_account)

    def finish_fortnox_connect(self, code: str, state: str, session: Session) -> FortnoxConnection:
        """Exchange the code, learn the company, and store the connection (one company per portal).

        Only the admin whose session started the connect may finish it: otherwise a connect link
        started for one portal could tie another person's Fortnox company to it.
        """
        def same_portal(claims: dict[str, object]) -> None:
            if session.portal_id != str(claims["portal"]):
                raise BadRequestError("This Fortnox connection was started for another HubSpot portal.",
                                      code="BAD_STATE",
                                      hint="Open hubnox's settings from your portal and connect again.")

        portal_id = str(self._claim_state("fortnox-connect", state, same_portal)["portal"])
        tokens = self._fortnox_oauth.exchange_code(code, self._base + FORTNOX_CALLBACK_PATH)
        fortnox = self._fortnox_client(tokens.tenant_id or "pending", tokens.access_token)
        company = fortnox.company_information()
        tenant_id = str(company.database_number or tokens.tenant_id or "")
        if not tenant_id:
            raise BadRequestError("Fortnox did not say which company was connected.", code="NO_TENANT")
        connection = FortnoxConnection(
            portal_id=portal_id,
            tenant_id=tenant_id,
            company_name=company.company_name or "",
            auth_mode="client_credentials" if self._service_account else "authorization_code",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or "",
            access_expires_at=tokens.expires_at,
            scopes=tuple(tokens.scopes),
            connected_at=self._clock(),
        )
        current = self._connections.get_fortnox(portal_id)
        if current is not None and current.tenant_id != tenant_id:
            self._revoke_quietly(tokens.refresh_token)  # leave no dangling grant behind
            raise FortnoxReconnectOtherCompany(portal_id, current, company.company_name or f"tenant {tenant_id}")
        try:
            stored = self._connections.put_fortnox(connection)  # the same company: its tokens are replaced
        except (FortnoxAlreadyConnected, FortnoxCompanyTaken):
            self._revoke_quietly(tokens.refresh_token)
            raise
        logger.info("fortnox reconnected" if current is not None else "fortnox connected",
                    extra={"portal_id": portal_id, "tenant_id": tenant_id})
        if self._health is not None:
            # What the company's scopes and licences allow, known before the admin lands on the page.
            self._health.check(stored, lambda: self._fortnox_client(tenant_id, tokens.access_token))
        return stored

    def disconnect_fortnox(self, session: Session) -> FortnoxConnection | None:
        """Forget the portal's Fortnox connection and revoke its refresh token; None if there was none."""
        return self.disconnect_fortnox_of(session.portal_id)

    def disconnect_fortnox_of(self, portal_id: str) -> FortnoxConnection | None:
        """`disconnect_fortnox` for a portal named by the caller (the deletion of its data)."""
        removed = self._connections.delete_fortnox(portal_id)
        if removed is not None:
            self._revoke_quietly(removed.refresh_token.get_secret_value())
            logger.info("fortnox disconnected", extra={"portal_id": portal_id})
        return removed

    # -- state ---------------------------------------------------------------------------------

    def _claim_state(self, purpose: str, state: str,
                     check: Callable[[dict[str, object]], None] | None = None) -> dict[str, object]:
        """The claims of a genuine, unexpired, unused OAuth state that passes `check`; a clear 400 otherwise."""
        try:
            claims = self._signer.verify(purpose, state)
        except UnauthorizedError as bad:
            raise BadRequestError(
                f"This sign-in request is not valid ({bad.message.rstrip('.').lower()}).", code="BAD_STATE",
                hint="Start again from the beginning; links of this kind work once and for 15 minutes.",
            ) from bad
        if not self._nonces.claim("oauth-state", str(claims["nonce"]), STATE_TTL_SECONDS + 60):
            raise BadRequestError("This sign-in request was already used.", code="BAD_STATE",
                                  hint="Start again from the beginning.")
        if check is not None:
            check(claims)  # after the claim: a state that fails it is spent, never tried again
        return claims

    def _revoke_quietly(self, refresh_token: str | None) -> None:
        if not refresh_token:
            return
        try:
            self._fortnox_oauth.revoke(refresh_token)
        except HubnoxError as failure:
            # Forgetting the connection matters more than the revoke; the grant lapses in 45 days.
            logger.warning("fortnox revoke failed", extra={"code": failure.code})


class FortnoxReconnectOtherCompany(FortnoxAlreadyConnected):
    """A reconnect chose another Fortnox company than the one whose connection is broken."""

    def __init__(self, portal_id: str, current: FortnoxConnection, chosen_company: str) -> None:
        connected = current.company_name or f"tenant {current.tenant_id}"
        UserFixableError.__init__(
            self,
            f"You chose the Fortnox company {chosen_company}, but portal {portal_id} is connected to "
            f"{connected}, so nothing was changed.",
            hint=f"To reconnect, choose Reconnect Fortnox and sign in to {connected}. To use {chosen_company} "
                 f"instead, disconnect {connected} in hubnox's settings first, then connect again.",
        )
        self.connected_tenant_id = current.tenant_id


# -- uninstall, deletion, retention ------------------------------------------------------------------

DAY_SECONDS = 24 * 3600


class UninstallService:
    """The one place an uninstall is handled (the `hubnox.sync.ports.Uninstalls` port): HubSpot's
    uninstall event (the webhooks function) and a refused HubSpot refresh token (`hubnox.tokens`)
    both end here, so both do the same.

    The HubSpot connection is marked uninstalled and its tokens dropped, the portal leaves the set the
    poller polls, and when it happened is kept for the retention purge; the portal's data (settings,
    runs, deal links, the Fortnox connection) stays until an admin deletes it or the retention period
    passes. Every settings session of the portal ends: HubSpot no longer vouches for anyone in it
    (an admin gets back in by installing hubnox again). The worker stops the portal's jobs on its own
    (`hubnox.sync.runner`), as it reads the same mark. Safe to repeat: only the first report is
    logged as the uninstall and counted in the `PortalsUninstalled` metric.
    """

    def __init__(self, *, connections: ConnectionStore, sessions: SessionStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._connections = connections
        self._sessions = sessions
        self._clock = clock

    def uninstalled(self, portal_id: str, reason: str) -> None:
        """Record that hubnox was uninstalled from `portal_id`, for `reason` (which is logged)."""
        if not self._connections.mark_uninstalled(portal_id, at=self._clock(), reason=reason[:500]):
            status = self._connections.hubspot_status(portal_id)
            logger.info("uninstall reported again, or for a portal hubnox does not know",
                        extra={"portal_id": portal_id, "status": status, "reason": reason[:500]})
            return
        self._sessions.end_all(portal_id)
        logger.warning("hubspot uninstalled: polling and jobs stop, the data is kept",
                       extra={"portal_id": portal_id, "reason": reason[:500]})
        metrics.add_metric(name="PortalsUninstalled", unit=MetricUnit.Count, value=1)


class PortalDeletion:
    """The one way a portal's data is deleted: the settings page's "delete this portal's data" and the
    retention purge both come here, so both delete the same things.

    Fortnox's grant is revoked first (while hubnox still has the token), then every settings session
    ends (no open page may write the data again), then every item of the portal goes
    (`hubnox.store.portals.PortalDataStore`).
    """

    def __init__(self, *, connection_service: ConnectionService, sessions: SessionStore,
                 portal_data: PortalDataStore) -> None:
        self._connection_service = connection_service
        self._sessions = sessions
        self._portal_data = portal_data

    def delete(self, portal_id: str) -> int:
        """Delete everything hubnox keeps for the portal; answers how many items went."""
        self._connection_service.disconnect_fortnox_of(portal_id)
        self._sessions.end_all(portal_id)
        deleted = self._portal_data.delete_portal(portal_id)
        logger.info("portal data deleted", extra={"portal_id": portal_id, "items": deleted})
        return deleted


def uninstalled_refusal(refused: UnauthorizedError, cookies: list[str] | None, *, signer: Signer,
                        connections: ConnectionStore, public_base: str, retention_days: int) -> UnauthorizedError:
    """What the settings page answers a browser whose session ended because hubnox was uninstalled
    from its portal: that it was, how long the data is kept, and the way back (installing again signs
    the admin in, and the settings page can then delete the data at once). `refused` otherwise."""
    token = cookie_value(cookies)
    try:
        portal_id = str(signer.verify("session", token)["portal"]) if token else ""
    except UnauthorizedError:
        return refused
    hubspot = connections.get_hubspot(portal_id) if portal_id else None
    if hubspot is None or hubspot.status != "uninstalled":
        return refused
    if retention_days > 0 and hubspot.uninstalled_at is not None:
        until = time.strftime("%Y-%m-%d", time.gmtime(hubspot.uninstalled_at + retention_days * DAY_SECONDS))
        kept = f"until {until}, then it is deleted"
    else:
        kept = "until an admin deletes it"
    return UnauthorizedError(
        f"hubnox was uninstalled from HubSpot portal {portal_id}, so its settings are closed. Its data "
        f"(settings, runs, the Fortnox connection) is kept {kept}.",
        code="HUBSPOT_UNINSTALLED",
        hint=f"To use hubnox again, or to delete its data now, install it again ({public_base}/oauth/hubspot/"
             "install): you come back signed in to the settings, which keep everything and can delete it.",
    )


class UninstalledDataPurge:
    """Deletes the data of portals uninstalled longer than the retention period (the template's
    `UninstalledDataRetentionDays`; 0 keeps it until an admin deletes it), through `PortalDeletion`.

    Runs on the poller's schedule: it reads one small partition (the uninstall marks) a tick. A
    portal installed again is never deleted: its mark went with the reinstall, and its connection's
    status is read again just before (a mark left by a reinstall that failed half way is cleared).
    """

    def __init__(self, *, connections: ConnectionStore, deletion: Callable[[str], int], retention_days: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._connections = connections
        self._delete = deletion
        self._retention_days = retention_days
        self._clock = clock

    def purge(self) -> list[str]:
        """Delete every portal past the retention period; answers their ids."""
        if self._retention_days <= 0:
            return []
        cutoff = self._clock() - self._retention_days * DAY_SECONDS
        purged: list[str] = []
        for portal_id, uninstalled_at in sorted(self._connections.uninstalled_portals().items()):
            if uninstalled_at > cutoff:
                continue
            if self._connections.hubspot_status(portal_id) != "uninstalled":
                logger.info("uninstall mark of an installed portal cleared", extra={"portal_id": portal_id})
                self._connections.clear_uninstall_mark(portal_id)
                continue
            deleted = self._delete(portal_id)
            logger.info("data of an uninstalled portal purged after the retention period",
                        extra={"portal_id": portal_id, "items": deleted, "uninstalled_at": uninstalled_at,
                               "retention_days": self._retention_days})
            metrics.add_metric(name="UninstalledPortalsPurged", unit=MetricUnit.Count, value=1)
            purged.append(portal_id)
        return purged


# -- the OAuth routes --------------------------------------------------------------------------------


class InstallPorts(Protocol):
    """What the OAuth routes need (`hubnox.wiring.Container` provides it)."""

    config: AppConfig

    @property
    def signer(self) -> Signer: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def connection_service(self) -> ConnectionService: ...


DENIED = {
    "hubspot": ("Installation cancelled", "HubSpot did not install hubnox: {reason}.",
                "Open the install link again and choose Connect app to install hubnox."),
    "hubspot-login": ("Not signed in", "HubSpot did not confirm who you are: {reason}.",
                      "Open hubnox's settings from the app card in HubSpot again."),
    "fortnox": ("Fortnox not connected", "Fortnox did not connect: {reason}.",
                "Open hubnox's settings and choose Connect Fortnox again. A Fortnox administrator must approve."),
}


def oauth_router(ports: InstallPorts) -> APIGatewayHttpRouter:
    """HubSpot install (and the card link's sign-in), Fortnox connect and disconnect, over
    `ConnectionService`. `ports` is the function's container, its services built on first use."""
    router = APIGatewayHttpRouter()

    def query() -> dict[str, str]:
        return dict(router.current_event.query_string_parameters or {})

    def callback(system: str) -> tuple[str, str] | Response:
        """The code and state of an OAuth callback, or the page that explains why there is none."""
        answer = query()
        if answer.get("error"):
            title, message, hint = DENIED[system]
            reason = answer.get("error_description") or answer["error"].replace("_", " ")
            return message_page(400, title, message.format(reason=reason), hint)
        if not answer.get("code") or not answer.get("state"):
            raise BadRequestError("The sign-in answer is missing its code or state.", code="BAD_CALLBACK",
                                  hint="Start again from the beginning.")
        return answer["code"], answer["state"]

    def settings_url(notice: str) -> str:
        return f"{ports.config.public_base}/settings?notice={notice}"

    def session() -> Session:
        return read_session(ports.signer, ports.sessions, router.current_event.cookies)

    @router.get("/oauth/hubspot/install")
    def hubspot_install() -> Response:
        start = ports.connection_service.hubspot_install_url()
        return redirect(start.url, cookies=[browser_secret_cookie(INSTALL_COOKIE, start.browser_secret,
                                                                  STATE_TTL_SECONDS)])

    @router.get("/oauth/hubspot/callback")
    def hubspot_callback() -> Response:
        """The end of an install, or of a sign-in from the app card's link: either way the browser that
        started it (its cookie) is signed in, and only that one."""
        service = ports.connection_service
        signing_in = service.is_login_state(query().get("state", ""))
        answer = callback("hubspot-login" if signing_in else "hubspot")
        if isinstance(answer, Response):
            return answer
        code, state = answer
        cookies = router.current_event.cookies
        if signing_in:
            result = service.finish_login(code, state, cookie_value(cookies, LOGIN_COOKIE))
            spent = browser_secret_cookie(LOGIN_COOKIE, "", 0)
        else:
            result = service.finish_hubspot_install(code, state, cookie_value(cookies, INSTALL_COOKIE))
            spent = browser_secret_cookie(INSTALL_COOKIE, "", 0)
        return redirect(result.settings_url, cookies=[result.cookie, spent])

    @router.get("/oauth/fortnox/connect")
    def fortnox_connect() -> Response:
        # A GET, so the settings page's link carries the session's CSRF token: no other site can start it.
        signed_in = session()
        token = query().get(CSRF_FIELD, "")
        check_csrf(signed_in, router.current_event.headers, {CSRF_FIELD: token}, ports.config.public_base)
        return redirect(ports.connection_service.fortnox_connect_url(signed_in))

    @router.get("/oauth/fortnox/callback")
    def fortnox_callback() -> Response:
        answer = callback("fortnox")
        if isinstance(answer, Response):
            return answer
        signed_in = session()
        ports.connection_service.finish_fortnox_connect(*answer, signed_in)
        return redirect(settings_url("fortnox-connected"))

    @router.post("/oauth/fortnox/disconnect")
    def fortnox_disconnect() -> Response:
        signed_in = session()
        form = form_fields(body_text(router.current_event))
        check_csrf(signed_in, router.current_event.headers, form, ports.config.public_base)
        ports.connection_service.disconnect_fortnox(signed_in)
        return redirect(settings_url("fortnox-disconnected"), status=303)

    return router
