"""A request budget shared by every Lambda container, counted in the table.

Fortnox allows 25 requests per 5 s per app and tenant, HubSpot 110 per 10 s per app and portal,
however many workers run at once, so an in-process limiter is not enough: each container would
spend the whole budget by itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from hubnox.errors import TransientError
from hubnox.store.table import Clock, ConditionFailed, Table, rate_key, ttl_at
from hubnox.waiting import wait_until_done

#: The shortest pause between two tries, so that a lost race never spins.
_MIN_WAIT_SECONDS = 0.001
_DEFAULT_SLICES = 5


class DynamoRateBudget:
    """A sliding-window request counter per key, shared through conditional writes.

    Each window is cut into `slices` time slices with one counter item each (`RATE#<key>` /
    `<slice>#<bucket>`, swept by TTL). A request in slice `b` is allowed while the slices
    `b - slices .. b` together hold fewer than `limit`. The finished slices no longer change, so
    their sum is read once and the check on the current slice is one conditional `UpdateItem`
    (`ADD count 1` if `count < limit - finished`): concurrent containers never overspend.
    Counting the oldest, partly overlapping slice in full makes this strict: no span of `window`
    seconds ever holds more than `limit` requests (up to the skew between Lambda clocks). The
    price is throughput: steady traffic gets `limit` per `window * (slices + 1) / slices`
    seconds, e.g. 25 per 6 s for Fortnox's 25 per 5 s, the 4–4.8 requests per second
    that Fortnox clients find stays clear of 429s.

    Trade-off: every allowed request costs one DynamoDB write (a few milliseconds, about a
    millionth of a dollar on demand) and a refused try another; the finished slices cost one
    strongly consistent query per key and slice per container. In return the budget holds
    across every container, which no in-process limiter can do.
    """

    def __init__(
        self,
        table: Table,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        *,
        slices: int = _DEFAULT_SLICES,
    ) -> None:
        if slices < 1:
            raise ValueError("a window needs at least one slice")
        self._table = table
        self._clock = clock
        self._sleep = sleep
        self._slices = slices
        # (key, slice seconds) -> (current bucket, counts of the finished buckets before it)
        self._finished: dict[tuple[str, float], tuple[int, tuple[int, ...]]] = {}

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        """Spend one request of `key`'s budget of `limit` per `window` seconds, waiting if needed.

        Sleeps (with the injected sleep) until the budget allows the request, and raises
        `TransientError` with `retry_after` when that would take longer than `max_wait` seconds.
        """
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate budget needs limit >= 1 and window > 0, not {limit} per {window}")
        wait_until_done(
            lambda: self._try_spend(key, limit, window / self._slices, self._clock()),
            max_wait=max_wait, clock=self._clock, sleep=self._sleep,
            busy=lambda wait: TransientError(f"the request budget for {key} is spent ({limit} per {window:g} s)",
                                             code="RATE_BUDGET", retry_after=wait),
        )

    def _try_spend(self, key: str, limit: int, size: float, now: float) -> float | None:
        """None when a request was counted, else the seconds until one may be."""
        bucket = math.floor(now / size)
        finished = self._finished_counts(key, size, bucket)
        allowed = limit - sum(finished)
        current = 0
        if allowed > 0:
            try:
                self._table.update(
                    rate_key(key, size, bucket),
                    set_fields={"expires_at": ttl_at((bucket + self._slices + 2) * size)},
                    add_fields={"count": 1},
                    condition="attribute_not_exists(#count) OR #count < :allowed",
                    names={"#count": "count"},
                    values={":allowed": allowed},
                )
            except ConditionFailed as failure:
                current = int(failure.item["count"]) if failure.item else allowed
            else:
                return None
        counts = (*finished, current)
        # The first later slice whose window holds room for one, counting only what is known now;
        # the slice after all known counts always qualifies.
        ahead = next(a for a in range(1, len(counts) + 1) if sum(counts[a:]) < limit)
        return max((bucket + ahead) * size - now, _MIN_WAIT_SECONDS)

    def _finished_counts(self, key: str, size: float, bucket: int) -> tuple[int, ...]:
        """The counts of the `slices` buckets before `bucket`, oldest first."""
        cached = self._finished.get((key, size))
        if cached is not None and cached[0] == bucket:
            return cached[1]
        keys = [rate_key(key, size, b) for b in range(bucket - self._slices, bucket)]
        items = self._table.query(keys[0]["pk"], sk_between=(keys[0]["sk"], keys[-1]["sk"]), consistent=True)
        by_sk = {item["sk"]: int(item["count"]) for item in items}
        counts = tuple(by_sk.get(k["sk"], 0) for k in keys)
        self._finished[(key, size)] = (bucket, counts)
        return counts
