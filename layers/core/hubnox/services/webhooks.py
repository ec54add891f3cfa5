"""HubSpot's webhooks (`POST /hubspot/webhooks`): a deal entering a trigger stage gets its run at once.

HubSpot posts a JSON array of up to 100 events, v3-signed (checked in front of the route, see
`hubnox.web.hubspot_auth.HUBSPOT_WEBHOOKS`). hubnox acts on:

- a deal's `dealstage` change, in either of HubSpot's forms: `deal.propertyChange` (the classic
  subscription) or `object.propertyChange` with `objectTypeId` "0-3" (the generic one). The new stage
  id is the event's `propertyValue`; every portal rule for that stage goes to
  `hubnox.sync.triggers.TriggerDecider`, the decision the poller makes too, so one run per deal and
  rule whoever sees it first;
- the app's uninstall, if HubSpot sends it here (see `is_uninstall`): the `Uninstalls` port.

Decisions (README, "Webhooks"):
- hubnox reads nothing from HubSpot here: the event carries the stage, and the function holds no
  tokens. A rule naming a pipeline is trusted on the stage id when the id is unique to a pipeline
  (HubSpot gives every stage outside the default pipeline a numeric id of its own, and the default
  pipeline's named ids belong to it); a named stage id under a rule for another pipeline, or a stage
  id that the portal's rules name for more than one pipeline, is left to the poller, which reads the
  deal's pipeline.
- `deal.creation` (and `object.creation` "0-3") carries no stage: it is left to the poller, whose
  search finds a deal created in a trigger stage within a tick. HubSpot also sends a `dealstage`
  property change for a deal created with a stage when that property is subscribed to, which is
  handled like any other.
- an event for a portal hubnox does not know is acknowledged, logged and dropped; for an
  uninstalled portal it is acknowledged and its decision recorded. HubSpot's redeliveries are
  harmless: the same event id twice in a batch counts once, and across batches the decider's claim
  per deal version (`occurredAt`) and its run checks find the first delivery's run.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hubnox.errors import BadRequestError
from hubnox.ids import hubspot_id_or_none
from hubnox.observability import logger
from hubnox.sync.poller import StageRule
from hubnox.sync.ports import Connections, Uninstalls
from hubnox.sync.triggers import (
    LEFT_TO_POLLER,
    NOT_INSTALLED,
    STAGE_NOT_A_TRIGGER,
    TriggerDecider,
)

#: HubSpot sends at most 100 events per request; anything far beyond is not HubSpot's
MAX_EVENTS = 1000
DEAL_OBJECT_TYPE_ID = "0-3"
STAGE_PROPERTY = "dealstage"
DEFAULT_PIPELINE = "default"
#: the app-uninstall event type of HubSpot's app lifecycle events (webhooks journal API, 2026-03)
UNINSTALL_EVENT_TYPE_ID = "4-1916193"
UNINSTALL_SUBSCRIPTION_TYPES = frozenset({"app.uninstall", "app.uninstalled", "app_uninstall"})
#: deals decided at once within one batch
DECISION_THREADS = 8
_EPOCH_MS = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True)
class WebhookEvent:
    """One event of a batch, as hubnox reads it."""

    event_id: str
    portal_id: str
    subscription_type: str
    occurred_at_ms: int
    object_type_id: str | None = None
    object_id: str | None = None
    property_name: str | None = None
    property_value: str | None = None
    event_type_id: str | None = None

    @property
    def is_deal(self) -> bool:
        kind = self.subscription_type.lower()
        return kind.startswith("deal.") or (kind.startswith("object.") and self.object_type_id == DEAL_OBJECT_TYPE_ID)

    @property
    def is_stage_change(self) -> bool:
        return (self.is_deal and self.subscription_type.lower().endswith(".propertychange")
                and self.property_name == STAGE_PROPERTY and self.object_id is not None)

    @property
    def is_creation(self) -> bool:
        return self.is_deal and self.subscription_type.lower().endswith(".creation")

    @property
    def is_uninstall(self) -> bool:
        """HubSpot documents app lifecycle events (install, uninstall) for the webhooks journal API only;
        whether and how they reach a webhook target is unknown, so both likely shapes are taken."""
        kind = self.subscription_type.lower()
        return kind in UNINSTALL_SUBSCRIPTION_TYPES or (
            kind in ("app_lifecycle_event", "app.lifecycle") and self.event_type_id == UNINSTALL_EVENT_TYPE_ID)


def parse_events(body: str | None) -> list[WebhookEvent]:
    """The events of a webhook request, each event id once; `BadRequestError` saying why otherwise."""
    try:
        value = json.loads(body or "")
    except (ValueError, RecursionError):
        raise BadRequestError("The body is not JSON: HubSpot sends a JSON array of events.",
                              code="MALFORMED_BODY") from None
    if not isinstance(value, list):
        raise BadRequestError("The body must be a JSON array of events.", code="MALFORMED_BODY")
    if len(value) > MAX_EVENTS:
        raise BadRequestError(f"A batch holds at most {MAX_EVENTS} events.", code="TOO_MANY_EVENTS")
    events: dict[str, WebhookEvent] = {}
    for index, raw in enumerate(value):
        event = _event(index, raw)
        events.setdefault(event.event_id, event)
    return list(events.values())


def _event(index: int, raw: Any) -> WebhookEvent:
    def refuse(reason: str) -> BadRequestError:
        return BadRequestError(f"Event {index} {reason}.", code="MALFORMED_EVENT")

    if not isinstance(raw, dict):
        raise refuse("is not an object")
    event_id = hubspot_id_or_none(raw.get("eventId"))
    portal_id = hubspot_id_or_none(raw.get("portalId"))
    kind = raw.get("subscriptionType")
    if event_id is None:
        raise refuse("has no eventId")
    if portal_id is None:
        raise refuse("has no portalId")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 100:
        raise refuse("has no subscriptionType")
    occurred = raw.get("occurredAt")
    if isinstance(occurred, bool) or not isinstance(occurred, int | str) or not _EPOCH_MS.fullmatch(str(occurred)):
        raise refuse("has no occurredAt (epoch milliseconds)")
    value = raw.get("propertyValue")
    return WebhookEvent(
        event_id=event_id, portal_id=portal_id, subscription_type=kind.strip(), occurred_at_ms=int(occurred),
        object_type_id=_text(raw.get("objectTypeId")), object_id=hubspot_id_or_none(raw.get("objectId")),
        property_name=_text(raw.get("propertyName")),
        property_value=_text(value) if not isinstance(value, int | float) or isinstance(value, bool) else str(value),
        event_type_id=_text(raw.get("eventTypeId")),
    )


def _text(value: Any) -> str | None:
    return value.strip()[:200] if isinstance(value, str) and value.strip() else None


@dataclass
class WebhookReport:
    """What one request did; its counts are the response body."""

    received: int = 0
    enqueued: list[str] = field(default_factory=list)
    ignored: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ignore(self) -> None:
        with self._lock:
            self.ignored += 1

    def enqueue(self, run_id: str) -> None:
        with self._lock:
            self.enqueued.append(run_id)

    def body(self) -> dict[str, Any]:
        return {"received": self.received, "enqueued": len(self.enqueued), "ignored": self.ignored}


class WebhookService:
    """Turns a batch of HubSpot events into the trigger decisions they call for."""

    def __init__(self, *, connections: Connections, rules_for: Callable[[str], Sequence[StageRule]],
                 decider: TriggerDecider, uninstalls: Uninstalls) -> None:
        self._connections = connections
        self._rules_for = rules_for
        self._decider = decider
        self._uninstalls = uninstalls

    def handle(self, events: list[WebhookEvent]) -> WebhookReport:
        """Act on every event of a batch; the portal's status and rules are read once per portal."""
        report = WebhookReport(received=len(events))
        statuses: dict[str, str | None] = {}
        rules: dict[str, list[StageRule]] = {}
        by_deal: dict[tuple[str, str], list[tuple[WebhookEvent, str, list[StageRule]]]] = {}
        for event in events:
            portal_id = event.portal_id
            if event.is_uninstall:
                self._uninstalls.uninstalled(portal_id, "HubSpot sent the app's uninstall event.")
                statuses[portal_id] = "uninstalled"
                continue
            if not event.is_stage_change:
                if event.is_creation:
                    logger.debug("deal creation left to the poller", extra={"portal_id": portal_id})
                report.ignored += 1
                continue
            if portal_id not in statuses:
                statuses[portal_id] = self._connections.hubspot_status(portal_id)
            status = statuses[portal_id]
            if status is None:
                logger.info("webhook for a portal hubnox does not know", extra={"portal_id": portal_id,
                                                                               "event_id": event.event_id})
                report.ignored += 1
                continue
            if portal_id not in rules:
                rules[portal_id] = list(self._rules_for(portal_id)) if status != "uninstalled" else []
            by_deal.setdefault((portal_id, event.object_id or ""), []).append((event, status, rules[portal_id]))
        self._decide(list(by_deal.values()), report)
        if report.enqueued:
            logger.info("webhooks enqueued deals", extra={"runs": report.enqueued})
        return report

    def _decide(self, groups: list[list[tuple[WebhookEvent, str, list[StageRule]]]], report: WebhookReport) -> None:
        """Each deal's events in batch order, up to `DECISION_THREADS` deals at once: a decision is a
        handful of DynamoDB calls and one SQS send, and HubSpot waits for the whole batch's answer.
        A decision that fails fails the request (after the others finish), so HubSpot delivers the
        batch again, and what was done already is found done."""

        def deal(group: list[tuple[WebhookEvent, str, list[StageRule]]]) -> None:
            for event, status, rules in group:
                self._stage_change(event, status, rules, report)

        if len(groups) <= 1:
            for group in groups:
                deal(group)
            return
        with ThreadPoolExecutor(max_workers=min(DECISION_THREADS, len(groups))) as pool:
            list(pool.map(deal, groups))

    def _stage_change(self, event: WebhookEvent, status: str, rules: list[StageRule], report: WebhookReport) -> None:
        portal_id, deal_id, stage_id = event.portal_id, event.object_id or "", event.property_value or ""
        if status == "uninstalled":
            self._decider.record(portal_id, deal_id, "webhook", NOT_INSTALLED, stage_id=stage_id or None)
            report.ignore()
            return
        matching = [rule for rule in rules if rule.stage_id == stage_id]
        if not matching:
            if rules:  # a portal without rules has nothing to explain
                self._decider.record(portal_id, deal_id, "webhook", STAGE_NOT_A_TRIGGER, stage_id=stage_id or None)
            report.ignore()
            return
        ambiguous = len({rule.pipeline_id for rule in matching if rule.pipeline_id}) > 1
        for rule in matching:
            if ambiguous or not stage_names_one_pipeline(rule):
                self._decider.record(portal_id, deal_id, "webhook", LEFT_TO_POLLER, trigger_key=rule.trigger_key,
                                     stage_id=stage_id)
                continue
            decision = self._decider.consider(portal_id, deal_id, event.occurred_at_ms, rule, "webhook")
            if decision.run_id is not None:
                report.enqueue(decision.run_id)


def stage_names_one_pipeline(rule: StageRule) -> bool:
    """True when the rule's stage id alone says the deal is in the rule's pipeline (or none is named).

    Stage ids outside the default pipeline are numeric and unique in the portal; the default
    pipeline's named ids (`closedwon`, ...) belong to it. A named id under a rule for another
    pipeline cannot be told apart without reading the deal.
    """
    if not rule.pipeline_id or rule.stage_id.isdigit():
        return True
    return rule.pipeline_id == DEFAULT_PIPELINE
