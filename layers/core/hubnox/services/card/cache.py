"""The card cache: cards per container, each until its own expiry (see `hubnox.services.card`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

CARD_TTL_SECONDS = 60.0
PARTIAL_TTL_SECONDS = 15.0
IN_FLIGHT_TTL_SECONDS = 5.0
CACHE_MAX_ENTRIES = 1000

CacheKey = tuple[str, str, str]


class CardCache:
    """Cards by (portal, object type, object id), each until its own expiry; the oldest go first
    when full. Owned by one `CardService`; safe to share between threads."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[CacheKey, tuple[float, dict[str, Any]]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: CacheKey, now: float) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: CacheKey, card: dict[str, Any], ttl: float, now: float) -> None:
        with self._lock:
            self._entries[key] = (now + ttl, card)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def drop(self, key: CacheKey) -> None:
        with self._lock:
            self._entries.pop(key, None)
