"""Rate budgets: how many calls a key (a HubSpot portal, a Fortnox tenant) may make per window.

Both APIs count requests over a sliding window and answer 429 beyond it. The clients ask a
`RateBudget` for a slot before every request, so hubnox slows itself down instead of being
throttled. `LocalRateBudget` counts in memory, for one process; the DynamoDB-backed budget in
`hubnox.store.shared_budget` shares the count across Lambda containers behind the same protocol.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from hubnox.errors import TransientError
from hubnox.waiting import wait_until_done

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateBudget(Protocol):
    """A sliding-window request budget shared by everything that calls one API for one key."""

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        """Take one slot for `key`: at most `limit` slots in any `window` seconds.

        Blocks until a slot is free. Raises `TransientError` (with `retry_after` set to the
        wait that would be needed) instead of blocking longer than `max_wait` seconds.
        """
        ...


class LocalRateBudget:
    """An in-memory, thread-safe `RateBudget` for one process.

    The clock and the sleep are injectable so tests run without waiting.
    """

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._taken: dict[str, deque[float]] = {}

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        """Take a slot for `key`, waiting up to `max_wait` seconds for one to free."""
        if limit < 1 or window <= 0:
            raise ValueError("a rate budget needs limit >= 1 and window > 0")
        wait_until_done(
            lambda: wait if (wait := self._try_take(key, limit, window)) > 0 else None,
            max_wait=max_wait, clock=self._clock, sleep=self._sleep,
            busy=lambda wait: TransientError(f"Rate budget for {key} is used up ({limit} per {window:g} s).",
                                             code="RATE_BUDGET", retry_after=wait),
        )

    def _try_take(self, key: str, limit: int, window: float) -> float:
        """Take a slot now and answer 0, or answer how long until the oldest counted slot expires."""
        with self._lock:
            now = self._clock()
            taken = self._taken.setdefault(key, deque())
            while taken and taken[0] <= now - window:
                taken.popleft()
            if len(taken) < limit:
                taken.append(now)
                return 0.0
            # The slot that frees next is the one that keeps the count at `limit`.
            return taken[len(taken) - limit] + window - now
