"""The Replay pages: what a signed Replay link shows, and the replay its form asks for.

The token is signed over the run and its portal and expires (`hubnox.links`). A replay is a
new run with trigger `replay` that points at the run it replays and keeps its kind, record,
document type, print template and trigger key, so a replay of a run that made a document reports
that document instead of making another. Each link replays once: the second POST of the same link
(a double click, a reload) shows that it was used. Each run is replayed once, whichever link, bulk
replay or dead letter's retry asks (`hubnox.services.replay_claim`): a run already replayed answers
with its replay's id. A replay never completes a workflow callback: the replayed run already did, or it expired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from hubnox.errors import BadRequestError, ConnectionBrokenError, HubnoxError, NotFoundError, TransientError
from hubnox.ids import is_run_id
from hubnox.jobs import Submit
from hubnox.links import REPLAY_TTL_SECONDS, verify_replay
from hubnox.observability import logger
from hubnox.records import Run
from hubnox.services.replay_claim import ReplayClaims, live_replay, replay_once
from hubnox.signing import Signer
from hubnox.sync.ports import Connections, DealLinks, NonceClaims
from hubnox.web.render import render
from hubnox.web.responses import message_page, page

#: a used link stays used for as long as it could still be valid
USED_LINK_TTL_SECONDS = REPLAY_TTL_SECONDS + 24 * 3600
USED_LINK_KIND = "replay-link"
FRESH_LINK_HINT = "Open the newest hubnox note on the record, or its hubnox card in HubSpot, for a fresh link."

TRIGGERS = {
    "workflow": "a HubSpot workflow",
    "poller": "the deal entering a trigger stage",
    "webhook": "the deal entering a trigger stage (HubSpot's webhook)",
    "card": "the hubnox card in HubSpot",
    "replay": "a Replay",
    "settings": "the hubnox settings page",
}
OUTCOMES = {"queued": ("Waiting in the queue", ""), "running": ("Running", ""),
            "succeeded": ("Succeeded", "ok"), "failed": ("Failed", "bad")}


def describe(run: Run) -> dict[str, Any]:
    """What the pages say about a run: what it does, for which record, how it went."""
    kind = run.document_type or "document"
    what = {"create_document": f"the Fortnox {kind}", "sync_customer": "the Fortnox customer sync",
            "sync_products": "the product sync"}.get(run.kind, run.kind)
    record = f"{run.object_type} {run.object_id}" if run.object_type and run.object_id else None
    outcome, outcome_class = OUTCOMES.get(run.status, (run.status, ""))
    document = _document(run)
    if run.status == "succeeded" and run.kind == "create_document":
        explanation = (f"This run succeeded{f' and made {document}' if document else ''}. Replaying it makes no "
                       "second document: hubnox reports the one it already made.")
    elif run.status in ("queued", "running"):
        explanation = ("This run has not finished yet. Replaying it now is harmless: a deal gets at most one "
                       "document per trigger, however many runs there are.")
    else:
        explanation = "Replay runs it again with the record as it is now in HubSpot and the current hubnox settings."
    return {"what": what, "record": record, "object_word": run.object_type or "record",
            "trigger": TRIGGERS.get(run.trigger, run.trigger), "outcome": outcome, "outcome_class": outcome_class,
            "created": datetime.fromtimestamp(run.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "document": document, "explanation": explanation}


def _document(run: Run) -> str | None:
    number = run.result.get("document_number")
    if not number:
        return None
    return f"{run.result.get('document_type') or run.document_type or 'document'} {number}"


# -- the pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReplayPages:
    """The confirmation page a Replay link opens, and the replay its form posts."""

    signer: Signer
    runs: ReplayClaims
    connections: Connections
    nonces: NonceClaims
    submit: Submit
    public_base: str
    #: the deal links, to withdraw the Replay of a failure that a later run made good
    deal_links: DealLinks | None = None

    def confirm(self, run_id: str, token: str) -> Response:
        """The page that says what replaying the run would do, with a form that posts the token; changes nothing."""
        run = self.run_for(run_id, token)
        if (done := self.superseded(run)) is not None:
            return done
        return page(render("replay.html", queued=False, run=run, token=token, title="Replay this run?",
                           action=self.action_url(run_id), **describe(run)))

    def replay(self, run_id: str, token: str) -> Response:
        """Enqueue the run again, once per link, and say so; a used link gets a 409 page.

        Raises `TransientError` (the link still works) when the replay could not be queued.
        """
        run = self.run_for(run_id, token)
        if (done := self.superseded(run)) is not None:
            return done
        if (replay := live_replay(self.runs, run)) is not None:
            return self.already_replayed(replay)
        used = hashlib.sha256(token.encode()).hexdigest()
        if not self.nonces.claim(USED_LINK_KIND, used, USED_LINK_TTL_SECONDS):
            return message_page(409, "Already replayed", "This Replay link has been used: the run was queued again "
                                "then, and its outcome appears as a note in HubSpot.", FRESH_LINK_HINT)
        try:
            replayed = replay_once(self.runs, self.submit, run)
        except Exception as failure:
            self.nonces.release(USED_LINK_KIND, used)
            if isinstance(failure, HubnoxError):
                raise
            logger.exception("could not enqueue a replay", extra={"run_id": run.run_id})
            raise TransientError("hubnox could not queue the replay just now.", code="ENQUEUE_FAILED",
                                 hint="Press Replay again in a minute.") from failure
        if not replayed.queued:  # a bulk replay or another link won the run's claim meanwhile
            return self.already_replayed(replayed.run_id)
        logger.info("run replayed", extra={"run_id": replayed.run_id, "replay_of": run.run_id,
                                           "portal_id": run.portal_id})
        return page(render("replay.html", queued=True, run=run, new_run_id=replayed.run_id, title="Replay queued",
                           **describe(run)))

    @staticmethod
    def already_replayed(replay_run_id: str) -> Response:
        """The 200 page for a run that was replayed already (by another link, a bulk replay or a retry)."""
        return message_page(200, "Already replayed", f"This run was already replayed as run {replay_run_id}: "
                            "it is queued or done, and its outcome appears as a note in HubSpot.",
                            "Open the record in HubSpot for the newest hubnox note.")

    def superseded(self, run: Run) -> Response | None:
        """A page naming the document a later run made for a failed document run's deal and trigger
        (its Replay is withdrawn: there is nothing left to do), or None."""
        if (self.deal_links is None or run.status != "failed" or run.kind != "create_document"
                or not run.object_id or not run.trigger_key):
            return None
        link = self.deal_links.get(run.portal_id, run.object_id, run.trigger_key)
        if link is None or not link.document_number:
            return None
        document = f"{link.document_type or 'document'} {link.document_number}"
        return message_page(200, "Already done", f"This run failed, but deal {run.object_id} has Fortnox {document} "
                            "since: a later run made it. There is nothing left to replay.",
                            "Open the deal in HubSpot for the note with its PDF.")

    def run_for(self, run_id: str, token: str) -> Run:
        """The run a genuine, unexpired link for `run_id` names, in a portal where hubnox is installed.

        `BadRequestError` without a token, `UnauthorizedError` for a damaged, expired or foreign
        link, `NotFoundError` for a run that no longer exists, `ConnectionBrokenError` after an uninstall.
        """
        if not is_run_id(run_id):
            raise NotFoundError("This Replay link names no run hubnox makes.", code="RUN_NOT_FOUND",
                                hint=FRESH_LINK_HINT)
        if not token:
            raise BadRequestError("This Replay link is incomplete: it carries no token.", code="INCOMPLETE_LINK",
                                  hint="Copy the whole link from the note, or use the note's Replay button.")
        portal_id = verify_replay(self.signer, token, run_id)
        run = self.runs.get(portal_id, run_id)
        if run is None:
            raise NotFoundError("This run no longer exists: hubnox keeps runs for 90 days.", code="RUN_NOT_FOUND",
                                hint=FRESH_LINK_HINT)
        # The status only: the Replay function has no use of the tokens key, so it never opens tokens.
        status = self.connections.hubspot_status(portal_id)
        if status is None or status == "uninstalled":
            raise ConnectionBrokenError("HubSpot", "hubnox is no longer installed in this HubSpot portal.")
        return run

    def action_url(self, run_id: str) -> str:
        """Where the confirmation page's form posts."""
        return f"{self.public_base}/replay/{quote(run_id, safe='')}"
