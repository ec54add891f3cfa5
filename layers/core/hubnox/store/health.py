"""The last Fortnox connection health check of each portal, shared by every function.

One item in the portal's partition (so deleting the portal's data deletes it), replaced by each
check; it names the connection it was made for, so a reconnect never shows another connection's
health. DynamoDB sweeps it a day after the check.
"""

from __future__ import annotations

from hubnox.fortnox.health import ConnectionHealth
from hubnox.store.table import TTL_ATTRIBUTE, Table, health_key, ttl_at

SWEEP_AFTER_SECONDS = 24 * 3600


class HealthStore:
    """Reads and writes a portal's last connection health check."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, portal_id: str) -> ConnectionHealth | None:
        """The portal's last check, or None when there is none (or it cannot be read)."""
        item = self._table.get(health_key(portal_id), consistent=False)
        if item is None:
            return None
        try:
            return ConnectionHealth.from_item(item)
        except (KeyError, TypeError, ValueError):
            return None  # written by another version of hubnox: check again

    def put(self, portal_id: str, health: ConnectionHealth) -> None:
        """Keep `health` as the portal's last check."""
        self._table.put({**health_key(portal_id), **health.to_item(),
                         TTL_ATTRIBUTE: ttl_at(health.checked_at + SWEEP_AFTER_SECONDS)})
