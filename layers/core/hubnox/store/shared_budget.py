"""A request budget shared by every Lambda container, paced through one item per key in the table.

Fortnox allows 25 requests per 5 s per app and tenant, HubSpot 110 per 10 s per app and portal,
however many workers run at once, so an in-process limiter is not enough: each container would
spend the whole budget by itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from hubnox.errors import TransientError
from hubnox.store.table import Clock, ConditionFailed, Key, Table, ttl_at

#: `next_at` is kept in epoch microseconds, an integer, so the schedule's arithmetic is exact
_MICROS = 1_000_000
#: how late after its slot a call may still go: later, it could land in one window with on-time
#: calls of later slots (Fortnox's pace leaves two calls of margin a window, about 0.4 s), so it
#: takes the next free slot instead
LATE_SECONDS = 0.25
#: how many slots a call takes at most before it goes however late it is
LATE_TRIES = 3


def budget_key(key: str) -> Key:
    """The one item that holds `key`'s schedule."""
    return {"pk": f"RATE#{key}", "sk": "NEXT"}


class DynamoRateBudget:
    """Reservation pacing (the generic cell rate algorithm) per key, shared through conditional writes.

    A budget of `limit` requests per `window` seconds is a schedule with one slot every
    `T = window / limit` seconds. The key's item (`RATE#<key>` / `NEXT`) holds `next_at` (epoch
    microseconds), the earliest time the next slot may start. A request takes `slot = max(now, next_at)` and moves
    `next_at` to `slot + T` with a conditional `UpdateItem` (`next_at` still as it was read), then
    sleeps until its slot. A lost race answers the winner's `next_at`
    (`ReturnValuesOnConditionCheckFailure`), so the next try needs no read.

    Why this and not a window counter: slots are exactly `T` apart, so no span of `window` seconds
    ever holds more than `limit` requests, and steady traffic gets all of them: Fortnox's 23 per
    5 s is 4.6 requests a second, 92 % of its 25 per 5 s, the two requests left over being the
    margin for the skew between Lambda clocks and the spread of network latency; a call that would
    go more than `LATE_SECONDS` after its slot takes the next one instead. The counter this
    replaced (five one-second slices, the oldest counted in full) gave only `limit` per 6 s.
    There is no burst: a lone request goes at once, the next one `T` later.

    Cost: one DynamoDB write per request (about a millionth of a dollar on demand), one more per
    lost race; each container remembers the last `next_at` it saw, so nothing is read first.
    """

    def __init__(self, table: Table, clock: Clock, sleep: Callable[[float], None] = time.sleep) -> None:
        self._table = table
        self._clock = clock
        self._sleep = sleep
        #: key -> the last `next_at` this container wrote or saw (None or absent: no item known)
        self._known: dict[str, int | None] = {}

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        """Take the next slot of `key`'s budget of `limit` per `window` seconds and wait for it.

        Sleeps (with the injected sleep) until the slot, and raises `TransientError` (code
        `RATE_BUDGET`, `retry_after` the wait that would be needed) without taking a slot when the
        slot is more than `max_wait` seconds away.
        """
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate budget needs limit >= 1 and window > 0, not {limit} per {window}")
        # Whole microseconds, rounded up: float epoch seconds near 1.8e9 lose a tenth of a
        # microsecond per addition, which would let slots creep closer than `window / limit`.
        interval = math.ceil(window * _MICROS / limit)
        for _ in range(LATE_TRIES):
            slot = self._reserve(key, interval, window, max_wait) / _MICROS
            wait = slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            # A slot missed by more than the margin (a slow reservation, a sleep woken late on a busy
            # machine) would bunch this call with on-time ones: take the next slot instead (at once
            # where the schedule is idle, behind the slots booked meanwhile where it is not).
            if self._clock() - slot <= LATE_SECONDS:
                return

    def reserve(self, key: str, *, limit: int, window: float) -> float:
        """Book the next slot of `key`'s budget without waiting for it, and answer the seconds until
        it starts (0: now). For a slot a caller comes back for later, however far ahead it is."""
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate budget needs limit >= 1 and window > 0, not {limit} per {window}")
        slot = self._reserve(key, math.ceil(window * _MICROS / limit), window, math.inf) / _MICROS
        return max(0.0, slot - self._clock())

    def ahead(self, key: str) -> float:
        """How many seconds `key`'s schedule runs ahead of now: how long a request made now would
        wait for its slot (0 when it would go at once). One strongly consistent read."""
        item = self._table.get(budget_key(key))
        next_at = int(item["next_at"]) if item and "next_at" in item else None
        self._known[key] = next_at
        return max(0.0, (next_at or 0) / _MICROS - self._clock())

    def _reserve(self, key: str, interval: int, window: float, max_wait: float) -> int:
        """Move `key`'s `next_at` one interval past the slot taken and answer the slot (all in
        epoch microseconds)."""
        known = self._known.get(key)
        while True:
            now = math.ceil(self._clock() * _MICROS)
            slot = max(now, known if known is not None else now)
            if slot - now > max_wait * _MICROS:
                ahead = (slot - now) / _MICROS
                raise TransientError(
                    f"the request budget for {key} is booked {ahead:.1f} s ahead "
                    f"(one request per {interval / _MICROS:g} s)",
                    code="RATE_BUDGET", retry_after=ahead)
            following = slot + interval
            try:
                self._table.update(
                    budget_key(key),
                    set_fields={"next_at": following,
                                "expires_at": ttl_at(following / _MICROS + window + 60)},
                    condition="attribute_not_exists(#next)" if known is None else "#next = :known",
                    names={"#next": "next_at"},
                    values=None if known is None else {":known": known},
                )
            except ConditionFailed as failure:
                item = failure.item
                known = int(item["next_at"]) if item and "next_at" in item else None
                continue
            self._known[key] = following
            return slot
