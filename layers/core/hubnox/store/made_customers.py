"""The Fortnox customer hubnox made for each HubSpot company or contact, per Fortnox company.

Runs of one record that overlap (a company's deals in flight at once) cannot see each other's new
customer in Fortnox or in HubSpot yet: the customer number reaches the record's link property only
when a run tells its outcome, and a record without a match value has nothing to search by. The
customer guard (`hubnox.sync.customer_guard`) reads and writes this item under a lease, so the later
run bills the customer the first one made.

| sk                                       | item                              |
| ---------------------------------------- | --------------------------------- |
| `MADECUST#<tenant>#<kind>#<recordId>`    | `customer_number`, `made_at`      |

The item lives in the portal's partition, so deleting a portal's data deletes it. It has no TTL:
it is a few bytes per record that hubnox made a customer for, and it must outlast the longest gap
between a record's runs whose write-back never reached HubSpot (a failed write, no link property).
The tenant (integration and Fortnox tenant id) in the key makes a portal reconnected to another
Fortnox company start afresh there.
"""

from __future__ import annotations

from hubnox.store.table import Clock, Table, made_customer_key


class MadeCustomerStore:
    """Reads and writes the customers made for records (`hubnox.sync.ports.MadeCustomers`)."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def get(self, portal_id: str, tenant: str, kind: str, record_id: str) -> str | None:
        """The number of the customer made for the record in `tenant`, or None. Read consistently: the
        run that made it may have written it a moment ago."""
        item = self._table.get(made_customer_key(portal_id, tenant, kind, record_id))
        return str(item["customer_number"]) if item and item.get("customer_number") else None

    def put(self, portal_id: str, tenant: str, kind: str, record_id: str, customer_number: str) -> None:
        """Record the customer just made for the record, replacing one made earlier (deleted since)."""
        self._table.put({**made_customer_key(portal_id, tenant, kind, record_id),
                         "customer_number": customer_number, "made_at": self._clock()})
