"""The dead-letter queue made visible to a portal's admins: its jobs, why their runs failed, and a retry.

A job whose tries are spent goes to the jobs DLQ (JobsDLQ, after the jobs queue's maxReceiveCount).
The list shows the portal's own jobs there, each joined to its run for the last error; a message that
is no hubnox job is listed as malformed, by message id only (it names no portal, and its body
could be anyone's). The DLQ is shared by every portal: a portal's admin sees and retries only jobs
of that portal.

A retry takes the message (hidden from other readers while it works on it) and:
- a failed run is replayed, through the run's replay claim, so a retry, a Replay link and a bulk
  replay together make one replay (`hubnox.services.replay_claim`);
- a run that never finished (queued, running, or its outcome still being told) gets its job sent
  to the jobs queue again: the run id is the job id, so it is still the one run;
- a run that succeeded has nothing left to do;
then deletes the message (a job whose run no longer exists stays, with a 404). Two retries at once
retry once: the message is claimed by its id first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from hubnox.dead_letter_queue import DeadLetter
from hubnox.errors import BadRequestError, NotFoundError
from hubnox.ids import is_run_id
from hubnox.jobs import Job, Submit
from hubnox.observability import logger
from hubnox.records import Run
from hubnox.services.replay_claim import ReplayClaims, replay_once
from hubnox.sync.ports import FollowUps, NonceClaims

#: the most messages a list reads (the answer says how many wait in all)
LIST_LIMIT = 100
#: the most messages a retry looks through for its one
RETRY_SCAN_LIMIT = 500
#: a retry claims its message for this long: longer than the message stays hidden while it works
RETRY_CLAIM_KIND, RETRY_CLAIM_SECONDS = "dead-letter-retry", 300
_MESSAGE_ID_MAX = 100


class DeadLetterPort(Protocol):
    """The jobs' dead-letter queue (`hubnox.dead_letter_queue.DeadLetterQueue`)."""

    def depth(self) -> int: ...

    def peek(self, limit: int) -> list[DeadLetter]: ...

    def take(self, wanted: Callable[[DeadLetter], bool], scan_limit: int) -> DeadLetter | None: ...

    def delete(self, letter: DeadLetter) -> None: ...

    def release(self, letter: DeadLetter) -> None: ...


class DeadRuns(ReplayClaims, Protocol):
    """The runs, as a retry reads and replays them (`hubnox.store.runs.RunStore`)."""


def job_of(body: str) -> Job | None:
    """The job a message carries, or None for a malformed one."""
    try:
        return Job.from_message(body)
    except (ValueError, ValidationError):
        return None


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment is not None else None


def dead_letter_summary(message_id: str, sent_at: float | None, job: Job | None, run: Run | None) -> dict[str, Any]:
    """What the page shows of a dead letter."""
    if job is None:
        return {"messageId": message_id, "malformed": True, "sentAt": _iso(sent_at),
                "message": "This message is not a hubnox job; it cannot be retried."}
    return {
        "messageId": message_id, "malformed": False, "sentAt": _iso(sent_at), "runId": job.run_id,
        "kind": job.kind, "trigger": job.trigger, "objectType": job.object_type, "objectId": job.object_id,
        "documentType": job.document_type, "followUp": job.delivery_round is not None,
        "runStatus": run.status if run else None, "attempts": run.attempts if run else None,
        "errorCode": run.error_code if run else None, "errorMessage": run.error_message if run else None,
        "replayedBy": run.replayed_by if run else None,
        "recordName": run.record_name if run else None,
        # SQS keeps no time of the move to the DLQ: it followed the run's last failed try at once
        "lastTriedAt": _iso(run.finished_at) if run else None,
    }


@dataclass(frozen=True)
class Retried:
    """What a retry did: `action` is `replayed`, `already_replayed`, `resent` or `nothing_to_do`."""

    message_id: str
    run_id: str
    action: str
    replay_run_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeadLetters:
    """Lists a portal's dead letters and retries one."""

    queue: DeadLetterPort
    runs: DeadRuns
    submit: Submit
    jobs: FollowUps
    nonces: NonceClaims

    def list(self, portal_id: str) -> dict[str, Any]:
        """The portal's dead letters (and the malformed ones), newest first, and how many wait in all."""
        letters = []
        malformed = 0
        for letter in self.queue.peek(LIST_LIMIT):
            job = job_of(letter.body)
            if job is None:
                malformed += 1
                letters.append(dead_letter_summary(letter.message_id, letter.sent_at, None, None))
            elif job.portal_id == portal_id:
                letters.append(dead_letter_summary(letter.message_id, letter.sent_at, job,
                                                   self.runs.get(portal_id, job.run_id)))
        letters.sort(key=lambda item: item.get("sentAt") or "", reverse=True)
        return {"deadLetters": letters, "malformed": malformed, "waiting": self.queue.depth(),
                "listedAtMost": LIST_LIMIT}

    def retry(self, portal_id: str, key: str) -> Retried:
        """Retry the dead letter whose message id or run id is `key` (see the module's docstring).

        404 when the portal has no such dead letter (or another retry holds it), 400 for a malformed one.
        """
        if not key or len(key) > _MESSAGE_ID_MAX or not key.isprintable():
            raise BadRequestError("Name a dead letter by its message id or its run id.", code="INVALID")
        by_run = is_run_id(key)

        def wanted(letter: DeadLetter) -> bool:
            job = job_of(letter.body)
            if job is None:
                return letter.message_id == key
            return job.portal_id == portal_id and (letter.message_id == key or (by_run and job.run_id == key))

        letter = self.queue.take(wanted, RETRY_SCAN_LIMIT)
        if letter is None:
            raise NotFoundError(f"No dead letter {key} waits for this portal: it was retried already, or it "
                                "is not there.", code="DEAD_LETTER_NOT_FOUND",
                                hint="Reload the list of dead letters.")
        job = job_of(letter.body)
        if job is None:
            self.queue.release(letter)
            raise BadRequestError(f"Message {letter.message_id} is not a hubnox job: there is no run to retry.",
                                  code="MALFORMED_DEAD_LETTER")
        if not self.nonces.claim(RETRY_CLAIM_KIND, letter.message_id, RETRY_CLAIM_SECONDS):
            raise NotFoundError(f"Dead letter {letter.message_id} is being retried already.",
                                code="DEAD_LETTER_NOT_FOUND", hint="Reload the list of dead letters.")
        try:
            done = self._retry(portal_id, letter.message_id, job)
        except Exception:
            self.nonces.release(RETRY_CLAIM_KIND, letter.message_id)
            self.queue.release(letter)
            raise
        self.queue.delete(letter)
        logger.info("dead letter retried", extra={"message_id": letter.message_id, "run_id": job.run_id,
                                                   "action": done.action, "replay_run_id": done.replay_run_id})
        return done

    def _retry(self, portal_id: str, message_id: str, job: Job) -> Retried:
        run = self.runs.get(portal_id, job.run_id)
        if run is None:  # runs live 90 days, dead letters 14: a job without its run is no job of hubnox's
            raise NotFoundError(f"Run {job.run_id} of dead letter {message_id} no longer exists.",
                                code="RUN_NOT_FOUND")
        if run.final and run.status == "failed":
            replayed = replay_once(self.runs, self.submit, run)
            return Retried(message_id, run.run_id, "replayed" if replayed.queued else "already_replayed",
                           replayed.run_id)
        if run.final:
            return Retried(message_id, run.run_id, "nothing_to_do")
        self.jobs.send(job)
        return Retried(message_id, run.run_id, "resent")
