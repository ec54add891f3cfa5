"""One Fortnox customer per HubSpot record, however many of its runs overlap.

A company's deals run side by side (admission lets several of a company's jobs in at once). When
customer resolution's rules find no customer for a record (no link property yet, no match value,
or a search made before the other run's create), each run would create one. Only on that create
path, a run takes a lease on the record (`customer#<portal>#<kind>#<recordId>`) and, inside it,
reads which customer hubnox made for the record in this Fortnox company (`MadeCustomers`): when
Fortnox still has it (one GET by number), that customer is billed as a matched one; otherwise
(none made, or deleted in Fortnox since) the run creates it and records it before letting go.
A record whose customer was found by the rules never takes the lease.

The lease is taken inside the deal lease (`hubnox.sync.jobs.documents`), never the other way
round, so the two cannot wait on each other. A run that cannot get it within
`CUSTOMER_LEASE_WAIT_SECONDS` goes back to the queue (`TransientError` `CUSTOMER_BUSY`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from hubnox.errors import TransientError
from hubnox.fortnox.models import FortnoxCustomer
from hubnox.jobs import BACKOFF_BASE_SECONDS
from hubnox.sync.attempt import Attempt
from hubnox.sync.ports import CustomerCreations, Leases, MadeCustomers
from hubnox.waiting import wait_until_done

#: the block is a GET and a create in Fortnox (each may wait up to 10 s for the company's rate
#: budget, and retry); a worker that dies holding the lease blocks the record's runs this long at most
CUSTOMER_LEASE_TTL_SECONDS = 60.0
#: a run waits this long for another run's create before going back to the queue
CUSTOMER_LEASE_WAIT_SECONDS = 10.0
CUSTOMER_LEASE_POLL_SECONDS = 0.2


class CustomerGuard:
    """Builds each try's `CustomerCreations` over the shared leases and the made-customer records."""

    def __init__(self, *, leases: Leases, made: MadeCustomers, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self._leases = leases
        self._made = made
        self._clock = clock
        self._sleep = sleep

    def for_attempt(self, current: Attempt) -> CustomerCreations:
        """The guard for one try: its portal, its Fortnox company (read only when a create is near) and
        its run as the lease's owner."""
        return _RecordGuard(self, current)

    def create_once(self, portal_id: str, tenant: str, owner: str, kind: str, record_id: str, *,
                    find: Callable[[str], FortnoxCustomer | None],
                    create: Callable[[], FortnoxCustomer]) -> tuple[FortnoxCustomer, bool]:
        """The record's customer made earlier in `tenant` that `find` still finds (False), else the one
        `create` makes now, recorded before the lease is let go (True)."""
        name = f"customer#{portal_id}#{kind}#{record_id}"
        holder = f"{owner}#{secrets.token_hex(4)}"
        wait_until_done(
            lambda: None if self._leases.acquire(name, holder, CUSTOMER_LEASE_TTL_SECONDS) else 0.0,
            max_wait=CUSTOMER_LEASE_WAIT_SECONDS, poll=CUSTOMER_LEASE_POLL_SECONDS, clock=self._clock,
            sleep=self._sleep,
            busy=lambda _: TransientError(f"Another run is creating the Fortnox customer for the {kind} {record_id} "
                                          "right now.", code="CUSTOMER_BUSY", retry_after=BACKOFF_BASE_SECONDS))
        try:
            number = self._made.get(portal_id, tenant, kind, record_id)
            found = find(number) if number else None
            if found is not None:
                return found, False
            customer = create()
            if customer.customer_number:
                self._made.put(portal_id, tenant, kind, record_id, customer.customer_number)
            return customer, True
        finally:
            self._leases.release(name, holder)


class _RecordGuard:
    """`CustomerCreations` for one try of one run."""

    def __init__(self, guard: CustomerGuard, current: Attempt) -> None:
        self._guard = guard
        self._current = current

    def create_once(self, kind: str, record_id: str, *, find: Callable[[str], FortnoxCustomer | None],
                    create: Callable[[], FortnoxCustomer]) -> tuple[FortnoxCustomer, bool]:
        current = self._current
        return self._guard.create_once(current.portal_id, current.fortnox.tenant_key, current.job.run_id, kind,
                                       record_id, find=find, create=create)
