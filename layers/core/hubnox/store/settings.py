"""A portal's settings, saved whole with optimistic concurrency.

The payload is the JSON-compatible form of the portal's settings model, stored as a DynamoDB map
(floats become exact decimals and read back as numbers of the same value). Every save names the
version it started from; a save over a newer version raises `StaleVersion`, so two admins editing
at once cannot silently undo each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubnox.store.table import ConditionFailed, StaleVersion, Table, settings_key

__all__ = ["SettingsStore", "StaleVersion"]


class SettingsStore:
    """Reads and saves the settings payload of each portal."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, portal_id: str) -> tuple[dict[str, Any] | None, int]:
        """The stored payload and its version, or (None, 0) before the first save."""
        item = self._table.get(settings_key(portal_id))
        if item is None:
            return None, 0
        return dict(item["payload"]), int(item["version"])

    def put(self, portal_id: str, payload: Mapping[str, Any], expected_version: int) -> int:
        """Save `payload` over `expected_version` (0 for the first save) and return the new version.

        Raises `StaleVersion` naming the expected and the stored version when they differ.
        """
        item = {**settings_key(portal_id), "payload": dict(payload), "version": expected_version + 1}
        try:
            if expected_version == 0:
                self._table.put(item, condition="attribute_not_exists(pk)")
            else:
                self._table.put(
                    item,
                    condition="#version = :expected",
                    names={"#version": "version"},
                    values={":expected": expected_version},
                )
        except ConditionFailed as failure:
            actual = int(failure.item["version"]) if failure.item else 0
            raise StaleVersion(
                f"the settings of portal {portal_id}",
                expected=expected_version,
                actual=actual,
                item=failure.item,
            ) from failure
        return expected_version + 1
