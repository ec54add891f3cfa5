"""Admission: whether a job may start its Fortnox work now, so a backlog drains at the budget's pace.

Fortnox's budget is per company (`hubnox.store.shared_budget`), but the workers are shared by every
portal. Left alone, a backlog of one portal's deals fills every worker, and each worker then sleeps
on that one company's budget while other portals' jobs wait in the queue. Two checks, before the
run is marked running and before any HubSpot or Fortnox call:

- **Schedule.** When the company's schedule is already booked more than `AHEAD_SECONDS` ahead, the
  job would only sit in a worker waiting for its slots: it is put back for about that long.
- **In-flight cap.** At most `IN_FLIGHT_PER_COMPANY` jobs of one company run at once, each holding
  one of that many lease slots (`inflight#<budget key>#<n>`, with a TTL, so a worker that dies
  frees its slot by itself). Four deals in flight keep a company's budget busy (a deal spends
  most of its time on HubSpot and the table, not waiting for Fortnox), and the other workers stay
  free for other portals: each company drains at its own pace, independently.

A job turned away is sent again with a delay (`hubnox.sync.runner`), which costs it no try.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hubnox.jobs import Job
from hubnox.sync.ports import Leases

#: a company's schedule booked further ahead than this sends a new job back instead of starting it
AHEAD_SECONDS = 3.0
#: how many jobs of one Fortnox company run at once
IN_FLIGHT_PER_COMPANY = 4
#: how long a job turned away by the in-flight cap waits before it asks again
FULL_RETRY_SECONDS = 2
#: how long an in-flight slot lasts if its worker never gives it back: the worker's timeout
SLOT_SECONDS = 120.0
#: the job kinds that call Fortnox, and so are admitted by its budget
FORTNOX_KINDS = frozenset({"create_document", "sync_customer", "sync_products"})


class Schedule(Protocol):
    """How far a rate budget key is booked ahead (`hubnox.store.shared_budget.DynamoRateBudget`)."""

    def ahead(self, key: str) -> float: ...


@dataclass(frozen=True)
class Admitted:
    """A job let in: the slot it holds until `Admission.leave` (None: it needed none)."""

    slot: str | None = None
    owner: str = ""


class Admission:
    """Lets a job in, or says how many seconds it should wait; every dependency is injected."""

    def __init__(self, *, schedule: Schedule, budget_key: Callable[[str], str | None], leases: Leases,
                 in_flight: int = IN_FLIGHT_PER_COMPANY, ahead_seconds: float = AHEAD_SECONDS) -> None:
        self._schedule = schedule
        #: a portal's Fortnox budget key (None when the portal has no Fortnox company connected)
        self._budget_key = budget_key
        self._leases = leases
        self._in_flight = in_flight
        self._ahead = ahead_seconds

    def enter(self, job: Job) -> Admitted | int:
        """Admit `job` (holding an in-flight slot of its company) or answer the whole seconds it should
        wait before it asks again."""
        if job.kind not in FORTNOX_KINDS or job.delivery_round is not None:
            return Admitted()
        key = self._budget_key(job.portal_id)
        if key is None:  # the run fails on its own, telling the user to connect Fortnox
            return Admitted()
        ahead = self._schedule.ahead(key)
        if ahead > self._ahead:
            return math.ceil(ahead)
        # Start at a slot of the run's own, so racing jobs rarely try the same slots in turn.
        first = zlib.crc32(job.run_id.encode()) % self._in_flight
        for offset in range(self._in_flight):
            slot = f"inflight#{key}#{(first + offset) % self._in_flight}"
            if self._leases.acquire(slot, job.run_id, SLOT_SECONDS):
                return Admitted(slot, job.run_id)
        return FULL_RETRY_SECONDS

    def leave(self, admitted: Admitted) -> None:
        """Give back the admitted job's slot."""
        if admitted.slot is not None:
            self._leases.release(admitted.slot, admitted.owner)
