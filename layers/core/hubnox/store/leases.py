"""Leases: short locks shared by every Lambda through the table.

A lease is held by one owner until it releases it or its time runs out, so a Lambda that dies
while holding one blocks the others for at most `ttl_seconds`. hubnox takes one around each
Fortnox refresh-token rotation: refresh tokens are single use, so two parallel refreshes would
leave the portal disconnected. Inside the lease, re-read the stored tokens before refreshing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hubnox.errors import TransientError
from hubnox.observability import logger
from hubnox.store.table import Clock, ConditionFailed, Table, lease_key, ttl_at
from hubnox.waiting import wait_until_done

#: Expired leases linger this long before DynamoDB's TTL sweeps them (they are free to take anyway).
_SWEEP_AFTER_SECONDS = 3600


class LeaseStore:
    """Acquire and release named leases; `hold` waits for one and releases it afterwards."""

    def __init__(self, table: Table, clock: Clock, sleep: Callable[[float], None] = time.sleep) -> None:
        self._table = table
        self._clock = clock
        self._sleep = sleep

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take the lease for `ttl_seconds` if it is free, expired, or already `owner`'s (a renewal)."""
        return self._try_acquire(name, owner, ttl_seconds) is None

    def release(self, name: str, owner: str) -> bool:
        """Give the lease back if `owner` still holds it; False if it had passed to someone else."""
        try:
            self._table.delete(
                lease_key(name),
                condition="#owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner},
            )
        except ConditionFailed:
            return False
        return True

    @contextmanager
    def hold(self, name: str, owner: str, ttl: float, wait: float, poll: float = 0.2) -> Iterator[None]:
        """Hold the lease for the `with` block, waiting up to `wait` seconds for it.

        Raises `TransientError` (with the seconds until the current holder's lease runs out as
        `retry_after`) when the lease stays taken. Keep the block shorter than `ttl`.
        """
        def attempt() -> float | None:
            held_until = self._try_acquire(name, owner, ttl)
            return None if held_until is None else held_until - self._clock()

        wait_until_done(attempt, max_wait=wait, clock=self._clock, sleep=self._sleep, poll=poll,
                        busy=lambda retry_after: TransientError(f"the lease {name!r} is held by another worker",
                                                                code="LEASE_BUSY", retry_after=retry_after))
        try:
            yield
        finally:
            if not self.release(name, owner):
                # Someone took the lease after it ran out: the block outlived `ttl`.
                logger.warning("a lease ran out before its holder let go", extra={"lease": name, "ttl": ttl})

    def _try_acquire(self, name: str, owner: str, ttl_seconds: float) -> float | None:
        """None when the lease is now `owner`'s, else the time the current holder's lease ends."""
        now = self._clock()
        try:
            self._table.put(
                {
                    **lease_key(name),
                    "owner": owner,
                    "held_until": now + ttl_seconds,
                    "expires_at": ttl_at(now + ttl_seconds + _SWEEP_AFTER_SECONDS),
                },
                condition="attribute_not_exists(pk) OR held_until <= :now OR #owner = :owner",
                names={"#owner": "owner"},
                values={":now": now, ":owner": owner},
            )
        except ConditionFailed as failure:
            return float(failure.item["held_until"]) if failure.item else now
        return None
