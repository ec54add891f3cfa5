"""Runs: one record per piece of work hubnox does for a portal, from queued to its outcome.

Run ids are ULIDs made from the injected clock (48 bits of milliseconds, 80 random bits, Crockford
base32), so a portal's runs sort by creation time in the table and list newest first with one
query. Beside each run that concerns a CRM object, a small pointer item names the newest run for
that object, so the app card finds it with two reads however many runs the portal has. Runs and
pointers expire 90 days after creation.

The sync log searches runs through sparse indexes (`RUN_INDEXES`): each run carries its portal's
`gsi_status`, `gsi_trigger`, `gsi_kind`, `gsi_record` (the CRM object's id), `gsi_document` (the
document number, once made) and `gsi_name` (the record's name, once read), kept right by every
write that changes them. `search` queries the index that narrows a filter most and filters the
rest, reading a bounded number of pages per answer.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from hubnox.errors import BadRequestError, NotFoundError, TransientError
from hubnox.ids import is_run_id
from hubnox.records import DeliveryState, Run, RunFilter, RunPage, RunRequest
from hubnox.runlog import (
    checked,
    id_at,
    id_before,
    is_id_text,
    kind_of_trigger,
    name_key,
    name_sort_key,
    newest_first,
)
from hubnox.store.table import (
    RUN_INDEXES,
    RUN_PREFIX,
    Clock,
    ConditionFailed,
    Item,
    Table,
    TransactionCancelled,
    latest_run_key,
    run_index_value,
    run_key,
    runs_partition,
    ttl_at,
)

RUN_RETENTION_SECONDS = 90 * 24 * 3600

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: the entries of a run's `history` kept (a started and an ended entry per try: the last ten tries)
HISTORY_MAX = 20
#: a search answers at most this many runs a page
SEARCH_LIMIT_MAX = 100
#: Query calls one search may make per index it reads before it answers what it found, with a cursor
SEARCH_READS_MAX = 8
#: Query calls spent looking for a deal's earlier failures to mark superseded
SUPERSEDE_READS_MAX = 5


def new_run_id(now: float) -> str:
    """A 26-character ULID for a run created at `now` (epoch seconds); later ids sort after."""
    value = (int(now * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class ReplayClaimLost(TransientError):
    """A replay run with a pre-chosen id was not created: the replayed run's claim names another replay.
    Transient: asking again finds that other replay."""

    code = "REPLAY_CLAIM_LOST"


class RunStore:
    """Creates runs and records their progress."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def new_id(self) -> str:
        """A fresh run id, for a replay claimed (`claim_replay`) before its run is created with it."""
        return new_run_id(self._clock())

    def create(self, request: RunRequest, *, replay_of: str | None = None, run_id: str | None = None) -> Run:
        """Record a new queued run of `request` and return it, with a fresh time-ordered id or `run_id`.

        A `run_id` is the replay id claimed on the run `replay_of` names: the run is created only while
        that claim still names it, in one transaction, so of two replays racing over a claim (one taking
        over a claim it thought abandoned) exactly one run is made. `ReplayClaimLost` otherwise.
        """
        if run_id is not None and replay_of is None:
            raise ValueError("a pre-chosen run id is for a claimed replay: give replay_of too")
        now = self._clock()
        run = Run(run_id=run_id or new_run_id(now), **request.request.model_dump(), created_at=now,
                  replay_of=replay_of)
        expires_at = ttl_at(now + RUN_RETENTION_SECONDS)
        fields = {k: v for k, v in run.model_dump().items() if v is not None}
        item = {**run_key(run.portal_id, run.run_id), **fields, **_index_fields(run), "expires_at": expires_at}
        if run_id is None:
            try:
                self._table.put(item, condition="attribute_not_exists(pk)")
            except ConditionFailed:
                if not self._landed(run):
                    raise
        else:
            assert replay_of is not None
            try:
                self._table.transact_write([
                    ("Put", self._table.put_request(item, condition="attribute_not_exists(pk)")),
                    ("ConditionCheck", self._table.check_request(
                        run_key(run.portal_id, replay_of), condition="replayed_by = :run_id",
                        values={":run_id": run.run_id})),
                ])
            except TransactionCancelled as refused:
                if not self._landed(run):
                    raise ReplayClaimLost(f"Run {replay_of} no longer names {run.run_id} as its replay.") from refused
        if run.object_type and run.object_id:
            self._point_to(run, run.object_type, run.object_id, expires_at)
        return run

    def _landed(self, run: Run) -> bool:
        """Whether a create refused because its run exists was this create's own write, landed by an
        earlier try of the same request: the AWS SDK retries a write whose answer timed out, and a
        retry of a conditional put (or of a transaction, on an engine that ignores its client request
        token) then finds the item the first try wrote. The run's id is fresh (or a replay id this
        caller claimed), so a run stored under it with the same request and `replay_of` is that write."""
        stored = self.get(run.portal_id, run.run_id)
        return (stored is not None and stored.replay_of == run.replay_of
                and abs(stored.created_at - run.created_at) < 0.001)

    def get(self, portal_id: str, run_id: str) -> Run | None:
        """The run, or None if there is none (or it has expired)."""
        item = self._table.get(run_key(portal_id, run_id))
        return _run(item) if item else None

    def mark_running(self, portal_id: str, run_id: str) -> Run:
        """Count one more attempt and mark the run running, clearing a previous attempt's error and outcome.

        A run that already succeeded, or that has an outcome (told, or still being told), is returned
        as it stands (attempts unchanged): it is not run again.
        """
        try:
            item = self._table.update(
                run_key(portal_id, run_id),
                set_fields={
                    "status": "running",
                    "started_at": self._clock(),
                    "finished_at": None,
                    "error_code": None,
                    "error_message": None,
                    "outcome": None,
                    "delivery": None,
                    "gsi_status": run_index_value(portal_id, "running"),
                },
                add_fields={"attempts": 1},
                append_fields={"history": [{"event": "started", "at": self._clock()}]},
                condition="attribute_exists(pk) AND #status <> :succeeded AND attribute_not_exists(delivery)",
                names={"#status": "status"},
                values={":succeeded": "succeeded"},
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        return _run(self._bounded(item))

    def record_progress(self, portal_id: str, run_id: str, progress: dict[str, str]) -> None:
        """Remember the reporting steps done so far for a run (what a retry must not do again)."""
        self._table.update(run_key(portal_id, run_id), set_fields={"progress": dict(progress)},
                           condition="attribute_exists(pk)")

    def record_delivery(self, portal_id: str, run_id: str, progress: dict[str, str], delivery: DeliveryState) -> Run:
        """Remember how far the run's outcome has been told: the steps done (in `progress`) and the state."""
        return _run(self._table.update(run_key(portal_id, run_id),
                                       set_fields={"progress": dict(progress), "delivery": delivery},
                                       condition="attribute_exists(pk)"))

    def succeed(self, portal_id: str, run_id: str, result: dict[str, Any] | None = None,
                outcome: dict[str, Any] | None = None) -> Run:
        """Mark the run succeeded with its result (what was created, numbers, links); with an
        `outcome`, that outcome is pending until it has been told (`record_delivery`)."""
        now = self._clock()
        try:
            item = self._table.update(
                run_key(portal_id, run_id),
                set_fields={
                    "status": "succeeded",
                    "finished_at": now,
                    "result": result or {},
                    "error_code": None,
                    "error_message": None,
                    **_pending(outcome),
                    **_learned(portal_id, run_id, "succeeded", result),
                },
                append_fields={"history": [{"event": "succeeded", "at": now}]},
                condition="attribute_exists(pk)",
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        run = _run(self._bounded(item))
        self._supersede_failures_before(run)
        return run

    def fail(
        self,
        portal_id: str,
        run_id: str,
        error_code: str,
        error_message: str,
        result: dict[str, Any] | None = None,
        outcome: dict[str, Any] | None = None,
    ) -> Run:
        """Mark the run failed with an error a person can read; a succeeded run stays succeeded.
        With an `outcome`, that outcome is pending until it has been told (`record_delivery`)."""
        now = self._clock()
        try:
            item = self._table.update(
                run_key(portal_id, run_id),
                set_fields={
                    "status": "failed",
                    "finished_at": now,
                    "error_code": error_code,
                    "error_message": error_message,
                    "result": result or {},
                    **_pending(outcome),
                    **_learned(portal_id, run_id, "failed", result),
                },
                append_fields={"history": [{"event": "failed", "at": now, "error_code": error_code,
                                            "error_message": error_message[:1000]}]},
                condition="attribute_exists(pk) AND #status <> :succeeded",
                names={"#status": "status"},
                values={":succeeded": "succeeded"},
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        return _run(self._bounded(item))

    def claim_replay(self, portal_id: str, run_id: str, replay_run_id: str, *,
                     replacing: str | None = None) -> str | None:
        """Name `replay_run_id` as the one replay of the run, if the run names none (or, with
        `replacing`, still names that abandoned one); answer the replay the run names after the write:
        `replay_run_id` when this claim won, the winner's otherwise (None: the claim being replaced
        was given back meanwhile). `NotFoundError` for a run that does not exist."""
        condition = ("attribute_exists(pk) AND attribute_not_exists(replayed_by)" if replacing is None
                     else "attribute_exists(pk) AND replayed_by = :replacing")
        try:
            self._table.update(run_key(portal_id, run_id),
                               set_fields={"replayed_by": replay_run_id, "replay_claimed_at": self._clock()},
                               condition=condition, values={":replacing": replacing} if replacing else None)
        except ConditionFailed as failure:
            holder = self._as_stored(portal_id, run_id, failure).replayed_by
            return holder
        return replay_run_id

    def list_recent(self, portal_id: str, limit: int = 20) -> list[Run]:
        """The portal's newest runs, newest first."""
        items = self._table.query(
            runs_partition(portal_id), sk_prefix=RUN_PREFIX, newest_first=True, limit=limit
        )
        return [_run(item) for item in items]

    def search(self, portal_id: str, run_filter: RunFilter, *, limit: int = 50, cursor: str | None = None) -> RunPage:
        """One page of the portal's runs that match `run_filter`, newest first (a name search: by name,
        then newest first), continuing after `cursor` (a page's `next_cursor`).

        Reads at most `SEARCH_READS_MAX` pages of an index: a page may hold fewer than `limit` runs
        and still carry a cursor when matches are sparse. A cursor that is not one this portal's
        search gave raises `BadRequestError`.
        """
        run_filter = checked(run_filter)
        limit = min(max(int(limit), 1), SEARCH_LIMIT_MAX)
        name_prefix = name_key(run_filter.text) if run_filter.text and not is_id_text(run_filter.text) else None
        after = read_run_cursor(cursor, portal_id, name_prefix)
        streams = [_Stream(plan, after) for plan in _plans(portal_id, run_filter, name_prefix, after)]
        for stream in streams:
            self._read(stream, limit)
        return _merge(portal_id, streams, limit, by_name=name_prefix is not None)

    def _read(self, stream: _Stream, limit: int) -> None:
        plan = stream.plan
        if plan.values[":low"] > plan.values[":high"]:  # e.g. a cursor before the range's start: nothing left
            stream.exhausted = True
            return
        start: Item | None = None
        for _ in range(SEARCH_READS_MAX):
            items, start = self._table.query_page(
                index=plan.index, key_condition=plan.key_condition, names=plan.names, values=plan.values,
                filter_expression=plan.filter_expression, forward=plan.forward, limit=limit + 1, start_key=start)
            stream.items += [item for item in items if plan.position(item) != stream.after]
            if start is None:
                stream.exhausted = True
                return
            stream.frontier = plan.position(start)
            if len(stream.items) > limit:
                return

    def _supersede_failures_before(self, run: Run) -> None:
        """Mark the earlier failed runs for the same deal and trigger superseded by `run`, a document run
        that succeeded: their Replay is withdrawn on every page of the log."""
        if run.kind != "create_document" or not run.object_id or not run.trigger_key:
            return
        index = "runs_by_record"
        hash_key, sort_key = RUN_INDEXES[index]
        start: Item | None = None
        for _ in range(SUPERSEDE_READS_MAX):
            items, start = self._table.query_page(
                index=index, key_condition="#h = :h AND #s < :s",
                names={"#h": hash_key, "#s": sort_key, "#status": "status", "#tk": "trigger_key",
                       "#ot": "object_type", "#sb": "superseded_by"},
                values={":h": run_index_value(run.portal_id, run.object_id), ":s": run.run_id, ":failed": "failed",
                        ":tk": run.trigger_key, ":ot": run.object_type or ""},
                filter_expression="#status = :failed AND #tk = :tk AND #ot = :ot AND attribute_not_exists(#sb)",
                limit=100, start_key=start)
            for item in items:
                with suppress(ConditionFailed):
                    self._table.update(run_key(run.portal_id, str(item["run_id"])),
                                       set_fields={"superseded_by": run.run_id},
                                       condition="#status = :failed", names={"#status": "status"},
                                       values={":failed": "failed"})
            if start is None:
                return

    def _bounded(self, item: Item) -> Item:
        """`item` with its history cut to the last `HISTORY_MAX` entries (stored so too)."""
        history = item.get("history") or []
        if len(history) <= HISTORY_MAX:
            return item
        kept = history[-HISTORY_MAX:]
        with suppress(ConditionFailed):  # another write came between: the next one trims
            self._table.update({"pk": item["pk"], "sk": item["sk"]}, set_fields={"history": kept},
                               condition="size(#h) = :n", names={"#h": "history"}, values={":n": len(history)})
        return {**item, "history": kept}

    def latest_for_object(self, portal_id: str, object_type: str, object_id: str) -> Run | None:
        """The newest run created for a CRM object (a deal, a company), or None."""
        pointer = self._table.get(latest_run_key(portal_id, object_type, object_id), consistent=False)
        return self.get(portal_id, pointer["run_id"]) if pointer else None

    def _point_to(self, run: Run, object_type: str, object_id: str, expires_at: int) -> None:
        with suppress(ConditionFailed):
            self._table.update(
                latest_run_key(run.portal_id, object_type, object_id),
                set_fields={"run_id": run.run_id, "expires_at": expires_at},
                # Lambdas' clocks differ a little: never move the pointer back to an older run.
                condition="attribute_not_exists(run_id) OR run_id < :run_id",
                values={":run_id": run.run_id},
            )

    @staticmethod
    def _as_stored(portal_id: str, run_id: str, failure: ConditionFailed) -> Run:
        if failure.item is None:
            raise NotFoundError(f"Run {run_id} of portal {portal_id} does not exist.") from failure
        return _run(failure.item)


def _index_fields(run: Run) -> dict[str, Any]:
    """A new run's sync-log index attributes (`RUN_INDEXES`)."""
    portal = run.portal_id
    fields: dict[str, Any] = {"gsi_status": run_index_value(portal, run.status),
                              "gsi_trigger": run_index_value(portal, run.trigger),
                              "gsi_kind": run_index_value(portal, run.kind)}
    if run.object_id:
        fields["gsi_record"] = run_index_value(portal, run.object_id)
    if run.document_type:
        fields["log_document_type"] = run.document_type
    return fields


def _learned(portal_id: str, run_id: str, status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes a finished try sets from what it learned (`result`): the record's name, the
    customer, the document's type and number, and the index attributes that follow from them.
    What a try did not learn is left as an earlier try stored it."""
    found = result or {}
    fields: dict[str, Any] = {"gsi_status": run_index_value(portal_id, status)}
    name = found.get("record_name")
    if isinstance(name, str) and name.strip():
        fields["record_name"] = name.strip()[:300]
        sort_key = name_sort_key(name, run_id)
        if sort_key:
            fields["gsi_name"] = sort_key
    for key in ("customer_number", "customer_name"):
        if found.get(key):
            fields[key] = str(found[key])[:300]
    if found.get("document_number"):
        fields["gsi_document"] = run_index_value(portal_id, str(found["document_number"]))
    if found.get("document_type"):
        fields["log_document_type"] = str(found["document_type"])
    return fields


@dataclass(frozen=True)
class _Plan:
    """One index query of a search: its key condition (a range of one portal's runs) and filter."""

    index: str | None
    key_condition: str
    names: dict[str, str]
    values: dict[str, Any]
    filter_expression: str | None
    #: ascending (name searches) or newest first
    forward: bool
    #: the attribute whose value orders the query (`sk`, `run_id` or `gsi_name`)
    order_attribute: str

    def position(self, item: Item) -> str:
        """Where `item` stands in this query, as a cursor keeps it (a run id, or a name sort key)."""
        value = str(item.get(self.order_attribute, ""))
        return value.removeprefix(RUN_PREFIX) if self.order_attribute == "sk" else value


@dataclass
class _Stream:
    """What one plan's queries found: the matches, and how far they read (`frontier`) unless `exhausted`."""

    plan: _Plan
    after: str | None
    items: list[Item] = field(default_factory=list)
    frontier: str | None = None
    exhausted: bool = False


def _plans(portal_id: str, f: RunFilter, name_prefix: str | None, after: str | None) -> list[_Plan]:
    """The index queries that answer `f` together, from `after` on: the most selective index for it, the
    rest filtered. (The run at `after` itself is read again and dropped: key conditions have no open bounds
    beside BETWEEN.)"""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    filters: list[str] = []

    def keep(attribute: str, value: Any) -> None:
        placeholder = f"f{len(values)}"
        names[f"#{placeholder}"], values[f":{placeholder}"] = attribute, value
        filters.append(f"#{placeholder} = :{placeholder}")

    pseudo_kind = kind_of_trigger(f.trigger)
    # Text narrows most; then an unusual status; then the trigger; then the document type.
    if f.text and not name_prefix:
        chosen = [("runs_by_record", f.text), ("runs_by_document", f.text)]
    elif name_prefix:
        chosen = [("runs_by_name", "")]
    elif f.status in ("failed", "queued", "running"):
        chosen = [("runs_by_status", f.status)]
    elif pseudo_kind:
        chosen = [("runs_by_kind", pseudo_kind)]
    elif f.trigger:
        chosen = [("runs_by_trigger", f.trigger)]
    elif f.document_type:
        chosen = [("runs_by_kind", "create_document")]
    elif f.status:
        chosen = [("runs_by_status", f.status)]
    else:
        chosen = [("", "")]
    index_used = chosen[0][0]
    if f.status and index_used != "runs_by_status":
        keep("status", f.status)
    if pseudo_kind and index_used != "runs_by_kind":
        keep("kind", pseudo_kind)
    elif f.trigger and not pseudo_kind and index_used != "runs_by_trigger":
        keep("trigger", f.trigger)
    if f.document_type:
        keep("log_document_type", f.document_type)
        if index_used != "runs_by_kind" or pseudo_kind:
            keep("kind", "create_document")
    low = id_at(f.created_from) if f.created_from is not None else None
    high = id_before(f.created_to) if f.created_to is not None else None
    if name_prefix and (low or high):
        names["#frid"] = "run_id"
        values[":frlow"], values[":frhigh"] = low or "0", high or "~"
        filters.append("#frid BETWEEN :frlow AND :frhigh")
    if after is not None and not name_prefix:
        high = min(high, after) if high else after
    plans = []
    for index, value in chosen:
        plan_names, plan_values = dict(names), dict(values)
        if index == "runs_by_name":
            plan_names.update({"#h": "pk", "#s": "gsi_name"})
            plan_values.update({":h": runs_partition(portal_id), ":low": max(name_prefix or "", after or ""),
                                ":high": f"{name_prefix}~"})
            order, forward = "gsi_name", True
        elif index:
            hash_key, order = RUN_INDEXES[index]
            plan_names.update({"#h": hash_key, "#s": order})
            plan_values.update({":h": run_index_value(portal_id, value), ":low": low or "0", ":high": high or "~"})
            forward = False
        else:
            plan_names.update({"#h": "pk", "#s": "sk"})
            plan_values.update({":h": runs_partition(portal_id), ":low": f"{RUN_PREFIX}{low or '0'}",
                                ":high": f"{RUN_PREFIX}{high or '~'}"})
            order, forward = "sk", False
        plans.append(_Plan(index=index or None, key_condition="#h = :h AND #s BETWEEN :low AND :high",
                           names=plan_names, values=plan_values,
                           filter_expression=" AND ".join(filters) or None, forward=forward,
                           order_attribute=order))
    return plans


def _merge(portal_id: str, streams: list[_Stream], limit: int, *, by_name: bool) -> RunPage:
    """The page the streams' matches make: only what every stream has read past (so no run is skipped),
    in log order, at most `limit`, with the cursor to go on from."""
    frontiers = [s.frontier for s in streams if not s.exhausted and s.frontier is not None]
    # Newest first (ids descending) unless by name (ascending): `ahead` orders positions the query's way.
    def ahead(position: str) -> str:
        return position if by_name else newest_first(position)

    frontier = max(frontiers, key=ahead) if frontiers else None
    found: dict[str, Item] = {}
    for stream in streams:
        for item in stream.items:
            position = stream.plan.position(item)
            if frontier is None or ahead(position) <= ahead(frontier):
                found.setdefault(str(item["run_id"]), {**item, "_position": position})
    ordered = sorted(found.values(), key=lambda item: ahead(item["_position"]))
    page = ordered[:limit]
    if len(ordered) > limit:
        next_position: str | None = page[-1]["_position"]
    else:
        next_position = frontier
    runs = [_run({k: v for k, v in item.items() if k != "_position"}) for item in page]
    return RunPage(runs=runs, next_cursor=run_cursor(portal_id, next_position, by_name) if next_position else None)


def run_cursor(portal_id: str, position: str, by_name: bool) -> str:
    """An opaque cursor for `position`: the portal, the run id, and for a name search the name it stopped at."""
    if by_name:
        name, _, inverted = position.rpartition("#")
        text = f"{portal_id}:{newest_first(inverted)}:{name}"
    else:
        text = f"{portal_id}:{position}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_run_cursor(cursor: str | None, portal_id: str, name_prefix: str | None) -> str | None:
    """The position a cursor of `run_cursor` continues after; `BadRequestError` for anything else (another
    portal's cursor, another kind of search's, a made-up one)."""
    if cursor is None or cursor == "":
        return None
    refused = BadRequestError("cursor is not one this search gave; start again from the first page.",
                              code="INVALID_CURSOR")
    if len(cursor) > 400:
        raise refused
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    parts = text.split(":")
    if parts[0] != portal_id or len(parts) != (3 if name_prefix is not None else 2) or not is_run_id(parts[1]):
        raise refused
    if name_prefix is None:
        return parts[1]
    name = parts[2]
    if name != name_key(name) or not name.startswith(name_prefix or ""):
        raise refused
    return f"{name}#{newest_first(parts[1])}"


def _pending(outcome: dict[str, Any] | None) -> dict[str, Any]:
    return {} if outcome is None else {"outcome": outcome, "delivery": "pending"}


def _run(item: Item) -> Run:
    return Run.model_validate({k: v for k, v in item.items()
                               if k not in ("pk", "sk", "expires_at", "replay_claimed_at")
                               and not k.startswith("gsi_")})
