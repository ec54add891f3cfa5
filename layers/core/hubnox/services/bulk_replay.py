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

The failed runs come through `FailedRuns`, a port over the sync log's search (`failed_runs_in_log`),
read until `SCAN_LIMIT` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from hubnox.errors import HubnoxError, TransientError
from hubnox.jobs import NOT_QUEUED, Submit
from hubnox.observability import logger
from hubnox.records import Run, RunFilter, RunPage
from hubnox.services.replay_claim import ReplayClaims, live_replay, replay_once
from hubnox.sync.ports import DealLinks

#: the most runs one request replays (and one preview counts)
BATCH_LIMIT = 200
#: the most failed runs one request reads to find them
SCAN_LIMIT = 1000
#: the runs one page of the log's search answers (its most)
SEARCH_PAGE = 100
#: Fortnox's rate limit per portal (its API allows 25 requests per 5 seconds per token)
FORTNOX_CALLS, FORTNOX_WINDOW_SECONDS = 25, 5
#: SQS's longest DelaySeconds
MAX_DELAY_SECONDS = 900
#: the Fortnox calls a replay of each kind is estimated to make: a document reads the customer,
#: its articles and the settings it needs, creates the document and fetches its PDF; a customer
#: sync looks the customer up and writes it. Kinds not named here are not bulk-replayed.
CALLS_PER_RUN = {"create_document": 6, "sync_customer": 3}
#: the failed runs of a portal that a filter shows, newest first (lazily: the service stops reading)
FailedRuns = Callable[[str, RunFilter], Iterable[Run]]
#: one page of the sync log's search (`hubnox.store.runs.RunStore.search`)
Search = Callable[..., RunPage]


def failed_runs_in_log(search: Search, *, page_size: int = SEARCH_PAGE, most: int = SCAN_LIMIT) -> FailedRuns:
    """The `FailedRuns` port over the sync log's search: the filter's failed runs, page after page,
    at most `most` of them (a bulk replay counts no further)."""
    def failed(portal_id: str, run_filter: RunFilter) -> Iterator[Run]:
        wanted = replace(run_filter, status="failed")
        cursor: str | None = None
        seen = 0
        while True:
            found = search(portal_id, wanted, limit=page_size, cursor=cursor)
            for run in found.runs:
                if seen >= most:
                    return
                seen += 1
                yield run
            if found.next_cursor is None:
                return
            cursor = found.next_cursor
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
                and run.superseded_by is None and not self.superseded(run))

    def superseded(self, run: Run) -> bool:
        """Whether a later run made the document a failed document run was for."""
        if run.kind != "create_document" or not run.object_id or not run.trigger_key:
            return False
        link = self.deal_links.get(run.portal_id, run.object_id, run.trigger_key)
        return link is not None and bool(link.document_number)

    def preview(self, portal_id: str, run_filter: RunFilter) -> Preview:
        """How many failed runs of the filter a replay would queue now, and how many would remain."""
        if run_filter.status not in (None, "failed"):
            return Preview(0, 0)  # the log shows no failed runs: there is nothing to replay
        found = [run for run in self.failed_runs(portal_id, run_filter) if self.replayable(run)]
        delays = schedule(CALLS_PER_RUN[run.kind] for run in found[:self.batch_limit])
        batch = found[:len(delays)]
        return Preview(len(batch), len(found) - len(batch), batch, delays)

    def replay(self, portal_id: str, run_filter: RunFilter, expected_count: int) -> BulkOutcome:
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
