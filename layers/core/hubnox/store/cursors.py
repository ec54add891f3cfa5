"""Poller cursors: where each scan of a portal left off."""

from __future__ import annotations

from hubnox.store.table import Table, cursor_key


class CursorStore:
    """One string value per portal and cursor name."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, portal_id: str, name: str) -> str | None:
        """The stored cursor, or None before the first `put`."""
        item = self._table.get(cursor_key(portal_id, name))
        return None if item is None else str(item["value"])

    def put(self, portal_id: str, name: str, value: str) -> None:
        """Store the cursor, replacing the previous one."""
        self._table.put({**cursor_key(portal_id, name), "value": value})
