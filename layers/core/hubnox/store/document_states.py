"""Snapshots of what hubnox last wrote to HubSpot about each Fortnox document and customer.

The status sync compares what Fortnox says now with these snapshots and writes only the difference,
so a cycle in which nothing changed writes nothing to HubSpot. A document's snapshot also names its
deal, which makes it tracked: its later changes reach the deal even when nothing else links them.

| sk                         | item                                                           |
| -------------------------- | -------------------------------------------------------------- |
| `FNXDOC#<kind>#<number>`   | `deal_id`, `customer_number`, `state`, `written`, `checked_at` |
| `FNXCUST#<customerNumber>` | `written`, `last_payment_date`                                 |

Both live in the portal's partition, so deleting a portal's data deletes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from hubnox.store.table import BATCH_GET_MAX, Item, Table, customer_state_key, document_state_key
from hubnox.sync.status_model import CustomerSnapshot, DocumentKey, DocumentSnapshot


class DocumentStateStore:
    """Reads and writes the snapshots (`hubnox.sync.ports.DocumentStates`)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get_many(self, portal_id: str, keys: Iterable[DocumentKey]) -> dict[DocumentKey, DocumentSnapshot]:
        """The snapshots of those of `keys` that are tracked, 100 keys a BatchGetItem."""
        wanted = list(dict.fromkeys(keys))
        found: dict[DocumentKey, DocumentSnapshot] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            chunk = wanted[start:start + BATCH_GET_MAX]
            for item in self._table.batch_get([document_state_key(portal_id, kind, number) for kind, number in chunk]):
                _, kind, number = str(item["sk"]).split("#", 2)
                found[kind, number] = _document(item)
        return found

    def put(self, portal_id: str, kind: str, number: str, snapshot: DocumentSnapshot) -> None:
        """Store the document's snapshot, replacing the previous one."""
        self._table.put({**document_state_key(portal_id, kind, number), "deal_id": snapshot.deal_id,
                         "customer_number": snapshot.customer_number, "state": snapshot.state,
                         "written": dict(snapshot.written), "checked_at": snapshot.checked_at})

    def customer(self, portal_id: str, customer_number: str) -> CustomerSnapshot | None:
        """The customer's snapshot, or None before its totals were first written."""
        item = self._table.get(customer_state_key(portal_id, customer_number), consistent=False)
        if item is None:
            return None
        stored = item.get("last_payment_date")
        return CustomerSnapshot(written={k: str(v) for k, v in (item.get("written") or {}).items()},
                                last_payment_date=date.fromisoformat(stored) if stored else None)

    def put_customer(self, portal_id: str, customer_number: str, snapshot: CustomerSnapshot) -> None:
        """Store the customer's snapshot, replacing the previous one."""
        self._table.put({**customer_state_key(portal_id, customer_number), "written": dict(snapshot.written),
                         "last_payment_date": snapshot.last_payment_date.isoformat()
                         if snapshot.last_payment_date else None})


def _document(item: Item) -> DocumentSnapshot:
    return DocumentSnapshot(deal_id=str(item["deal_id"]), customer_number=str(item.get("customer_number") or ""),
                            state=str(item.get("state") or ""),
                            written={k: str(v) for k, v in (item.get("written") or {}).items()},
                            checked_at=float(item.get("checked_at") or 0))
