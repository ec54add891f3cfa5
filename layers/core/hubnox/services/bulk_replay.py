"""Bulk replay: replay every failed run the sync log's filter shows, once each, within Fortnox's budget.

The admin filters the log, asks for a count (`preview`) and confirms it; the replay carries that
count back (`expected_count`), and if the failed runs changed meanwhile (a run failed, another admin
replayed some) it is refused with the new count, so what is replayed is what was confirmed.

Which runs: failed, of a kind a replay can redo with a known Fortnox cost (`CALLS_PER_RUN`: documents
and customer syncs; a product sync costs a call per product and is redone with "Sync products now"),
not failed because their job was never queued (`NOT_QUEUED`: their trigger retries them), not
replayed already, and not superseded (a later run made the deal's document for the same trigger).
At most `BATCH_LIMIT` a request, newest first; the answer says how many more remain.

Each replay goes through the run's replay claim (`hubnox.services.replay_claim`), so two admins
pressing at once replay each run once: each answer says how many it queued and how many were
replayed already. Each replay's job is held back (SQS `DelaySeconds`) so the batch's estimated
Fortnox calls stay inside the portal's budget of `FORTNOX_CALLS` per `FORTNOX_WINDOW_SECONDS`
(`schedule`); SQS holds a message back at most `MAX_DELAY_SECONDS`, which ends a batch too.

The failed runs come through `FailedRuns`, a port the sync log's search fills in
(`failed_runs_in_recent`, the stand-in, reads the portal's newest runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

from hubnox.errors import BadRequestError, HubnoxError, TransientError
from hubnox.jobs import NOT_QUEUED, Submit
from hubnox.observability import logger
from hubnox.records import DocumentType, Run, RunStatus, RunTrigger
from hubnox.services.replay_claim import ReplayClaims, live_replay, replay_once
from hubnox.sync.ports import DealLinks

#: the most runs one request replays (and one preview counts)
BATCH_LIMIT = 200
#: the most failed runs one request reads to find them (a stand-in for the search's paging)
SCAN_LIMIT = 1000
#: Fortnox's rate limit per portal (its API allows 25 requests per 5 seconds per token)
FORTNOX_CALLS, FORTNOX_WINDOW_SECONDS = 25, 5
#: SQS's longest DelaySeconds
MAX_DELAY_SECONDS = 900
#: the Fortnox calls a replay of each kind is estimated to make: a document reads the customer,
#: its articles and the settings it needs, creates the document and fetches its PDF; a customer
#: sync looks the customer up and writes it. Kinds not named here are not bulk-replayed.
CALLS_PER_RUN = {"create_document": 6, "sync_customer": 3}
#: the longest free-text search
TEXT_MAX = 200


@dataclass(frozen=True, kw_only=True)
class ReplayFilter:
    """The sync log's filter, as its toolbar sends it (the fields of the log's `RunFilter`)."""

    status: RunStatus | None = None
    trigger: RunTrigger | None = None
    document_type: DocumentType | None = None
    #: epoch seconds, inclusive
    created_from: float | None = None
    #: epoch seconds, exclusive
    created_to: float | None = None
    #: free text: matched, case-insensitively, against the run's id, record, error and document number
    text: str | None = None

    def matches(self, run: Run) -> bool:
        """Whether the run is one the filter shows (for a source that cannot filter itself)."""
        if self.status is not None and run.status != self.status:
            return False
        if self.trigger is not None and run.trigger != self.trigger:
            return False
        if self.document_type is not None and (run.result.get("document_type") or run.document_type) \
                != self.document_type:
            return False
        if self.created_from is not None and run.created_at < self.created_from:
            return False
        if self.created_to is not None and run.created_at >= self.created_to:
            return False
        if self.text:
            haystack = " ".join(str(v) for v in (run.run_id, run.object_id, run.error_code, run.error_message,
                                                 run.result.get("document_number")) if v)
            return self.text.casefold() in haystack.casefold()
        return True


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> Any:
    value = body.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise BadRequestError(f"{name} must be one of {', '.join(choices)}.", code="INVALID_FILTER")
    return value


def _moment(body: dict[str, Any], name: str, *, end: bool) -> float | None:
    """A date (`2026-12-06`: the whole day, in UTC) or an ISO date and time, as epoch seconds."""
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequestError(f"{name} must be a date (YYYY-MM-DD) or an ISO date and time.", code="INVALID_FILTER")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + (timedelta(days=1) if end else timedelta())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise BadRequestError(f"{name} must be a date (YYYY-MM-DD) or an ISO date and time.",
                              code="INVALID_FILTER") from None
    return moment.timestamp()


def read_filter(body: dict[str, Any]) -> ReplayFilter:
    """The filter out of a request body as the log sends it: status, trigger, documentType, from, to,
    q (each optional; a date `to` includes its day). 400 naming what is wrong."""
    text = body.get("q")
    if text is not None and (not isinstance(text, str) or len(text) > TEXT_MAX):
        raise BadRequestError(f"q must be text of at most {TEXT_MAX} characters.", code="INVALID_FILTER")
    run_filter = ReplayFilter(
        status=_choice(body, "status", get_args(RunStatus)), trigger=_choice(body, "trigger", get_args(RunTrigger)),
        document_type=_choice(body, "documentType", get_args(DocumentType)),
        created_from=_moment(body, "from", end=False), created_to=_moment(body, "to", end=True),
        text=text.strip() or None if text else None)
    if run_filter.created_from is not None and run_filter.created_to is not None \
            and run_filter.created_from >= run_filter.created_to:
        raise BadRequestError("from must be before to.", code="INVALID_FILTER")
    return run_filter


#: the failed runs of a portal that a filter shows, newest first (lazily: the service stops reading)
FailedRuns = Callable[[str, ReplayFilter], Iterable[Run]]


def failed_runs_in_recent(list_recent: Callable[[str, int], list[Run]]) -> FailedRuns:
    """The `FailedRuns` port over the portal's newest `SCAN_LIMIT` runs, filtered here.

    The one place to wire the sync log's search (`RunStore.search` with a `RunFilter` whose
    status is `failed`, following its cursor) once it exists; until then older failures are not found.
    """
    def failed(portal_id: str, run_filter: ReplayFilter) -> Iterable[Run]:
        return (run for run in list_recent(portal_id, SCAN_LIMIT)
                if run.status == "failed" and run_filter.matches(run))
    return failed


def schedule(costs: Iterable[int], *, budget: int = FORTNOX_CALLS, window: int = FORTNOX_WINDOW_SECONDS,
             max_delay: int = MAX_DELAY_SECONDS) -> list[int]:
    """Whole-second delays, in order, for runs making `costs` Fortnox calls each, so that the calls
    of the runs starting within any `window` seconds stay within `budget`; stops before a delay
    would pass `max_delay`. Delays never decrease: a later run never starts before an earlier one."""
    delays: list[int] = []
    spent: list[tuple[int, int]] = []  # (delay, calls) of the runs scheduled so far
    at = 0
    for cost in costs:
        cost = min(cost, budget)
        while sum(calls for start, calls in spent if start > at - window) + cost > budget:
            at += 1
        if at > max_delay:
            break
        delays.append(at)
        spent.append((at, cost))
        spent = [(start, calls) for start, calls in spent if start > at - window]
    return delays


class CountChanged(HubnoxError):
    """The failed runs to replay are no longer the number the admin confirmed."""

    code = "COUNT_CHANGED"

    def __init__(self, expected: int, preview: Preview) -> None:
        super().__init__(f"{preview.count} failed runs match now, not the {expected} you confirmed: "
                         "confirm the new count to replay them.")
        self.expected = expected
        self.preview = preview


@dataclass(frozen=True)
class Preview:
    """What a bulk replay would do now: `count` runs in this batch, `remaining` more after it."""

    count: int
    remaining: int
    runs: list[Run] = field(default_factory=list, repr=False)
    delays: list[int] = field(default_factory=list, repr=False)

    @property
    def spread_seconds(self) -> int:
        """How long the batch's jobs are spread over."""
        return self.delays[-1] if self.delays else 0


@dataclass(frozen=True)
class BulkOutcome:
    """What one bulk replay request did."""

    queued: list[str]
    already_replayed: int
    remaining: int
    spread_seconds: int
    #: runs of the batch not replayed because a job could not be queued (the rest of the batch is left)
    not_queued: int = 0


@dataclass(frozen=True, kw_only=True)
class BulkReplay:
    """Counts, then replays, the failed runs of a filter."""

    runs: ReplayClaims
    failed_runs: FailedRuns
    deal_links: DealLinks
    submit: Submit
    batch_limit: int = BATCH_LIMIT

    def replayable(self, run: Run) -> bool:
        """Whether a failed run is one to replay now (see the module's docstring)."""
        return (run.status == "failed" and run.kind in CALLS_PER_RUN and run.error_code != NOT_QUEUED
                and (run.replayed_by is None or live_replay(self.runs, run) is None)  # or its claim was abandoned
                and not self.superseded(run))

    def superseded(self, run: Run) -> bool:
        """Whether a later run made the document a failed document run was for."""
        if run.kind != "create_document" or not run.object_id or not run.trigger_key:
            return False
        link = self.deal_links.get(run.portal_id, run.object_id, run.trigger_key)
        return link is not None and bool(link.document_number)

    def preview(self, portal_id: str, run_filter: ReplayFilter) -> Preview:
        """How many failed runs of the filter a replay would queue now, and how many would remain."""
        if run_filter.status not in (None, "failed"):
            return Preview(0, 0)  # the log shows no failed runs: there is nothing to replay
        found = [run for run in self.failed_runs(portal_id, run_filter) if self.replayable(run)]
        delays = schedule(CALLS_PER_RUN[run.kind] for run in found[:self.batch_limit])
        batch = found[:len(delays)]
        return Preview(len(batch), len(found) - len(batch), batch, delays)

    def replay(self, portal_id: str, run_filter: ReplayFilter, expected_count: int) -> BulkOutcome:
        """Replay the failed runs the preview counted, once each; `CountChanged` when their number
        is no longer `expected_count`."""
        preview = self.preview(portal_id, run_filter)
        if preview.count != expected_count:
            raise CountChanged(expected_count, preview)
        queued: list[str] = []
        already = 0
        for index, (run, delay) in enumerate(zip(preview.runs, preview.delays, strict=True)):
            try:
                replayed = replay_once(self.runs, self.submit, run, delay_seconds=delay)
            except Exception as failure:
                # The queue (or the table) failing: stop, and say what was done; the rest replay next time.
                logger.exception("a bulk replay stopped", extra={"portal_id": portal_id, "run_id": run.run_id})
                if not queued and not already:
                    raise TransientError("hubnox could not queue the replays just now.", code="ENQUEUE_FAILED",
                                         hint="Replay again in a minute.") from failure
                return BulkOutcome(queued, already, preview.remaining, preview.spread_seconds,
                                   not_queued=len(preview.runs) - index)
            if replayed.queued:
                queued.append(replayed.run_id)
            else:
                already += 1
        return BulkOutcome(queued, already, preview.remaining, preview.spread_seconds)
