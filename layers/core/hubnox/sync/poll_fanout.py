"""The poller, fanned out: the schedule enqueues one poll message per portal, each message polls one portal.

One invocation walking every portal cannot hold for many portals: one slow HubSpot account delays
all the others, and the walk outgrows the Lambda timeout. So the schedule's tick only reads the
portal registry and sends one `PollMessage` per portal with trigger rules onto the poll queue
(`dispatch`, SendMessageBatch of 10), and each message polls one portal (`PortalPoll`), which:

- searches from the portal's own cursor (`Poller`'s cursor, overlap and first lookback) up to the
  moment the poll began, 200 deals a page, oldest change first; the HubSpot client paces search to
  its 5 requests per second per portal;
- keeps under HubSpot's 10,000-result cap: when a window's first page says its `total` passes the
  cap, the window is halved by `hs_lastmodifieddate` until each part fits, and the parts are polled
  oldest first;
- never runs past the Lambda timeout: when less than `reserve_seconds` are left it stores the cursor
  and answers a continuation (the windows left and the page cursor within the first) for the handler
  to send as the next message;
- holds a per-portal lease while it polls, so two messages for one portal (overlapping ticks, a
  continuation meeting a tick) do not poll it at once: the second finds the lease held and stops.
  The claims in `Poller._consider` still keep a deal's version from being enqueued twice.

Each deal is decided by `Poller._consider` as before; this module only walks the windows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hubnox.hubspot import paths
from hubnox.observability import logger
from hubnox.sync.poller import (
    CURSOR_NAME,
    FIRST_LOOKBACK_MS,
    OVERLAP_MS,
    SEARCH_PROPERTIES,
    Poller,
    PortalReport,
    StageRule,
    last_modified_ms,
)
from hubnox.sync.ports import Cursors, HubSpotReads, Leases

#: HubSpot's largest search page and the most results one search query reaches
PAGE_SIZE = 200
RESULTS_CAP = 10_000
#: SendMessageBatch takes at most 10 entries
SEND_BATCH = 10
#: a poll's lease outlives the poller's 60 s timeout, so a crashed poll frees its portal soon after
LEASE_SECONDS = 90.0
#: run ids one log line lists (a bulk import can enqueue thousands in one poll)
LOGGED_RUNS = 50
#: time kept back from the Lambda timeout for the cursor write and the continuation message
RESERVE_SECONDS = 10.0

#: a window of `hs_lastmodifieddate`, epoch milliseconds: from `since` (included) to `until` (excluded)
Window = tuple[int, int]


@dataclass(frozen=True)
class PollMessage:
    """One portal's poll: a fresh one from the tick, or the rest of a poll that ran out of time."""

    portal_id: str
    #: the windows left, oldest first; empty for a fresh poll (it starts from the portal's cursor)
    windows: tuple[Window, ...] = ()
    #: the search's page cursor within the first window
    after: str | None = None

    @property
    def is_continuation(self) -> bool:
        return bool(self.windows)

    def to_body(self) -> str:
        body: dict[str, Any] = {"portal_id": self.portal_id}
        if self.windows:
            body["windows"] = [list(window) for window in self.windows]
        if self.after is not None:
            body["after"] = self.after
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> PollMessage:
        """Parse a message body; raises ValueError for one that is not a poll message."""
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("portal_id"), str) or not data["portal_id"]:
            raise ValueError("a poll message needs a portal_id")
        if "kind" in data:
            # Another message of the poll queue (`hubnox.sync.status_fanout.StatusMessage`), never a poll.
            raise ValueError(f"a {data['kind']!r} message is not a poll message")
        windows = tuple((int(start), int(end)) for start, end in data.get("windows") or ())
        if any(start >= end for start, end in windows):
            raise ValueError("a poll window must end after it starts")
        after = data.get("after")
        return cls(data["portal_id"], windows, str(after) if after is not None else None)


#: a message `send_per_portal` makes for one portal
_M = TypeVar("_M")


class PollMessages(Protocol):
    """The poll queue."""

    def send_batch(self, messages: list[PollMessage]) -> None:
        """Send up to 10 messages in one request; raises if any could not be sent."""

    def send(self, message: PollMessage) -> None: ...


@dataclass
class DispatchReport:
    """What one tick's dispatch did."""

    portals: int = 0
    sent: int = 0
    without_rules: int = 0
    batches: int = 0


def dispatch(portals: Iterable[str], has_rules: Callable[[str], bool], queue: PollMessages) -> DispatchReport:
    """Send one poll message per portal with trigger rules, ten a request, as the registry pages in."""
    seen, sent, skipped, batches = send_per_portal(portals, has_rules, PollMessage, queue.send_batch)
    return DispatchReport(portals=seen, sent=sent, without_rules=skipped, batches=batches)


def send_per_portal(portals: Iterable[str], wanted: Callable[[str], bool], message: Callable[[str], _M],
                    send_batch: Callable[[list[_M]], None]) -> tuple[int, int, int, int]:
    """One `message(portal)` per wanted portal, `SEND_BATCH` a request, as the registry pages in;
    answers the portals seen, the messages sent, the portals skipped and the requests made."""
    seen = sent = skipped = batches = 0
    batch: list[_M] = []
    for portal_id in portals:
        seen += 1
        if not wanted(portal_id):
            skipped += 1
            continue
        batch.append(message(portal_id))
        if len(batch) == SEND_BATCH:
            send_batch(batch)
            sent, batches, batch = sent + len(batch), batches + 1, []
    if batch:
        send_batch(batch)
        sent, batches = sent + len(batch), batches + 1
    return seen, sent, skipped, batches


@dataclass
class PollOutcome:
    """What one poll message did: the portal's report, and the message to send next if time ran out."""

    report: PortalReport
    continuation: PollMessage | None = None
    #: another poll of the portal held its lease: this message did nothing
    busy: bool = False
    searches: int = 0
    splits: int = 0
    windows_done: int = 0


class PortalPoll:
    """Polls one portal for one poll message, over the `Poller`'s rules, search and deal decision."""

    def __init__(self, poller: Poller, *, rules_for: Callable[[str], list[StageRule]],
                 search_for: Callable[[str], HubSpotReads], cursors: Cursors, leases: Leases,
                 clock: Callable[[], float], reserve_seconds: float = RESERVE_SECONDS) -> None:
        self._poller = poller
        self._rules_for = rules_for
        self._search_for = search_for
        self._cursors = cursors
        self._leases = leases
        self._clock = clock
        self._reserve = reserve_seconds

    def run(self, message: PollMessage, owner: str,
            time_left: Callable[[], float] = lambda: float("inf")) -> PollOutcome:
        """Poll `message`'s portal under its lease (held by `owner`, e.g. the SQS message id)."""
        lease = f"poll:{message.portal_id}"
        if not self._leases.acquire(lease, owner, LEASE_SECONDS):
            logger.info("another poll of the portal is running", extra={"portal_id": message.portal_id})
            return PollOutcome(PortalReport(message.portal_id), busy=True)
        try:
            return self._poll(message, time_left)
        finally:
            # Freed before the handler sends a continuation, so the continuation finds it free.
            self._leases.release(lease, owner)

    def _poll(self, message: PollMessage, time_left: Callable[[], float]) -> PollOutcome:
        portal_id = message.portal_id
        outcome = PollOutcome(PortalReport(portal_id))
        rules = list(self._rules_for(portal_id))
        if not rules:
            return outcome
        by_stage: dict[str, list[StageRule]] = {}
        for rule in rules:
            by_stage.setdefault(rule.stage_id, []).append(rule)
        stored = self._cursors.get(portal_id, CURSOR_NAME)
        now_ms = int(self._clock() * 1000)
        cursor = int(stored) if stored else now_ms - FIRST_LOOKBACK_MS
        windows = list(message.windows) or [(max(0, cursor - OVERLAP_MS), max(now_ms, cursor - OVERLAP_MS + 1))]
        after = message.after
        newest = cursor
        search = self._search_for(portal_id)
        while windows:
            if time_left() < self._reserve:
                outcome.continuation = PollMessage(portal_id, tuple(windows), after)
                logger.info("poll continues in the next message",
                            extra={"portal_id": portal_id, "windows": len(windows)})
                break
            since, until = windows[0]
            page = search.search(paths.DEALS, _filters(sorted(by_stage), since, until), SEARCH_PROPERTIES,
                                 [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                                 PAGE_SIZE, after)
            outcome.searches += 1
            if after is None and page.total > RESULTS_CAP and until - since > 1:
                middle = since + (until - since) // 2
                windows[0:1] = [(since, middle), (middle, until)]
                outcome.splits += 1
                continue
            for deal in page.results:
                outcome.report.found += 1
                modified_ms = last_modified_ms(deal)
                for rule in by_stage.get(deal.prop("dealstage") or "", []):
                    if rule.pipeline_id and deal.prop("pipeline") not in (None, rule.pipeline_id):
                        outcome.report.skip("other pipeline")
                        continue
                    self._poller._consider(portal_id, deal.id, modified_ms, rule, outcome.report)
                newest = max(newest, modified_ms)
            if page.next_after is None or _offset(page.next_after) >= RESULTS_CAP:
                if page.next_after is not None:
                    logger.warning("a one-millisecond window passes the search cap",
                                   extra={"portal_id": portal_id, "total": page.total})
                windows.pop(0)
                after = None
                outcome.windows_done += 1
            else:
                after = page.next_after
        # Deals are searched oldest change first, so everything before `newest` has been seen.
        if stored is None or newest != cursor:
            self._cursors.put(portal_id, CURSOR_NAME, str(newest))
        outcome.report.cursor = newest
        if outcome.report.enqueued:
            logger.info("poll enqueued deals", extra={"portal_id": portal_id, "count": len(outcome.report.enqueued),
                                                      "runs": outcome.report.enqueued[:LOGGED_RUNS]})
        return outcome


def _filters(stage_ids: list[str], since: int, until: int) -> list[dict[str, Any]]:
    return [{"filters": [
        {"propertyName": "dealstage", "operator": "IN", "values": stage_ids},
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since)},
        {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(until)},
    ]}]


def _offset(after: str) -> int:
    return int(after) if after.isdigit() else 0

