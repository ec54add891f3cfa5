"""The worker's job runner: a job in, its run carried out and its outcome told, over injected ports.

`JobRunner.run(job, attempt, max_attempts)` marks the run running, loads the portal's settings and
hands the job to its kind, one module each under `hubnox.sync.jobs`:

- `create_document` (`jobs.documents`): the deal's one draft Fortnox invoice or order, its PDF on
  a note, the deal's Fortnox properties, the workflow callback;
- `sync_customer` (`jobs.customers`): a company or contact becomes (or updates) its Fortnox
  customer, the customer number is written back, the callback completed;
- `sync_products` (`jobs.products`): the portal's HubSpot products become Fortnox articles with
  their prices.

A kind answers the run's result and its `Outcome`; the run is recorded succeeded or failed with
that outcome pending, and the outcome is then told (`hubnox.sync.delivery`). What HubSpot does not
take now is told by a follow-up of the job (`Job.delivery_round`), sent again with a growing delay
until every step is told or given up; the run is final only then (`Run.final`), and only then is it
counted for the operator (the `RunOutcomes` port, `hubnox.signals`), once, with the status it ends with.

Errors decide what happens next:
- `UserFixableError` (missing company, unknown article under the skip policy, Fortnox
  validation, missing licence, "reconnect Fortnox"): the run fails at once; its outcome is a note
  carrying the signed Replay link, the deal's sync status and last error, and FAIL_CONTINUE on the
  callback (`hubnox.sync.reporting`);
- `TransientError` (429, 5xx, timeouts) and unexpected errors: re-raised so the queue tries again
  later (the worker sets the backoff, `hubnox.jobs.backoff_seconds`), except on the last attempt,
  where the run fails as above and `JobExhausted` is raised once its outcome is told (or stays
  pending for follow-ups), so the message goes on to the dead-letter queue.
A job of a portal hubnox was uninstalled from (`InstallStatus`, asked before each job and again
when a try fails: a refused HubSpot refresh token marks the uninstall mid-run) stops without calling
HubSpot or Fortnox: its run fails with `HUBSPOT_UNINSTALLED`, whatever of its outcome is untold is
given up with that code, and nothing is retried or sent to the dead-letter queue.

A job may be turned away before it starts (`hubnox.sync.admission`: its Fortnox company's schedule
is booked far ahead, or the company already has its share of jobs in flight), and a call may find
its budget booked further ahead than it may wait (`RATE_BUDGET`). Either way the job is sent again
with a delay of about that wait, carrying the tries it has spent (`Job.spent_tries`), and its
message is let go: the wait costs it no try and no backoff, because the queue counts a try per
delivery and hiding the message would count one.

A failed document run's outcome is told only after Fortnox has been asked whether the deal's
document exists after all; if it does, the run succeeded and tells that (`CreateDocument.verify`),
and its message is not kept.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any

from hubnox.errors import (
    BadRequestError,
    HubnoxError,
    HubSpotUninstalledError,
    JobExhausted,
    TransientError,
    UserFixableError,
)
from hubnox.jobs import LAST_TRY, Job, backoff_seconds
from hubnox.observability import logger
from hubnox.records import DeliveryState, Run, RunKind
from hubnox.signing import Signer
from hubnox.sync.admission import SQS_MAX_DELAY_SECONDS, Admission, Later
from hubnox.sync.attempt import Attempt
from hubnox.sync.customer_guard import CustomerGuard
from hubnox.sync.delivery import Deliverer, Outcome, gave_up, told
from hubnox.sync.jobs.customers import SyncCustomer
from hubnox.sync.jobs.documents import CreateDocument
from hubnox.sync.jobs.products import sync_products
from hubnox.sync.portal_settings import migrate
from hubnox.sync.ports import (
    DealLinks,
    FollowUps,
    Fortnox,
    HubSpot,
    InstallStatus,
    Leases,
    MadeCustomers,
    NoteRenderer,
    RunLog,
    RunOutcomes,
    SettingsSource,
)
from hubnox.sync.reporting import Reporter

#: how long a failed document run's outcome waits for Fortnox to say whether the document exists
VERIFY_WINDOW_SECONDS = 2 * 3600
#: the lease one worker holds while it tells a run's outcome, so a duplicate delivery waits its turn
TELL_LEASE_SECONDS = 120.0
#: the progress key that records what Fortnox said when a failed run's outcome was verified
VERIFIED = "verified"


class JobRunner:
    """Carries out jobs and tells their outcomes; every dependency is injected."""

    def __init__(
        self,
        *,
        hubspot: Callable[[str], HubSpot],
        fortnox: Callable[[str], Fortnox],
        runs: RunLog,
        deal_links: DealLinks,
        settings: SettingsSource,
        leases: Leases,
        notes: NoteRenderer,
        signer: Signer,
        public_base: str,
        follow_ups: FollowUps,
        outcomes: RunOutcomes | None = None,
        installs: InstallStatus | None = None,
        admission: Admission | None = None,
        made_customers: MadeCustomers | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._hubspot = hubspot
        #: asked whether the job's portal still has hubnox installed (None: always assumed installed)
        self._installs = installs
        self._fortnox = fortnox
        self._runs = runs
        self._settings = settings
        self._leases = leases
        self._follow_ups = follow_ups
        #: told each run once its outcome is final (None: runs are not counted)
        self._outcomes = outcomes
        self._clock = clock
        #: asked before a job's Fortnox work whether it may start now (None: every job starts)
        self._admission = admission
        self._report = Reporter(runs=runs, notes=notes, signer=signer, public_base=public_base)
        self._deliver = Deliverer(runs=runs, leases=leases, clock=clock)
        #: one Fortnox customer per HubSpot record however many of its runs overlap (None: no guard)
        guard = CustomerGuard(leases=leases, made=made_customers, clock=clock, sleep=sleep) \
            if made_customers is not None else None
        self._documents = CreateDocument(deal_links=deal_links, leases=leases, notes=notes, report=self._report,
                                         clock=clock, sleep=sleep, customer_guard=guard)
        self._kinds: dict[RunKind, Callable[[Attempt], tuple[dict[str, Any], Outcome]]] = {
            "create_document": self._documents,
            "sync_customer": SyncCustomer(guard),
            "sync_products": lambda current: (sync_products(current), Outcome()),
        }

    def run(self, job: Job, attempt: int = 1, max_attempts: int = LAST_TRY) -> Run:
        """Carry out one try of `job` (or, for a follow-up, tell its run's outcome) and answer the
        run as stored afterwards.

        Raises the error of a transient (or unexpected) failure before the last attempt, so the
        queue tries again, and `JobExhausted` on the last attempt once the run is failed and its
        outcome told, so the queue keeps the message; every other outcome is recorded on the run and
        told. The worker passes `hubnox.jobs.LAST_TRY` as `max_attempts`, one less than the queue's
        deliveries: a last try whose worker died is tried once more on the spare delivery.
        `attempt` counts this message's deliveries; the tries the job spent before it was sent
        again (`Job.spent_tries`) are added to it.
        """
        attempt += job.spent_tries or 0
        if job.delivery_round is not None or self._admission is None:
            return self._run(job, attempt, max_attempts)
        entered = self._admission.enter(job)
        if isinstance(entered, Later):
            return self._defer(job, attempt, entered.seconds, "its Fortnox company is busy", entered.admit_at)
        try:
            return self._run(job, attempt, max_attempts)
        finally:
            self._admission.leave(entered)

    def _run(self, job: Job, attempt: int, max_attempts: int) -> Run:
        if self._uninstalled(job.portal_id):
            return self._stop_uninstalled(job, attempt)
        if job.delivery_round is not None:
            stored = self._runs.get(job.portal_id, job.run_id)
            if stored is None or stored.delivery != "pending":
                logger.info("follow-up of a run with nothing left to tell", extra={"run_id": job.run_id})
                return stored  # type: ignore[return-value]
            return self._tell(self._attempt(job, 1, max_attempts, stored), stored, job.delivery_round)
        run = self._runs.mark_running(job.portal_id, job.run_id)
        if run.delivery == "pending":
            run = self._tell(self._attempt(job, attempt, max_attempts, run), run, 0)
        if run.status == "succeeded":
            logger.info("run already succeeded; job skipped", extra={"run_id": job.run_id})
            return run
        if run.status == "failed" and run.delivery is not None:
            # A failure that has been told is not run again (its workflow already has its answer):
            # Replay makes a new run. The queue's spare delivery after the last try goes on to the
            # dead-letter queue; any other is a duplicate.
            if attempt > max_attempts:
                raise JobExhausted(f"Run {job.run_id} gave up on its last try.", repeat=True)
            logger.info("run already failed and told; job skipped", extra={"run_id": job.run_id})
            return run
        current = self._attempt(job, attempt, max_attempts, run)
        try:
            current.settings = migrate(self._settings.get(job.portal_id)[0])
            result, outcome = self._do(current)
        except UserFixableError as error:
            if self._uninstalled(job.portal_id):  # HubSpot refused the portal's token during this try
                return self._stop_uninstalled(job, attempt)
            return self._tell(current, self._fail(current, error), 0)
        except Exception as error:
            if self._uninstalled(job.portal_id):
                return self._stop_uninstalled(job, attempt)
            if isinstance(error, TransientError) and error.code == "RATE_BUDGET":
                wait = error.retry_after or 1.0
                return self._defer(job, attempt, wait, "its rate budget is booked ahead", self._clock() + wait)
            if not current.last:
                raise
            logger.exception("run failed on its last attempt", extra={"run_id": job.run_id, "attempt": attempt})
            told = self._tell(current, self._fail(current, error), 0)
            if told.status == "succeeded":  # Fortnox had the document after all
                return told
            raise JobExhausted(f"Run {job.run_id} failed on its last try ({attempt} of {max_attempts}).") from error
        finished = self._runs.succeed(job.portal_id, job.run_id, result, outcome.model_dump(mode="json"))
        return self._tell(current, finished, 0)

    def _defer(self, job: Job, attempt: int, seconds: float, why: str, admit_at: float) -> Run:
        """Send the job again in about `seconds`, to be let in at `admit_at`, without counting this
        delivery as a try, and let this message go. A duplicate (should this message come back
        too) is one run, as ever."""
        delay = max(1, min(SQS_MAX_DELAY_SECONDS, math.ceil(seconds)))
        again = job.model_copy(update={"spent_tries": (attempt - 1) or None, "admit_at": admit_at})
        self._follow_ups.send(again, delay_seconds=delay)
        logger.info("job sent back without spending a try", extra={"run_id": job.run_id, "why": why, "delay": delay})
        return self._runs.get(job.portal_id, job.run_id)  # type: ignore[return-value]

    def _attempt(self, job: Job, attempt: int, max_attempts: int, run: Run) -> Attempt:
        return Attempt(job, attempt, max_attempts, self._hubspot, self._fortnox, progress=dict(run.progress))

    def _do(self, current: Attempt) -> tuple[dict[str, Any], Outcome]:
        kind = self._kinds.get(current.job.kind)
        if kind is None:
            raise BadRequestError(f"hubnox does not know the job kind {current.job.kind!r}.")
        return kind(current)

    def _fail(self, current: Attempt, error: BaseException) -> Run:
        failure = self._report.failure(current, error)
        return self._runs.fail(current.portal_id, current.job.run_id, failure.code, failure.message,
                               {"attempts": current.attempt, **current.learned},
                               failure.outcome.model_dump(mode="json"))

    def _tell(self, current: Attempt, run: Run, delivery_round: int) -> Run:
        """Tell the run's outcome, one worker at a time; what HubSpot does not take now is told by a
        follow-up, sent with the backoff of its round."""
        lease, owner = f"tell#{run.portal_id}#{run.run_id}", secrets.token_hex(8)
        if not self._leases.acquire(lease, owner, TELL_LEASE_SECONDS):
            logger.info("another worker is telling this run's outcome", extra={"run_id": run.run_id})
            return run
        was_pending = run.delivery == "pending"
        try:
            run = self._verified(current, run)
            if run.delivery == "pending" and not _unverified(run, current):
                run = self._deliver.tell(run, lambda: current.hubspot, current.progress)
            if run.delivery == "pending" and self._uninstalled(run.portal_id):
                run = self._give_up_uninstalled(run, current.progress)
            if run.delivery == "pending":
                self._follow_up(current.job, delivery_round + 1)
        finally:
            self._leases.release(lease, owner)
        if was_pending and run.final and self._outcomes is not None:
            # Counted here, once, with the status it ends with (a verified failure counts as the success it was).
            self._outcomes.finished(run)
        return run

    def _verified(self, current: Attempt, run: Run) -> Run:
        """The run, turned into the success it really had when Fortnox has the document a failed
        document run was about (`Outcome.verify`)."""
        step = Outcome.of(run).verify
        if step is None or not _unverified(run, current):
            return run
        try:
            if current.settings is None:
                current.settings = migrate(self._settings.get(run.portal_id)[0])
            found = self._documents.verify(current, step)
        except TransientError as error:
            if self._clock() < (run.finished_at or run.created_at) + VERIFY_WINDOW_SECONDS:
                logger.warning("could not ask Fortnox for the failed run's document; asking again later",
                               extra={"run_id": run.run_id, "error": error.message[:300]})
                return run
            current.progress[VERIFIED] = "unknown"
        except HubnoxError as error:
            logger.warning("could not verify the failed run", extra={"run_id": run.run_id, "code": error.code})
            current.progress[VERIFIED] = "unknown"
        else:
            if found is not None:
                result, outcome = found
                current.progress[VERIFIED] = "found"
                self._runs.record_progress(run.portal_id, run.run_id, current.progress)
                return self._runs.succeed(run.portal_id, run.run_id, result, outcome.model_dump(mode="json"))
            current.progress[VERIFIED] = "none"
        self._runs.record_progress(run.portal_id, run.run_id, current.progress)
        return run

    def _uninstalled(self, portal_id: str) -> bool:
        return self._installs is not None and self._installs.hubspot_status(portal_id) == "uninstalled"

    def _stop_uninstalled(self, job: Job, attempt: int) -> Run:
        """End the job of a portal hubnox was uninstalled from, calling neither HubSpot nor Fortnox: an
        unfinished run fails with `HUBSPOT_UNINSTALLED`, whatever it had still to tell is given up with
        that code, and the run is counted once. Nothing is raised, so nothing is retried."""
        stored = self._runs.get(job.portal_id, job.run_id)
        if stored is None or stored.final:
            logger.info("job of an uninstalled portal: nothing left to do", extra={"run_id": job.run_id})
            return stored  # type: ignore[return-value]
        stopped = HubSpotUninstalledError(job.portal_id)
        run = stored
        if run.status not in ("succeeded", "failed"):
            run = self._runs.fail(job.portal_id, job.run_id, stopped.code, stopped.message,
                                  {"attempts": attempt}, {})
        run = self._give_up_uninstalled(run, dict(run.progress))
        logger.warning("job stopped: hubnox was uninstalled from the portal",
                       extra={"run_id": job.run_id, "portal_id": job.portal_id, "code": stopped.code})
        if self._outcomes is not None and run.final:
            self._outcomes.finished(run)
        return run

    def _give_up_uninstalled(self, run: Run, progress: dict[str, str]) -> Run:
        """Give up every step of the run's outcome not yet told: no HubSpot token is left to tell it with."""
        outcome = Outcome.of(run)
        steps = [*(["note"] if outcome.note else []), *(update.name for update in outcome.updates),
                 *(["callback"] if outcome.callback else [])] or ["outcome"]
        for step in steps:
            if told(step) not in progress and gave_up(step) not in progress:
                progress[gave_up(step)] = HubSpotUninstalledError.code
        state: DeliveryState = "gave_up" if any(key.startswith("gave_up:") for key in progress) else "delivered"
        return self._runs.record_delivery(run.portal_id, run.run_id, progress, state)

    def _follow_up(self, job: Job, delivery_round: int) -> None:
        delay = backoff_seconds(delivery_round)
        logger.info("outcome not yet told everywhere; a follow-up is queued",
                    extra={"run_id": job.run_id, "round": delivery_round, "delay": delay})
        self._follow_ups.send(job.model_copy(update={"delivery_round": delivery_round}), delay_seconds=delay)


def _unverified(run: Run, current: Attempt) -> bool:
    """Whether the failed run's outcome still waits for Fortnox to say whether the document exists."""
    return run.status == "failed" and Outcome.of(run).verify is not None and VERIFIED not in current.progress
