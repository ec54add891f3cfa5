"""A portal's settings, saved whole with optimistic concurrency.

The payload is the JSON-compatible form of the portal's settings model, stored as a DynamoDB map
(floats become exact decimals and read back as numbers of the same value). Every save names the
version it started from; a save over a newer version raises `StaleVersion`, so two admins editing
at once cannot silently undo each other. A save from the settings page (`require_install`) also
needs the portal's HubSpot installation to exist, checked in the same transaction, so a page left
open cannot bring back a deleted portal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubnox.errors import HubnoxError
from hubnox.store.table import StaleVersion, Table, TransactionCancelled, connection_key, settings_key

__all__ = ["PortalGone", "SettingsStore", "StaleVersion"]


class PortalGone(HubnoxError):
    """The portal's data was deleted (or hubnox was never installed there): there is nothing to save to."""

    code = "PORTAL_GONE"


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

    def put(self, portal_id: str, payload: Mapping[str, Any], expected_version: int, *,
            require_install: bool = False) -> int:
        """Save `payload` over `expected_version` (0 for the first save) and return the new version.

        Raises `StaleVersion` naming the expected and the stored version when they differ, and
        with `require_install` `PortalGone` (writing nothing) when the portal has no installation.
        """
        item = {**settings_key(portal_id), "payload": dict(payload), "version": expected_version + 1}
        if expected_version == 0:
            write = self._table.put_request(item, condition="attribute_not_exists(pk)")
        else:
            write = self._table.put_request(
                item,
                condition="#version = :expected",
                names={"#version": "version"},
                values={":expected": expected_version},
            )
        operations: list[tuple[str, dict[str, Any]]] = [("Put", write)]
        if require_install:
            installed = self._table.check_request(connection_key(portal_id, "hubspot"), "attribute_exists(pk)")
            operations.insert(0, ("ConditionCheck", installed))
        try:
            self._table.transact_write(operations)
        except TransactionCancelled as refused:
            if require_install and 0 in refused.failed:
                raise PortalGone(f"portal {portal_id} has no installation to save settings for") from refused
            _, actual = self.get(portal_id)
            raise StaleVersion(
                f"the settings of portal {portal_id}",
                expected=expected_version,
                actual=actual,
                item=self._table.get(settings_key(portal_id)),
            ) from refused
        return expected_version + 1
