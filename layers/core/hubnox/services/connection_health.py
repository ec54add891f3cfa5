"""`ConnectionHealthService`: a portal's Fortnox connection health, checked at most every 5 minutes.

The check (`hubnox.fortnox.health.check_health`) costs up to five Fortnox reads, so its answer is
kept in the table (`hubnox.store.health`), shared by the settings page, the app card and the
workflow options, for `HEALTH_TTL_SECONDS` (a check where something could not be read for
`UNCERTAIN_TTL_SECONDS`). Connecting Fortnox checks at once, so the page the admin lands on already
knows. Nothing here ever fails its caller: when the check itself cannot run, the answer is None
and the caller shows the connection as it did before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hubnox.errors import HubnoxError
from hubnox.fortnox.health import ConnectionHealth, LicenceProbe, check_health
from hubnox.observability import logger
from hubnox.records import FortnoxConnection
from hubnox.store.health import HealthStore
from hubnox.sync.ports import Connections

HEALTH_TTL_SECONDS = 300.0
UNCERTAIN_TTL_SECONDS = 30.0


class ConnectionHealthService:
    """Checks and caches which features a portal's Fortnox company lets hubnox use."""

    def __init__(self, *, connections: Connections, store: HealthStore, fortnox: Callable[[str], LicenceProbe],
                 clock: Callable[[], float] = time.time, ttl_seconds: float = HEALTH_TTL_SECONDS) -> None:
        self._connections = connections
        self._store = store
        self._fortnox = fortnox  # portal id -> a client of its connected company
        self._clock = clock
        self._ttl = ttl_seconds

    def for_portal(self, portal_id: str) -> ConnectionHealth | None:
        """The health of the portal's active Fortnox connection, from the cache while fresh; None when
        there is no active connection or the check could not run."""
        connection = self._connections.get_fortnox(portal_id)
        if connection is None or connection.status != "active":
            return None
        try:
            cached = self._store.get(portal_id)
        except HubnoxError as failure:
            logger.warning("connection health unreadable", extra={"portal_id": portal_id, "code": failure.code})
            cached = None
        if cached is not None and self._fresh(cached, connection):
            return cached
        return self.check(connection, lambda: self._fortnox(portal_id))

    def check(self, connection: FortnoxConnection, client: Callable[[], LicenceProbe]) -> ConnectionHealth | None:
        """Check the connection now with `client` and keep the answer; None when it could not be checked."""
        try:
            health = check_health(client(), connection.scopes, tenant_id=connection.tenant_id,
                                  connected_at=connection.connected_at, now=self._clock())
        except HubnoxError as failure:
            logger.warning("connection health not checked", extra={"portal_id": connection.portal_id,
                                                                    "code": failure.code})
            return None
        try:
            self._store.put(connection.portal_id, health)
        except HubnoxError as failure:
            logger.warning("connection health not kept", extra={"portal_id": connection.portal_id,
                                                                "code": failure.code})
        if health.problems:
            logger.info("fortnox features unavailable", extra={"portal_id": connection.portal_id,
                                                               "features": [p.key for p in health.problems]})
        return health

    def _fresh(self, health: ConnectionHealth, connection: FortnoxConnection) -> bool:
        if health.tenant_id != connection.tenant_id or health.connected_at != connection.connected_at:
            return False  # made for an earlier connection
        ttl = UNCERTAIN_TTL_SECONDS if health.unchecked else self._ttl
        return 0 <= self._clock() - health.checked_at < ttl
