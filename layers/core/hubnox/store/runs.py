"""Runs: one record per piece of work hubnox does for a portal, from queued to its outcome.

Run ids are ULIDs made from the injected clock (48 bits of milliseconds, 80 random bits, Crockford
base32), so a portal's runs sort by creation time in the table and list newest first with one
query. Beside each run that concerns a CRM object, a small pointer item names the newest run for
that object, so the app card finds it with two reads however many runs the portal has. Runs and
pointers expire 90 days after creation.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from typing import Any

from hubnox.errors import NotFoundError, TransientError
from hubnox.records import DeliveryState, Run, RunRequest
from hubnox.store.table import (
    RUN_PREFIX,
    Clock,
    ConditionFailed,
    Item,
    Table,
    TransactionCancelled,
    latest_run_key,
    run_key,
    runs_partition,
    ttl_at,
)

RUN_RETENTION_SECONDS = 90 * 24 * 3600

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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
        item = {**run_key(run.portal_id, run.run_id), **fields, "expires_at": expires_at}
        if run_id is None:
            self._table.put(item, condition="attribute_not_exists(pk)")
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
                raise ReplayClaimLost(f"Run {replay_of} no longer names {run.run_id} as its replay.") from refused
        if run.object_type and run.object_id:
            self._point_to(run, run.object_type, run.object_id, expires_at)
        return run

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
                },
                add_fields={"attempts": 1},
                condition="attribute_exists(pk) AND #status <> :succeeded AND attribute_not_exists(delivery)",
                names={"#status": "status"},
                values={":succeeded": "succeeded"},
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        return _run(item)

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
        try:
            item = self._table.update(
                run_key(portal_id, run_id),
                set_fields={
                    "status": "succeeded",
                    "finished_at": self._clock(),
                    "result": result or {},
                    "error_code": None,
                    "error_message": None,
                    **_pending(outcome),
                },
                condition="attribute_exists(pk)",
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        return _run(item)

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
        try:
            item = self._table.update(
                run_key(portal_id, run_id),
                set_fields={
                    "status": "failed",
                    "finished_at": self._clock(),
                    "error_code": error_code,
                    "error_message": error_message,
                    "result": result or {},
                    **_pending(outcome),
                },
                condition="attribute_exists(pk) AND #status <> :succeeded",
                names={"#status": "status"},
                values={":succeeded": "succeeded"},
            )
        except ConditionFailed as failure:
            return self._as_stored(portal_id, run_id, failure)
        return _run(item)

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


def _pending(outcome: dict[str, Any] | None) -> dict[str, Any]:
    return {} if outcome is None else {"outcome": outcome, "delivery": "pending"}


def _run(item: Item) -> Run:
    return Run.model_validate({k: v for k, v in item.items()
                               if k not in ("pk", "sk", "expires_at", "replay_claimed_at")})
