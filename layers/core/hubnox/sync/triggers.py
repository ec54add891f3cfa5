"""The one decision whether a deal seen in a trigger stage gets a run, shared by the poller and webhooks.

HubSpot's webhooks tell hubnox at once that a deal entered a stage; the poller finds the same deal a
few minutes later as the safety net. Both ask `TriggerDecider.consider`, which makes one run per deal
and rule whoever sees it first. Cheapest check first:

- a deal whose deal link already records a document for the rule is done;
- a deal whose newest run is for the same rule and still queued or running (or still telling its
  outcome) is in hand; a run whose job never reached the queue (`NOT_QUEUED`) is not;
- a deal whose newest run for the rule failed, and that has not changed since (beyond the
  `SETTLE_SECONDS` in which hubnox's own note and properties land), waits for a person to change
  it or press Replay — otherwise hubnox's write-back would retrigger it every time;
- a claim on (portal, deal, rule, last-modified moment) in the nonce store, so overlapping search
  windows, overlapping ticks and HubSpot's redelivered events submit a given version of a deal once.

The checks and the enqueue run under a short lease on (portal, deal, trigger key): a webhook and a
poll deciding about the same deal at the same moment take turns, and the second one finds the first
one's run (the run record is written before the lease is given back) and skips it.

Every decision is written to the trigger log (`TriggerLog`), which the sync log shows as "why did
this deal (not) trigger?".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from hubnox.jobs import NOT_QUEUED
from hubnox.observability import logger
from hubnox.records import Run
from hubnox.sync.ports import DealLinks, Leases, NonceClaims, RunHistory

if TYPE_CHECKING:  # the poller imports this module
    from hubnox.sync.poller import StageRule

#: changes to a deal this soon after its failed run finished are hubnox's own note and properties
SETTLE_SECONDS = 120.0
#: how long a (deal, rule, version) claim is kept: far longer than any search window reaches back
CLAIM_TTL_SECONDS = 7 * 24 * 3600
#: the claims' kind in the nonce store (the poller's name for it, kept so claims stay shared)
CLAIM_KIND = "poll"
#: how long one decision may hold its deal's lease: a few reads and one enqueue
LEASE_SECONDS = 30.0
#: how long a decision waits for another one about the same deal and rule before giving up
LEASE_WAIT_SECONDS = 5.0
LEASE_POLL_SECONDS = 0.05

TriggerSource = Literal["webhook", "poller"]

#: what was decided about a deal and rule; the trigger log's `decision` values
ENQUEUED = "enqueued"
HAS_DOCUMENT = "has its document"
IN_PROGRESS = "run in progress"
UNCHANGED_SINCE_FAILURE = "unchanged since its failed run"
ALREADY_ENQUEUED = "already enqueued"
DUPLICATE_EVENT = "duplicate event"
STAGE_NOT_A_TRIGGER = "stage not a trigger"
OTHER_PIPELINE = "other pipeline"
LEFT_TO_POLLER = "left to the poller"
NOT_INSTALLED = "portal not installed"
BUSY = "another check still deciding"

#: submits the create_document job for one deal and rule of a portal as `source` saw it; answers the run
Enqueue = Callable[[str, str, "StageRule", TriggerSource], Run]


@dataclass(frozen=True)
class TriggerRecord:
    """One decision about one deal (and rule, when one applied), as the trigger log keeps it."""

    portal_id: str
    deal_id: str
    source: TriggerSource
    decision: str
    at: float
    trigger_key: str | None = None
    stage_id: str | None = None
    run_id: str | None = None
    deal_name: str | None = None


class TriggerLog(Protocol):
    """Where decisions are recorded for the sync log (`hubnox.store.trigger_log.TriggerLogStore`)."""

    def record(self, entry: TriggerRecord) -> None: ...


@dataclass(frozen=True)
class Decision:
    """What `TriggerDecider.consider` decided: the run it enqueued, or the reason it did not."""

    decision: str
    run_id: str | None = None

    @property
    def enqueued(self) -> bool:
        return self.run_id is not None


class TriggerDecider:
    """Decides, once per deal and rule whoever asks, whether a deal in a trigger stage gets a run."""

    def __init__(
        self,
        *,
        deal_links: DealLinks,
        runs: RunHistory,
        claims: NonceClaims,
        leases: Leases,
        enqueue: Enqueue,
        log: TriggerLog,
        clock: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._deal_links = deal_links
        self._runs = runs
        self._claims = claims
        self._leases = leases
        self._enqueue = enqueue
        self._log = log
        self._clock = clock
        self._sleep = sleep

    def consider(self, portal_id: str, deal_id: str, modified_ms: int, rule: StageRule, source: TriggerSource,
                 *, deal_name: str | None = None) -> Decision:
        """Enqueue the deal's run for `rule` unless something says not to; record the decision.

        `modified_ms` is the moment of the deal's version being considered (its `hs_lastmodifieddate`
        for the poller, the event's `occurredAt` for a webhook). Raises what the enqueue raises, after
        giving its claim back, so that the next poll or HubSpot's retry sends the deal again.
        """
        lease = f"trigger:{portal_id}:{deal_id}:{rule.trigger_key}"
        owner = uuid.uuid4().hex
        if not self._acquire(lease, owner):
            decision = Decision(BUSY)
        else:
            try:
                decision = self._decide(portal_id, deal_id, modified_ms, rule, source)
            finally:
                self._leases.release(lease, owner)
        self.record(portal_id, deal_id, source, decision.decision, trigger_key=rule.trigger_key,
                    stage_id=rule.stage_id, run_id=decision.run_id, deal_name=deal_name)
        return decision

    def record(self, portal_id: str, deal_id: str, source: TriggerSource, decision: str, *,
               trigger_key: str | None = None, stage_id: str | None = None, run_id: str | None = None,
               deal_name: str | None = None) -> None:
        """Write one decision to the trigger log; a log that cannot be written never stops a trigger."""
        entry = TriggerRecord(portal_id=portal_id, deal_id=deal_id, source=source, decision=decision,
                              at=self._clock(), trigger_key=trigger_key, stage_id=stage_id, run_id=run_id,
                              deal_name=deal_name)
        try:
            self._log.record(entry)
        except Exception:
            logger.exception("trigger log write failed", extra={"portal_id": portal_id, "deal_id": deal_id})

    def _acquire(self, lease: str, owner: str) -> bool:
        deadline = self._clock() + LEASE_WAIT_SECONDS
        while True:
            if self._leases.acquire(lease, owner, LEASE_SECONDS):
                return True
            if self._clock() >= deadline:
                logger.warning("trigger lease stayed taken", extra={"lease": lease})
                return False
            self._sleep(LEASE_POLL_SECONDS)

    def _decide(self, portal_id: str, deal_id: str, modified_ms: int, rule: StageRule,
                source: TriggerSource) -> Decision:
        reason = self.reason_to_skip(portal_id, deal_id, modified_ms, rule)
        if reason:
            return Decision(reason)
        claim = f"{portal_id}:{deal_id}:{rule.trigger_key}:{modified_ms}"
        if not self._claims.claim(CLAIM_KIND, claim, CLAIM_TTL_SECONDS):
            return Decision(DUPLICATE_EVENT if source == "webhook" else ALREADY_ENQUEUED)
        try:
            run = self._enqueue(portal_id, deal_id, rule, source)
        except BaseException:
            # Nothing was sent: give the claim back so the next poll or HubSpot's retry sends the deal.
            self._claims.release(CLAIM_KIND, claim)
            raise
        return Decision(ENQUEUED, run.run_id)

    def reason_to_skip(self, portal_id: str, deal_id: str, modified_ms: int, rule: StageRule) -> str | None:
        """Why the deal gets no run for `rule` now, or None when it should get one."""
        link = self._deal_links.get(portal_id, deal_id, rule.trigger_key)
        if link is not None and link.document_number:
            return HAS_DOCUMENT
        latest = self._runs.latest_for_object(portal_id, "deal", deal_id)
        if latest is None or latest.trigger_key != rule.trigger_key:
            return None
        if latest.status in ("queued", "running") or latest.delivery == "pending":
            return IN_PROGRESS
        if latest.error_code == NOT_QUEUED:
            return None  # its job never reached the queue: send the deal again
        if latest.status == "succeeded":
            return HAS_DOCUMENT
        settled_ms = int(((latest.finished_at or latest.created_at) + SETTLE_SECONDS) * 1000)
        if modified_ms <= settled_ms:
            return UNCHANGED_SINCE_FAILURE
        return None
