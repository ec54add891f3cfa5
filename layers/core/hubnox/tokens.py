"""Token sources: a portal's HubSpot and Fortnox access tokens, kept fresh, for the worker, the clients
and the entry points alike (the install and connect flows live in `hubnox.services.install`).

Token rules, for both systems:
- an access token is used until `REFRESH_MARGIN_SECONDS` before it expires;
- a refresh happens under a DynamoDB lease per portal and system, re-reads the stored connection
  inside the lease (another Lambda may have refreshed meanwhile), and saves the new tokens before
  the access token is used. Fortnox refresh tokens are single use, so losing one would log the
  customer out; a service-account connection takes a new token with client credentials instead;
- a grant that is gone (revoked consent, spent refresh token, uninstall) marks the connection
  broken (Fortnox) or uninstalled (HubSpot), and every later use says "reconnect" instead of
  retrying forever.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hubnox.errors import ConnectionBrokenError, TransientError
from hubnox.fortnox.models import FortnoxTokens
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.models import HubSpotTokens
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.observability import logger
from hubnox.records import FortnoxConnection, HubSpotConnection
from hubnox.store.connections import ConnectionStore
from hubnox.store.leases import LeaseStore
from hubnox.store.table import StaleVersion
from hubnox.sync.ports import Uninstalls

REFRESH_MARGIN_SECONDS = 300
SAVE_ATTEMPTS = 4
LEASE_TTL_SECONDS = 30
LEASE_WAIT_SECONDS = 20

C = TypeVar("C", HubSpotConnection, FortnoxConnection)


class _LeasedTokenSource(ABC, Generic[C]):
    """A `TokenSource` over a stored connection, refreshing under a lease (see the module docstring)."""

    system = ""
    lease_prefix = ""

    def __init__(self, portal_id: str, connections: ConnectionStore, leases: LeaseStore,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.portal_id = portal_id
        self._sleep = sleep
        self._connections = connections
        self._leases = leases
        self._clock = clock
        self._current: C | None = None
        self._refused: str | None = None
        self._owner = uuid.uuid4().hex

    def token(self) -> str:
        """A valid access token, refreshed (under the lease) first when needed."""
        current = self._current or self._load_usable()
        if self._fresh(current):
            self._current = current
            return current.access_token.get_secret_value()
        with self._leases.hold(f"{self.lease_prefix}#{self.portal_id}", self._owner, ttl=LEASE_TTL_SECONDS,
                               wait=LEASE_WAIT_SECONDS):
            current = self._load_usable()  # re-read inside the lease: someone may have refreshed
            if not self._fresh(current):
                current = self._refresh(current)
        self._current = current
        return current.access_token.get_secret_value()

    def invalidate(self, token: str) -> None:
        """Forget `token` after the API refused it; the next `token()` refreshes unless it is stale."""
        self._refused = token
        self._current = None

    def _fresh(self, connection: C) -> bool:
        token = connection.access_token.get_secret_value()
        return (bool(token) and token != self._refused
                and connection.access_expires_at - REFRESH_MARGIN_SECONDS > self._clock())

    @abstractmethod
    def _load_usable(self) -> C:
        """The stored connection, or ConnectionBrokenError when there is none that works."""

    def _refresh(self, connection: C) -> C:
        """New tokens for `connection`, saved before they are returned (the old refresh token may be spent)."""
        try:
            tokens = self._new_tokens(connection)
        except ConnectionBrokenError as gone:
            self._grant_gone(gone.message)
            raise
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                return self._save(
                    self.portal_id,
                    access_token=tokens.access_token,
                    refresh_token=tokens.refresh_token or connection.refresh_token.get_secret_value(),
                    access_expires_at=tokens.expires_at,
                    expected_version=connection.version,
                )
            except StaleVersion as stale:
                # Only possible if the lease ran out mid-refresh; the stored tokens are the newer ones.
                raise TransientError(f"Another process refreshed the {self.system} token at the same time.",
                                     code="TOKEN_RACE", retry_after=1) from stale
            except TransientError:
                # The old refresh token is spent: this save is the only copy of the new one. Try again.
                if attempt == SAVE_ATTEMPTS:
                    logger.error("refreshed tokens could not be saved", extra={"system": self.system})
                    raise
                self._sleep(0.2 * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    @abstractmethod
    def _new_tokens(self, connection: C) -> HubSpotTokens | FortnoxTokens:
        """Ask the system for new tokens (ConnectionBrokenError when the grant is gone)."""

    @abstractmethod
    def _grant_gone(self, reason: str) -> None:
        """Record that the connection's grant is gone for good."""

    @abstractmethod
    def _save(self, portal_id: str, **tokens: Any) -> C:
        """Save refreshed tokens, conditional on the version read (StaleVersion otherwise)."""


class FortnoxTokenSource(_LeasedTokenSource[FortnoxConnection]):
    """Access tokens for a portal's Fortnox connection."""

    system = "Fortnox"
    lease_prefix = "fortnox-token"

    def __init__(self, portal_id: str, connections: ConnectionStore, leases: LeaseStore, oauth: FortnoxOAuth,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(portal_id, connections, leases, clock, sleep)
        self._oauth = oauth

    def _load_usable(self) -> FortnoxConnection:
        connection = self._connections.get_fortnox(self.portal_id)
        if connection is None:
            raise ConnectionBrokenError("Fortnox", "This HubSpot portal is not connected to Fortnox.")
        if connection.status != "active":
            raise ConnectionBrokenError("Fortnox", _stopped("Fortnox", connection.broken_reason))
        return connection

    def _new_tokens(self, connection: FortnoxConnection) -> FortnoxTokens:
        if connection.auth_mode == "client_credentials":
            return self._oauth.client_credentials(connection.tenant_id)
        return self._oauth.refresh(connection.refresh_token.get_secret_value())

    def _grant_gone(self, reason: str) -> None:
        self._connections.mark_broken(self.portal_id, "fortnox", reason)

    def _save(self, portal_id: str, **tokens: Any) -> FortnoxConnection:
        return self._connections.update_fortnox_tokens(portal_id, **tokens)


class HubSpotTokenSource(_LeasedTokenSource[HubSpotConnection]):
    """Access tokens for a portal's HubSpot installation."""

    system = "HubSpot"
    lease_prefix = "hubspot-token"

    def __init__(self, portal_id: str, connections: ConnectionStore, leases: LeaseStore, oauth: HubSpotOAuth,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 uninstalls: Uninstalls | None = None) -> None:
        super().__init__(portal_id, connections, leases, clock, sleep)
        self._oauth = oauth
        #: where a refused refresh token is reported as an uninstall (None: the connection is only marked)
        self._uninstalls = uninstalls

    def _load_usable(self) -> HubSpotConnection:
        connection = self._connections.get_hubspot(self.portal_id)
        if connection is None or connection.status == "uninstalled":
            raise ConnectionBrokenError("HubSpot", "hubnox is not installed in this HubSpot portal.")
        if connection.status != "active":
            raise ConnectionBrokenError("HubSpot", _stopped("HubSpot", connection.broken_reason))
        return connection

    def _new_tokens(self, connection: HubSpotConnection) -> HubSpotTokens:
        return self._oauth.refresh(connection.refresh_token.get_secret_value())

    def _grant_gone(self, reason: str) -> None:
        # BAD_REFRESH_TOKEN: the app was uninstalled or its grant revoked. The portal's data stays; the
        # uninstall is handled where HubSpot's uninstall event is (`hubnox.services.install.UninstallService`).
        if self._uninstalls is not None:
            self._uninstalls.uninstalled(self.portal_id, reason)
        else:
            self._connections.mark_uninstalled(self.portal_id, at=self._clock(), reason=reason)

    def _save(self, portal_id: str, **tokens: Any) -> HubSpotConnection:
        return self._connections.update_hubspot_tokens(portal_id, **tokens)



def _stopped(system: str, reason: str | None) -> str:
    return f"The {system} connection stopped working: {reason or 'unknown reason'}."


class StaticToken:
    """A `TokenSource` for a token just received, used once before any connection is stored."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        return None

