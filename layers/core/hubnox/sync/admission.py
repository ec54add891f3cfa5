"""Admission: whether a job may start its Fortnox work now, so a backlog drains at the budget's pace.

Fortnox's budget is per company (`hubnox.store.shared_budget`), but the workers are shared by every
portal. Left alone, a backlog of one portal's deals fills every worker, and each worker then sleeps
on that one company's budget while other portals' jobs wait in the queue. So before a job is
marked running, and before any HubSpot or Fortnox call, it is admitted or sent back with a delay
(`hubnox.sync.runner`, which costs it no try):

- **Its turn.** A new job books a start on its company's admission schedule (`admit:<budget key>`,
  `DEALS_PER_WINDOW` per `WINDOW_SECONDS`, paced like the call budget) as it is sent (`book`,
  called by `hubnox.jobs.submit`): it carries its start (`Job.admit_at`) and is held back in the
  queue until about then, so a backlog of 200 deals waits in the queue, not in the workers, and no
  worker receives a job only to send it back. A job that comes without a start (sent by a build
  before this, or whose booking failed) books it on arrival, and goes back to the queue until then
  when it is more than `AHEAD_SECONDS` away.
- **The calls booked.** Admission paces deals at the rate of the cheapest later deal, three
  Fortnox calls (customer, create, PDF: the article list's check is skipped within 30 s of the
  last, as it is in a backlog), so the call budget, not admission, sets a backlog's pace; deals
  that make more book the call schedule further ahead. When it is booked more than
  `AHEAD_SECONDS` ahead, the job waits that long first, so no worker sits out a long wait.
- **In flight.** At most `IN_FLIGHT_PER_COMPANY` jobs of one company run at once, each holding one
  of that many lease slots (`inflight#<budget key>#<n>`, with a TTL, so a worker that dies frees its
  slot by itself): a safety net for slow deals, so the other workers stay free for other portals.
  A job that finds every slot taken books a new turn and comes back then (at least
  `FULL_RETRY_SECONDS` later), so a backlog due all at once is spread over the schedule again.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hubnox.jobs import Job
from hubnox.sync.ports import Leases

#: a wait longer than this is spent in the queue rather than in a worker
AHEAD_SECONDS = 3.0
#: the Fortnox calls of the cheapest later deal in a backlog: customer, create, PDF
CHEAPEST_DEAL_CALLS = 3
#: deals a company starts per window: its call budget (`hubnox.fortnox.client.REQUESTS_PER_WINDOW`,
#: 23 per 5 s) over the cheapest deal's calls, rounded up. Paced for four calls a deal (6), a
#: backlog of three-call deals drained at 72 % of Fortnox's limit, held by admission alone.
DEALS_PER_WINDOW = 8
WINDOW_SECONDS = 5.0
#: how many jobs of one Fortnox company run at once (a job holds its slot from admission to its note).
#: Two of a company's deals in flight at once no longer race to create its Fortnox customer
#: (`hubnox.sync.customer_guard`); at 6, a 200-deal backlog drained at 85 % of Fortnox's limit, at
#: 10 at 87 % (`python -m benchmarks.drain --trigger stage`), the extra slots covering deals that wait
#: on HubSpot between their Fortnox calls
IN_FLIGHT_PER_COMPANY = 10
#: the least a job turned away by the in-flight cap waits before it asks again (it books a new turn
#: on the company's deal schedule and waits for that when it is later). Asking again every 2 s, the
#: 190 jobs of a 200-deal backlog whose turns had all passed were sent back 2,175 times in its drain.
FULL_RETRY_SECONDS = 2
#: how long an in-flight slot lasts if its worker never gives it back: the worker's timeout
SLOT_SECONDS = 120.0
#: the longest an SQS message can be held back (`DelaySeconds`)
SQS_MAX_DELAY_SECONDS = 900
#: the job kinds that call Fortnox, and so are admitted by its budget
FORTNOX_KINDS = frozenset({"create_document", "sync_customer", "sync_products"})


class Schedule(Protocol):
    """A rate budget's schedule (`hubnox.store.shared_budget.DynamoRateBudget`)."""

    def ahead(self, key: str) -> float: ...

    def reserve(self, key: str, *, limit: int, window: float) -> float: ...


@dataclass(frozen=True)
class Admitted:
    """A job let in: the slot it holds until `Admission.leave` (None: it needed none)."""

    slot: str | None = None
    owner: str = ""


@dataclass(frozen=True)
class Later:
    """A job sent back: how long it waits, and the start it comes back for."""

    seconds: int
    admit_at: float


class Admission:
    """Lets a job in, or says how long it should wait; every dependency is injected."""

    def __init__(self, *, schedule: Schedule, budget_key: Callable[[str], str | None], leases: Leases,
                 clock: Callable[[], float], in_flight: int = IN_FLIGHT_PER_COMPANY) -> None:
        self._schedule = schedule
        #: a portal's Fortnox budget key (None when the portal has no Fortnox company connected)
        self._budget_key = budget_key
        self._leases = leases
        self._clock = clock
        self._in_flight = in_flight

    def book(self, job: Job) -> tuple[Job, int]:
        """Book a new job's turn as it is sent (`hubnox.jobs.submit`): answers the job carrying its
        turn (`admit_at`) and the whole seconds to hold it back in the queue (at most SQS's 900), so
        a backlog waits in the queue from the start instead of every job being received by a worker
        only to be sent back. A job that is no Fortnox work, already carries a turn, or whose portal
        has no Fortnox company is answered as it is; `enter` books those when they arrive."""
        key = None if job.admit_at is not None else self._key(job)
        if key is None:
            return job, 0
        turn = self._turn(key)
        booked = job.model_copy(update={"admit_at": self._clock() + turn})
        # Held back whole seconds short of the turn, so it arrives within `enter`'s second of it.
        return booked, min(SQS_MAX_DELAY_SECONDS, math.floor(turn)) if turn > 1 else 0

    def enter(self, job: Job) -> Admitted | Later:
        """Admit `job` (holding an in-flight slot of its company) or say when it should come back."""
        key = self._key(job)
        if key is None:  # no Fortnox work, or no company: a run without one fails on its own, saying so
            return Admitted()
        now = self._clock()
        if job.admit_at is None:
            turn = self._turn(key)
            if turn > AHEAD_SECONDS:
                return _later(now, turn)
        elif job.admit_at - now > 1:  # back before its start (a delay is at most SQS's 15 minutes)
            return _later(now, job.admit_at - now)
        ahead = self._schedule.ahead(key)
        if ahead > AHEAD_SECONDS:
            return _later(now, ahead)
        # Start at a slot of the run's own, so racing jobs rarely try the same slots in turn.
        first = zlib.crc32(job.run_id.encode()) % self._in_flight
        for offset in range(self._in_flight):
            slot = f"inflight#{key}#{(first + offset) % self._in_flight}"
            if self._leases.acquire(slot, job.run_id, SLOT_SECONDS):
                return Admitted(slot, job.run_id)
        # Every slot is taken: book a new turn rather than ask again in a moment, so a backlog whose
        # turns passed while no worker ran (all of them due at once) is sent back about once a job,
        # each to a turn of its own, not every few seconds until a slot frees.
        return _later(now, max(FULL_RETRY_SECONDS, self._turn(key)))

    def _key(self, job: Job) -> str | None:
        """The Fortnox budget key admission paces `job` on; None for a job it lets through (no Fortnox
        work, a follow-up telling an outcome, a portal without a Fortnox company)."""
        if job.kind not in FORTNOX_KINDS or job.delivery_round is not None:
            return None
        return self._budget_key(job.portal_id)

    def _turn(self, key: str) -> float:
        """Book the next start on the company's deal schedule; answers the seconds until it."""
        return self._schedule.reserve(f"admit:{key}", limit=DEALS_PER_WINDOW, window=WINDOW_SECONDS)

    def leave(self, admitted: Admitted) -> None:
        """Give back the admitted job's slot."""
        if admitted.slot is not None:
            self._leases.release(admitted.slot, admitted.owner)


def _later(now: float, seconds: float) -> Later:
    return Later(math.ceil(seconds), now + seconds)
