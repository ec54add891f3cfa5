"""The card cache: cards per container, each until its own expiry (see `hubnox.services.card`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from cachetools import TLRUCache

CARD_TTL_SECONDS = 60.0
PARTIAL_TTL_SECONDS = 15.0
IN_FLIGHT_TTL_SECONDS = 5.0
# Cards are small dicts: 1,000 of them are a few MB of the function's memory, and the bound keeps
# a burst of views of distinct records (one container may serve many portals) from growing it.
CACHE_MAX_ENTRIES = 1000

CacheKey = tuple[str, str, str]


class _Entry(NamedTuple):
    card: dict[str, Any]
    expires: float


def _expires(_key: CacheKey, entry: _Entry, _now: float) -> float:
    # The lifetime counts from when the card was asked for, before it was built, as its data is.
    return entry.expires


class CardCache:
    """Cards by (portal, object type, object id), each until its own expiry by `clock`; when full,
    expired cards go first, then the least recently used. Owned by one `CardService`; safe to share
    between threads."""

    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self._cards: TLRUCache[CacheKey, _Entry, float] = TLRUCache(max_entries, _expires, clock)
        # cachetools' caches are not thread-safe on their own.
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """The cached card for `key`, or None when there is none or it has expired."""
        with self._lock:
            entry = self._cards.get(key)
        return None if entry is None else entry.card

    def put(self, key: CacheKey, card: dict[str, Any], ttl: float, since: float) -> None:
        """Keep `card` for `ttl` seconds from `since` (when it was asked for)."""
        with self._lock:
            self._cards[key] = _Entry(card, since + ttl)

    def drop(self, key: CacheKey) -> None:
        """Forget the card for `key`, if any."""
        with self._lock:
            self._cards.pop(key, None)
