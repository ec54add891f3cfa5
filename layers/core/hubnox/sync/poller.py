"""The poller: finds deals that entered a portal's trigger stages and enqueues their documents.

HubSpot sends nothing when a deal changes stage for an app without webhooks, so every two minutes
the poller asks HubSpot's search, per installed portal with trigger stages, for deals in those
stages modified since the portal's cursor, oldest change first, and submits one `create_document`
job per deal and stage rule with the trigger key `stage:<stageId>:<document type>`.

Whether a deal found gets a run is `hubnox.sync.triggers.TriggerDecider`'s decision, the same one
the webhooks make, so a deal seen by both makes one run (deal link done? newest run for the rule in
hand? failed and unchanged? a claim per deal version; all under a short per-deal lease).

The cursor is the newest `hs_lastmodifieddate` seen (epoch milliseconds) and moves only after
the jobs for that window are sent; each search starts `OVERLAP_MS` before it, because HubSpot's
search index shows changes "a few moments" late. The client keeps search within its 5 requests
per second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hubnox.errors import HubnoxError
from hubnox.hubspot import paths
from hubnox.hubspot.models import CrmObject
from hubnox.jobs import DocumentType, trigger_key
from hubnox.observability import logger
from hubnox.sync.ports import Cursors, HubSpotReads
from hubnox.sync.triggers import CLAIM_KIND, CLAIM_TTL_SECONDS, SETTLE_SECONDS, TriggerDecider

__all__ = ["CLAIM_KIND", "CLAIM_TTL_SECONDS", "SETTLE_SECONDS", "Poller", "StageRule", "last_modified_ms"]

#: the cursor's name in the cursor store
CURSOR_NAME = "deal-stages"
#: how far each search reaches back before the cursor, for HubSpot's search index lag
OVERLAP_MS = 5 * 60 * 1000
#: where a portal's first search starts: stage changes made shortly before the rules were saved
#: still count, deals that sat in a stage long before do not
FIRST_LOOKBACK_MS = 15 * 60 * 1000
#: deals one portal may contribute to one tick; the cursor carries the rest to the next tick
MAX_DEALS_PER_TICK = 2000
SEARCH_PROPERTIES = ("dealname", "pipeline", "dealstage", "hs_lastmodifieddate")


@dataclass(frozen=True)
class StageRule:
    """A portal's rule: a deal entering `stage_id` gets a Fortnox document of `document_type`."""

    stage_id: str
    document_type: DocumentType
    pipeline_id: str | None = None

    @property
    def trigger_key(self) -> str:
        return trigger_key(f"stage:{self.stage_id}", self.document_type)


@dataclass
class PortalReport:
    """What one tick did for one portal."""

    portal_id: str
    found: int = 0
    enqueued: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    cursor: int | None = None
    error: str | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass
class TickReport:
    """What one tick did: per portal, and in total."""

    portals: list[PortalReport] = field(default_factory=list)
    #: portals left for the next tick because time ran out
    deferred: int = 0

    @property
    def enqueued(self) -> int:
        return sum(len(report.enqueued) for report in self.portals)

    @property
    def failed(self) -> int:
        return sum(1 for report in self.portals if report.error)


class Poller:
    """Polls every installed portal's trigger stages and enqueues what entered them."""

    def __init__(
        self,
        *,
        portals: Callable[[], Iterable[str]],
        rules_for: Callable[[str], Sequence[StageRule]],
        search_for: Callable[[str], HubSpotReads],
        cursors: Cursors,
        decider: TriggerDecider,
        clock: Callable[[], float],
    ) -> None:
        self._portals = portals
        self._rules_for = rules_for
        self._search_for = search_for
        self._cursors = cursors
        self._decider = decider
        self._clock = clock

    def tick(self, time_left: Callable[[], float] = lambda: float("inf"), reserve_seconds: float = 10.0,
             ) -> TickReport:
        """Poll every installed portal once; a portal that fails is logged and does not stop the rest.

        Stops starting portals when `time_left()` (seconds) falls under `reserve_seconds`; those
        portals are counted as deferred and polled on the next tick from their own cursors.
        """
        report = TickReport()
        portals = list(self._portals())
        for index, portal_id in enumerate(portals):
            if time_left() < reserve_seconds:
                report.deferred = len(portals) - index
                logger.warning("poller ran out of time", extra={"deferred": report.deferred})
                break
            report.portals.append(self._poll_safely(portal_id))
        return report

    def _poll_safely(self, portal_id: str) -> PortalReport:
        try:
            return self.poll_portal(portal_id)
        except HubnoxError as error:
            logger.warning("poller skipped a portal", extra={"portal_id": portal_id, "code": error.code,
                                                             "reason": error.message})
            return PortalReport(portal_id, error=error.code)
        except Exception:
            logger.exception("poller failed on a portal", extra={"portal_id": portal_id})
            return PortalReport(portal_id, error="INTERNAL")

    def poll_portal(self, portal_id: str) -> PortalReport:
        """Search one portal's trigger stages from its cursor, enqueue, then move the cursor on."""
        report = PortalReport(portal_id)
        rules = list(self._rules_for(portal_id))
        if not rules:
            return report
        now_ms = int(self._clock() * 1000)
        stored = self._cursors.get(portal_id, CURSOR_NAME)
        cursor = int(stored) if stored else now_ms - FIRST_LOOKBACK_MS
        newest = cursor
        by_stage: dict[str, list[StageRule]] = {}
        for rule in rules:
            by_stage.setdefault(rule.stage_id, []).append(rule)
        for deal in self._changed_deals(portal_id, sorted(by_stage), cursor - OVERLAP_MS):
            report.found += 1
            modified_ms = last_modified_ms(deal)
            for rule in by_stage.get(deal.prop("dealstage") or "", []):
                if rule.pipeline_id and deal.prop("pipeline") not in (None, rule.pipeline_id):
                    report.skip("other pipeline")
                    continue
                self._consider(portal_id, deal.id, modified_ms, rule, report)
            newest = max(newest, modified_ms)
        if stored is None or newest != cursor:
            self._cursors.put(portal_id, CURSOR_NAME, str(newest))
        report.cursor = newest
        if report.enqueued:
            logger.info("poller enqueued deals", extra={"portal_id": portal_id, "runs": report.enqueued})
        return report

    def _changed_deals(self, portal_id: str, stage_ids: list[str], since_ms: int) -> Iterator[CrmObject]:
        filters = [
            {"propertyName": "dealstage", "operator": "IN", "values": stage_ids},
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(max(0, since_ms))},
        ]
        search = self._search_for(portal_id)
        found = search.iter_search(paths.DEALS, [{"filters": filters}], SEARCH_PROPERTIES,
                                   [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}])
        for count, deal in enumerate(found, start=1):
            yield deal
            if count >= MAX_DEALS_PER_TICK:
                logger.info("poller reached its per-tick limit", extra={"portal_id": portal_id})
                return

    def _consider(self, portal_id: str, deal_id: str, modified_ms: int, rule: StageRule,
                  report: PortalReport) -> None:
        decision = self._decider.consider(portal_id, deal_id, modified_ms, rule, "poller")
        if decision.run_id is not None:
            report.enqueued.append(decision.run_id)
        else:
            report.skip(decision.decision)


def last_modified_ms(deal: CrmObject) -> int:
    """The deal's `hs_lastmodifieddate` in epoch milliseconds (ISO text or digits), else its updatedAt."""
    raw = deal.prop("hs_lastmodifieddate")
    if raw and raw.strip().isdigit():
        return int(raw.strip())
    if raw:
        try:
            return int(datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    if deal.updated_at is not None:
        return int(deal.updated_at.timestamp() * 1000)
    return 0
