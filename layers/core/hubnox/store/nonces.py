"""Single-use values: OAuth `state`, HubSpot signatures, used links and other values that act once."""

from __future__ import annotations

from hubnox.store.table import Clock, ConditionFailed, Table, nonce_key, ttl_at


class NonceStore:
    """Claims values once; a second claim of the same kind and value fails until it expires."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def claim(self, kind: str, value: str, ttl_seconds: float) -> bool:
        """True the first time `value` of `kind` is claimed within `ttl_seconds`, False after.

        Once its time is up a value may be claimed again (DynamoDB sweeps it some time later);
        give each kind a lifetime longer than the value itself stays valid.
        """
        if not value:
            raise ValueError(f"an empty {kind} cannot be claimed")
        now = self._clock()
        try:
            self._table.put(
                {**nonce_key(kind, value), "claimed_at": now, "expires_at": ttl_at(now + ttl_seconds)},
                condition="attribute_not_exists(pk) OR expires_at <= :now",
                values={":now": now},
            )
        except ConditionFailed:
            return False
        return True

    def release(self, kind: str, value: str) -> None:
        """Give back a claim whose work could not be done, so that a retry can claim it again."""
        self._table.delete(nonce_key(kind, value))
