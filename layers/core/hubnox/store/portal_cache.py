"""A portal's slow-changing HubSpot account data, kept in the table for a while: its owners, its
tax-rate library and its company currency (`hubnox.sync.portal_lookups`).

Each deal used to read these again, up to three HubSpot calls a deal on top of the deal's own;
they change rarely, and a stale value is bounded by the item's time to live (`CACHE_SECONDS`).
The table's TTL sweep is lazy, so `get` checks the expiry itself.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hubnox.store.table import Clock, Key, Table, portal_partition, ttl_at

#: how long a cached value serves, in seconds
CACHE_SECONDS = 3600.0


def cache_key(portal_id: str, name: str) -> Key:
    return {"pk": portal_partition(portal_id), "sk": f"CACHE#{name}"}


class PortalCacheStore:
    """JSON values per portal and name, each valid for `CACHE_SECONDS`."""

    def __init__(self, table: Table, clock: Clock = time.time, seconds: float = CACHE_SECONDS) -> None:
        self._table = table
        self._clock = clock
        self._seconds = seconds

    def get(self, portal_id: str, name: str) -> Any | None:
        """The cached value, or None when there is none or it expired."""
        item = self._table.get(cache_key(portal_id, name), consistent=False)
        if item is None or float(item.get("valid_until", 0)) <= self._clock():
            return None
        return json.loads(str(item["value"]))

    def put(self, portal_id: str, name: str, value: Any) -> None:
        """Cache a JSON-serialisable value for `CACHE_SECONDS`."""
        until = self._clock() + self._seconds
        self._table.put({**cache_key(portal_id, name), "value": json.dumps(value, default=str),
                         "valid_until": until, "expires_at": ttl_at(until + self._seconds)})
