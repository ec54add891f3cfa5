"""Deleting a portal's data: what an admin asks for once hubnox is uninstalled, or to start afresh."""

from __future__ import annotations

import contextlib

from hubnox.store.table import (
    ConditionFailed,
    Table,
    connection_key,
    fortnox_claim_key,
    portal_partition,
    registry_key,
    uninstalled_key,
)


class PortalDataStore:
    """Everything hubnox keeps about one portal: connections, settings, runs, deal links, cursors."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def delete_portal(self, portal_id: str) -> int:
        """Delete every item of the portal, its registry entry and its uninstall mark; answers how many
        items went.

        Leases, nonces, workflow executions' idempotency records and rate counters are not the
        portal's data and expire on their own. A Fortnox company the portal was connected to is
        released for other portals.
        """
        items = self._table.query(portal_partition(portal_id), consistent=True)
        fortnox = connection_key(portal_id, "fortnox")
        for item in items:
            self._table.delete({"pk": item["pk"], "sk": item["sk"]})
            if item["sk"] == fortnox["sk"] and item.get("tenant_id"):
                self._release(str(item["tenant_id"]), portal_id)
        self._table.delete(registry_key(portal_id))
        self._table.delete(uninstalled_key(portal_id))
        return len(items)

    def _release(self, tenant_id: str, portal_id: str) -> None:
        with contextlib.suppress(ConditionFailed):  # another portal holds the company now
            self._table.delete(fortnox_claim_key(tenant_id), condition="portal_id = :portal",
                               values={":portal": portal_id})
