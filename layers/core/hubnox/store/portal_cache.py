"""A portal's slow-changing HubSpot data, kept in the table for a while: its owners, its tax-rate
library and its company currency, and the products and reference contacts its deals name
(`hubnox.sync.portal_lookups`).

Each deal used to read these again, up to five HubSpot calls a deal on top of the deal's own;
they change rarely, and a stale value is bounded by the item's time to live (`CACHE_SECONDS`, or
the shorter life a value is put with). The table's TTL sweep is lazy, so `get` checks the expiry
itself; the `expires_at` attribute still has DynamoDB delete every item, personal data included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from hubnox.store.table import BATCH_GET_MAX, Clock, Item, Key, Table, portal_partition, ttl_at

#: how long a cached value serves, in seconds
CACHE_SECONDS = 3600.0


def cache_key(portal_id: str, name: str) -> Key:
    return {"pk": portal_partition(portal_id), "sk": f"CACHE#{name}"}


class PortalCacheStore:
    """JSON values per portal and name, each valid for `CACHE_SECONDS` unless put for less."""

    def __init__(self, table: Table, clock: Clock = time.time, seconds: float = CACHE_SECONDS) -> None:
        self._table = table
        self._clock = clock
        self._seconds = seconds

    def get(self, portal_id: str, name: str) -> Any | None:
        """The cached value, or None when there is none or it expired."""
        return self._value(self._table.get(cache_key(portal_id, name), consistent=False))

    def get_many(self, portal_id: str, names: Sequence[str]) -> dict[str, Any]:
        """The cached values of `names` that have one (not expired), by name: one BatchGetItem per 100."""
        wanted = list(dict.fromkeys(names))
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            keys = [cache_key(portal_id, name) for name in wanted[start:start + BATCH_GET_MAX]]
            for item in self._table.batch_get(keys, consistent=False):
                value = self._value(item)
                if value is not None:
                    found[str(item["sk"]).removeprefix("CACHE#")] = value
        return found

    def put(self, portal_id: str, name: str, value: Any, *, seconds: float | None = None) -> None:
        """Cache a JSON-serialisable value for `seconds` (default `CACHE_SECONDS`)."""
        life = self._seconds if seconds is None else seconds
        until = self._clock() + life
        self._table.put({**cache_key(portal_id, name), "value": json.dumps(value, default=str),
                         "valid_until": until, "expires_at": ttl_at(until + life)})

    def _value(self, item: Item | None) -> Any | None:
        if item is None or float(item.get("valid_until", 0)) <= self._clock():
            return None
        return json.loads(str(item["value"]))
