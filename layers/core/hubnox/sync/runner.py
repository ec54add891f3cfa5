"""The worker's job runner: a job in, its run carried out and reported, over injected ports.

`JobRunner.run(job, attempt, max_attempts)` marks the run running, loads the portal's settings and
hands the job to its kind, one module each under `hubnox.sync.jobs`:

- `create_document` (`jobs.documents`): the deal's one draft Fortnox invoice or order, its PDF on
  a note, the deal's Fortnox properties, the workflow callback;
- `sync_customer` (`jobs.customers`): a company or contact becomes (or updates) its Fortnox
  customer, the customer number is written back, the callback completed;
- `sync_products` (`jobs.products`): the portal's HubSpot products become Fortnox articles with
  their prices.

Errors decide what happens next:
- `UserFixableError` (missing company, unknown article under the skip policy, Fortnox
  validation, missing licence, "reconnect Fortnox"): the run fails at once with a note carrying
  the signed Replay link, the deal's sync status and last error, and FAIL_CONTINUE on the callback
  (`hubnox.sync.reporting`);
- `TransientError` (429, 5xx, timeouts) and unexpected errors: re-raised so the queue tries again
  later (the worker sets the backoff, `hubnox.jobs.backoff_seconds`), except on the last attempt,
  where the run fails as above and `JobExhausted` is raised, so the message goes on to the
  dead-letter queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hubnox.errors import BadRequestError, JobExhausted, UserFixableError
from hubnox.jobs import MAX_ATTEMPTS, Job
from hubnox.observability import logger
from hubnox.records import Run, RunKind
from hubnox.signing import Signer
from hubnox.sync.attempt import Attempt
from hubnox.sync.jobs.customers import SyncCustomer
from hubnox.sync.jobs.documents import CreateDocument
from hubnox.sync.jobs.products import sync_products
from hubnox.sync.portal_settings import migrate
from hubnox.sync.ports import DealLinks, Fortnox, HubSpot, Leases, NoteRenderer, RunLog, SettingsSource
from hubnox.sync.reporting import Reporter


class JobRunner:
    """Carries out jobs and reports them; every dependency is injected."""

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
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._hubspot = hubspot
        self._fortnox = fortnox
        self._runs = runs
        self._settings = settings
        self._report = Reporter(runs=runs, notes=notes, signer=signer, public_base=public_base, clock=clock)
        self._kinds: dict[RunKind, Callable[[Attempt], dict[str, Any]]] = {
            "create_document": CreateDocument(deal_links=deal_links, leases=leases, notes=notes,
                                              report=self._report, clock=clock, sleep=sleep),
            "sync_customer": SyncCustomer(report=self._report),
            "sync_products": sync_products,
        }

    def run(self, job: Job, attempt: int = 1, max_attempts: int = MAX_ATTEMPTS) -> Run:
        """Carry out one try of `job` and answer its run as stored afterwards.

        Raises the error of a transient (or unexpected) failure before the last attempt, so the
        queue tries again, and `JobExhausted` on the last attempt once the run is failed and
        reported, so the queue keeps the message; every other outcome is recorded on the run.
        """
        run = self._runs.mark_running(job.portal_id, job.run_id)
        if run.status == "succeeded":
            logger.info("run already succeeded; job skipped", extra={"run_id": job.run_id})
            return run
        current = Attempt(job, attempt, max_attempts, self._hubspot, self._fortnox, progress=dict(run.progress))
        try:
            current.settings = migrate(self._settings.get(job.portal_id)[0])
            result = self._do(current)
        except UserFixableError as error:
            return self._report.fail(current, error)
        except Exception as error:
            if not current.last:
                raise
            logger.exception("run failed on its last attempt", extra={"run_id": job.run_id, "attempt": attempt})
            self._report.fail(current, error)
            raise JobExhausted(f"Run {job.run_id} failed on its last try ({attempt} of {max_attempts}).") from error
        return self._runs.succeed(job.portal_id, job.run_id, result)

    def _do(self, current: Attempt) -> dict[str, Any]:
        kind = self._kinds.get(current.job.kind)
        if kind is None:
            raise BadRequestError(f"hubnox does not know the job kind {current.job.kind!r}.")
        return kind(current)
