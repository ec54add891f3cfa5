"""What ends settings sessions: a per-portal generation and the sessions ended one by one.

A session token carries the generation of its portal at sign-in and its own id. Raising the
generation ends every session of the portal at once (its data deleted, hubnox installed again);
a logout ends one session by recording its id until the session would have expired anyway.
The generation lives outside the portal's partition, so deleting the portal's data cannot reset it.
"""

from __future__ import annotations

from hubnox.store.table import Clock, Table, ended_session_key, session_generation_key, ttl_at


class SessionStore:
    """Reads and raises session generations; records ended sessions."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def generation(self, portal_id: str) -> int:
        """The portal's current session generation (0 until the first `end_all`)."""
        item = self._table.get(session_generation_key(portal_id))
        return int(item["generation"]) if item else 0

    def end_all(self, portal_id: str) -> int:
        """End every session of the portal; answers the new generation, for the sessions started after."""
        item = self._table.update(session_generation_key(portal_id), set_fields={"portal_id": portal_id},
                                  add_fields={"generation": 1})
        return int(item["generation"])

    def end(self, session_id: str, expires_at: float) -> None:
        """End one session; the record goes when the session would have expired anyway."""
        self._table.put({**ended_session_key(session_id), "ended_at": self._clock(),
                         "expires_at": ttl_at(expires_at + 60)})

    def ended(self, session_id: str) -> bool:
        """Whether a logout ended the session."""
        return self._table.get(ended_session_key(session_id)) is not None
