"""Replaying a run exactly once, whoever asks: a Replay link, the bulk replay, a dead letter's retry.

A replay is a new run (trigger `replay`, `replay_of` the run it replays). Before it is created, the
replayed run is claimed for it: a conditional write `replayed_by = <the new run id>` that only one
caller wins (`RunStore.claim_replay`). The winner creates the replay run with that pre-chosen id,
in a transaction that checks the claim still names it, and queues its job; every other caller
answers with the winner's id ("already replayed as X").

A claim can be left without its run: the process died between the claim and the creation, or the
job could not be queued (the run was then marked failed `NOT_QUEUED`). A later replay takes such a
claim over, conditional on the abandoned value, so two takers cannot both win; and since a run is
only created while the claim names it, the first claimer, if it was only slow, loses its creation
instead of making a second run. A claim whose run is missing is left alone for `CLAIM_GRACE_SECONDS`
(more than any function's timeout; the claim's age is read from its ULID): a claimer a few
milliseconds from creating its run is not displaced by every concurrent caller in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hubnox.errors import NotFoundError
from hubnox.jobs import NOT_QUEUED, Submit
from hubnox.observability import logger
from hubnox.records import Run
from hubnox.signals import count_replay
from hubnox.store.runs import ReplayClaimLost

#: how long a claim whose run does not exist is taken for a claimer about to create it; 29 s is the
#: HTTP functions' timeout in template.yaml
CLAIM_GRACE_SECONDS = 120
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

#: how many times a caller re-reads a claim that moved under it before it gives up (each round
#: either wins, finds a live replay, or found a claim that another caller changed meanwhile)
CLAIM_ROUNDS = 5


class ReplayClaims(Protocol):
    """The runs, with their replay claims (`hubnox.store.runs.RunStore`)."""

    def get(self, portal_id: str, run_id: str) -> Run | None: ...

    def new_id(self) -> str: ...

    def claim_replay(self, portal_id: str, run_id: str, replay_run_id: str, *,
                     replacing: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class Replayed:
    """The one replay of a run: its id, and whether this call made it (False: it was already replayed)."""

    run_id: str
    queued: bool


def claimed_at(run_id: str) -> float | None:
    """When a ULID run id was made (epoch seconds), or None for another shape of id."""
    if len(run_id) != 26 or any(c not in _CROCKFORD for c in run_id):
        return None
    value = 0
    for c in run_id[:10]:
        value = value * 32 + _CROCKFORD.index(c)
    return value / 1000  # the first 10 characters are the milliseconds (`new_run_id`)


def abandoned(holder: str, replay: Run | None, now_id: str) -> bool:
    """Whether a claim naming `holder` (whose run is `replay`) may be taken over, `now_id` being a
    fresh id: its run was never queued, or it was never created and the claim is older than the grace."""
    if replay is not None:
        return replay.status == "failed" and replay.error_code == NOT_QUEUED
    made, now = claimed_at(holder), claimed_at(now_id)
    return made is None or now is None or now - made > CLAIM_GRACE_SECONDS


def live_replay(runs: ReplayClaims, run: Run) -> str | None:
    """The id of the replay the run's claim names, unless that claim is abandoned; else None."""
    current = runs.get(run.portal_id, run.run_id)
    holder = current.replayed_by if current else None
    if holder is None or abandoned(holder, runs.get(run.portal_id, holder), runs.new_id()):
        return None
    return holder


def replay_once(runs: ReplayClaims, submit: Submit, run: Run, *, delay_seconds: int = 0) -> Replayed:
    """Replay `run` unless it was replayed already; `delay_seconds` holds the replay's job back.

    Raises what `submit` raises when the job could not be queued (the claim then names a run
    failed `NOT_QUEUED`, which the next replay takes over), and `NotFoundError` for a run gone.
    """
    for _ in range(CLAIM_ROUNDS):
        current = runs.get(run.portal_id, run.run_id)
        if current is None:
            raise NotFoundError(f"Run {run.run_id} no longer exists: hubnox keeps runs for 90 days.",
                                code="RUN_NOT_FOUND")
        holder = current.replayed_by
        new_id = runs.new_id()
        if holder is not None and not abandoned(holder, runs.get(run.portal_id, holder), new_id):
            return Replayed(holder, queued=False)
        won = runs.claim_replay(run.portal_id, run.run_id, new_id, replacing=holder)
        if won != new_id:
            continue  # another caller claimed or took over meanwhile: look at its claim
        try:
            # The replay is the run's own request from the Replay trigger; it completes no workflow callback.
            again = submit(current.request.model_copy(update={"trigger": "replay", "callback_id": None}),
                           replay_of=run.run_id, run_id=new_id, delay_seconds=delay_seconds)
        except ReplayClaimLost:
            continue  # a taker replaced this claim before the run was made: the taker's run is the replay
        if holder is not None:
            logger.info("an abandoned replay claim was taken over",
                        extra={"run_id": run.run_id, "abandoned": holder, "replay": new_id})
        count_replay()
        return Replayed(again.run_id, queued=True)
    current = runs.get(run.portal_id, run.run_id)
    holder = current.replayed_by if current else None
    if holder is None:
        raise ReplayClaimLost(f"Run {run.run_id}'s replay claim kept moving; try again.")
    return Replayed(holder, queued=False)
