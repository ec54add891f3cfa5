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

from hubnox.errors import NotFoundError
from hubnox.records import DeliveryState, Run, RunRequest
from hubnox.store.table import (
    RUN_PREFIX,
    Clock,
    ConditionFailed,
    Item,
    Table,
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


class RunStore:
    """Creates runs and records their progress."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def create(self, request: RunRequest, *, replay_of: str | None = None) -> Run:
        """Record a new queued run of `request` with a fresh time-ordered id and return it."""
        now = self._clock()
        run = Run(run_id=new_run_id(now), **request.request.model_dump(), created_at=now, replay_of=replay_of)
        expires_at = ttl_at(now + RUN_RETENTION_SECONDS)
        fields = {k: v for k, v in run.model_dump().items() if v is not None}
        self._table.put(
            {**run_key(run.portal_id, run.run_id), **fields, "expires_at": expires_at},
            condition="attribute_not_exists(pk)",
        )
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
    return Run.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")})
