"""Deleting a portal's data: what an admin asks for once hubnox is uninstalled, or to start afresh."""

from __future__ import annotations

from hubnox.store.table import Table, portal_partition, registry_key


class PortalDataStore:
    """Everything hubnox keeps about one portal: connections, settings, runs, deal links, cursors."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def delete_portal(self, portal_id: str) -> int:
        """Delete every item of the portal and its registry entry; answers how many items went.

        Leases, nonces and rate counters are not the portal's data and expire on their own.
        """
        items = self._table.query(portal_partition(portal_id), consistent=True)
        for item in items:
            self._table.delete({"pk": item["pk"], "sk": item["sk"]})
        self._table.delete(registry_key(portal_id))
        return len(items)
