"""The sync log: every run of a portal, searchable, and each run's whole story, for the portal's admin.

    GET  /settings/log                          the page (`?run=<id>` opens that run's story)
    GET  /settings/api/runs                     one page of the log, newest first: {"runs", "nextCursor"}
         ?status=queued|running|succeeded|failed &trigger=workflow|poller|card|replay|settings|
         product_sync|customer_sync &documentType=invoice|order &from=YYYY-MM-DD &to=YYYY-MM-DD
         (both UTC days, `to` included) &q=<deal name prefix, record id or document number>
         &cursor=<a page's nextCursor> &limit=1..100 (20)
    GET  /settings/api/runs/{runId}             the run's story: every try, warnings, the note, what was
                                                told where, the run it replays and the runs replaying it

Every route needs the settings session, like the rest of the settings API (`settings_page`); a run of
another portal is answered as unknown (404). A row offers its signed Replay link only when it failed
and no later run made its deal's document (`superseded`): such a failure says which run did instead.
The list without parameters answers what the settings page's "Recent runs" always had (with
`nextCursor` and the new fields beside), so the page's script keeps working unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hubnox.errors import BadRequestError, NotFoundError
from hubnox.ids import is_run_id
from hubnox.links import replay_url
from hubnox.records import DocumentType, Run, RunFilter, RunStatus
from hubnox.runlog import LOG_TRIGGERS, checked, document_type_of, record_url
from hubnox.services.settings_page import (
    OUTCOME_STEPS,
    PAGE_REPLAY_TTL_SECONDS,
    PREFIX,
    SettingsApiPorts,
    recent_runs_limit,
    run_summary,
    superseded,
)
from hubnox.sync.delivery import Outcome
from hubnox.web.render import render
from hubnox.web.responses import json_response, page
from hubnox.web.session import read_session

#: how the log names each trigger it filters on
TRIGGER_LABELS = {"workflow": "Workflow", "poller": "Deal stage", "webhook": "Deal stage (webhook)",
                  "card": "Record card", "replay": "Replay",
                  "settings": "Settings", "product_sync": "Product sync", "customer_sync": "Customer sync"}
STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Succeeded", "failed": "Failed"}
DOCUMENT_LABELS = {"invoice": "Invoice", "order": "Order"}
#: runs of the same record read to find the ones that replayed a run
REPLAYS_READ = 100
#: the filter's fields, as the log's query and the bulk replay's body name them
FILTER_FIELDS = ("status", "trigger", "documentType", "from", "to", "q")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: str, name: str) -> float:
    """Midnight UTC of a `YYYY-MM-DD` day, as epoch seconds; 400 naming `name` otherwise."""
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise BadRequestError(f"{name} must be a day written YYYY-MM-DD, e.g. 2026-11-27.",
                              code="INVALID_FILTER") from None


def read_run_filter(values: Mapping[str, Any]) -> RunFilter:
    """The filter the log's query (or the bulk replay's body, which sends the same fields) asks for:
    status, trigger, documentType, from, to (days, `to` included), q; 400 naming a wrong value."""
    wrong = [name for name in FILTER_FIELDS if values.get(name) is not None and not isinstance(values[name], str)]
    if wrong:
        raise BadRequestError(f"{', '.join(wrong)} must be text.", code="INVALID_FILTER")
    status = values.get("status") or None
    if status is not None and status not in get_args(RunStatus):
        raise BadRequestError(f"status must be one of {', '.join(get_args(RunStatus))}.", code="INVALID_FILTER")
    trigger = values.get("trigger") or None
    if trigger is not None and trigger not in LOG_TRIGGERS:
        raise BadRequestError(f"trigger must be one of {', '.join(LOG_TRIGGERS)}.", code="INVALID_FILTER")
    document_type = values.get("documentType") or None
    if document_type is not None and document_type not in get_args(DocumentType):
        raise BadRequestError(f"documentType must be one of {', '.join(get_args(DocumentType))}.",
                              code="INVALID_FILTER")
    created_from = _day(values["from"], "from") if values.get("from") else None
    # `to` names the last day shown: runs before the next midnight
    created_to = _day(values["to"], "to") + timedelta(days=1).total_seconds() if values.get("to") else None
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise BadRequestError("from must be on or before to.", code="INVALID_FILTER")
    return checked(RunFilter(status=status, trigger=trigger, document_type=document_type,
                             created_from=created_from, created_to=created_to, text=values.get("q") or None))


def read_log_query(query: dict[str, str] | None) -> tuple[RunFilter, int, str | None]:
    """The filter, page size and cursor a `GET /settings/api/runs` asks for; 400 naming a wrong value."""
    query = query or {}
    return read_run_filter(query), recent_runs_limit(query), query.get("cursor") or None


def log_trigger(run: Run) -> str:
    """The trigger the log shows: what kind of sync the run is, or how a document run was started."""
    if run.kind == "sync_products":
        return "product_sync"
    if run.kind == "sync_customer":
        return "customer_sync"
    return run.trigger


def attempts_of(run: Run) -> list[dict[str, Any]]:
    """Each try the run's history holds, oldest first: when it started and ended, how, and its error."""
    tries: list[dict[str, Any]] = []
    for entry in run.history:
        if entry.get("event") == "started" or not tries:
            tries.append({"startedAt": _iso(entry.get("at")) if entry.get("event") == "started" else None,
                          "endedAt": None, "status": "running", "errorCode": None, "errorMessage": None})
        if entry.get("event") in ("succeeded", "failed"):
            tries[-1].update(endedAt=_iso(entry.get("at")), status=entry["event"],
                             errorCode=entry.get("error_code"), errorMessage=entry.get("error_message"))
    # The history keeps the last tries only: number them back from the count of all tries.
    first = max(run.attempts - len(tries), 0) + 1
    return [{"attempt": first + index, **one} for index, one in enumerate(tries)]


def log_row(run: Run, *, app_base: str, replay: str | None, made_good_by: str | None) -> dict[str, Any]:
    """One row of the sync log: `run_summary` and what the log adds (the record's name and link, the
    customer, whether a later run made good this failure, the run replaying it, each try)."""
    customer = ({"number": run.customer_number or run.result.get("customer_number"), "name": run.customer_name}
                if run.customer_number or run.customer_name or run.result.get("customer_number") else None)
    return {
        **run_summary(run, replay),
        "documentType": document_type_of(run),
        "logTrigger": log_trigger(run),
        "triggerLabel": TRIGGER_LABELS.get(log_trigger(run), log_trigger(run)),
        "recordName": run.record_name,
        "recordUrl": record_url(app_base, run.portal_id, run.object_type, run.object_id),
        "customer": customer,
        "superseded": made_good_by is not None,
        "supersededBy": made_good_by,
        "replayOf": run.replay_of,
        # the one replay claimed for this failure (by a Replay link, a bulk replay or a dead letter's retry)
        "replayedBy": run.replayed_by,
        "history": attempts_of(run),
    }


def _iso(moment: Any) -> str | None:
    if not isinstance(moment, int | float):
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def made_good(runs: list[Run]) -> dict[str, str]:
    """Failed run id -> the run that made its deal's document: as stored on the run, else a later run of
    the same page (runs from before failures were marked)."""
    found = {run.run_id: run.superseded_by for run in runs if run.status == "failed" and run.superseded_by}
    on_page = superseded(runs)
    for run in runs:
        if run.run_id in on_page and run.run_id not in found:
            later = [other for other in runs if other.status == "succeeded" and other.run_id > run.run_id
                     and (other.object_id, other.trigger_key) == (run.object_id, run.trigger_key)]
            found[run.run_id] = min(later, key=lambda other: other.run_id).run_id
    return found


def delivery_steps(run: Run) -> list[dict[str, Any]]:
    """Each step of the run's outcome and how far it got: told, given up, or waiting."""
    outcome = Outcome.of(run)
    names = ([("note", "note")] if outcome.note else []) + [(update.name, update.name) for update in outcome.updates]
    names += [("callback", "callback")] if outcome.callback else []
    steps = []
    for name, key in dict.fromkeys(names):
        if f"gave_up:{key}" in run.progress:
            state, detail = "gave_up", run.progress[f"gave_up:{key}"]
        elif f"told:{key}" in run.progress:
            state, detail = "told", None
        else:
            state, detail = ("waiting" if run.delivery == "pending" else "not_told"), None
        steps.append({"step": name, "label": OUTCOME_STEPS.get(name, name), "state": state, "detail": detail})
    return steps


def run_story(run: Run, row: dict[str, Any], replays: list[Run]) -> dict[str, Any]:
    """Everything the log knows of one run, for its story page."""
    outcome = Outcome.of(run)
    warnings = run.result.get("warning_messages")
    if warnings is None and isinstance(run.result.get("warnings"), list):
        warnings = run.result["warnings"]
    note = None
    if outcome.note is not None:
        note = {"html": outcome.note.body, "objectType": outcome.note.object_type,
                "objectId": outcome.note.object_id, "attachments": len(outcome.note.attachments),
                "noteId": run.progress.get("told:note")}
    return {
        "run": row,
        "attempts": row["history"],
        "warnings": [str(warning) for warning in warnings or []],
        "note": note,
        "delivery": {"state": run.delivery, "steps": delivery_steps(run)},
        "result": {key: value for key, value in run.result.items() if key != "warning_messages"},
        "replayOf": run.replay_of,
        "replays": [{"runId": other.run_id, "status": other.status, "createdAt": _iso(other.created_at)}
                    for other in sorted(replays, key=lambda other: other.run_id)],
    }


def sync_log_router(ports: SettingsApiPorts) -> APIGatewayHttpRouter:
    """The log's page and API routes. Include it after `settings_api_router` and before
    `settings_page_router`, whose catch-all answers API routes that do not exist."""
    router = APIGatewayHttpRouter()

    def portal() -> str:
        return read_session(ports.signer, ports.sessions, router.current_event.cookies).portal_id

    def replay(portal_id: str, run: Run, made_good_by: str | None) -> str | None:
        # A replayed failure is replayed again through its replay's own row, if that one fails too.
        if run.status != "failed" or made_good_by is not None or run.replayed_by is not None:
            return None
        return replay_url(ports.signer, ports.config.public_base, portal_id, run.run_id, PAGE_REPLAY_TTL_SECONDS)

    def rows(portal_id: str, runs: list[Run]) -> list[dict[str, Any]]:
        good = made_good(runs)
        return [log_row(run, app_base=ports.config.hubspot_auth_url,
                        replay=replay(portal_id, run, good.get(run.run_id)), made_good_by=good.get(run.run_id))
                for run in runs]

    @router.get(f"{PREFIX}/runs")
    def runs_page() -> Response:
        portal_id = portal()
        run_filter, limit, cursor = read_log_query(router.current_event.query_string_parameters)
        found = ports.runs.search(portal_id, run_filter, limit=limit, cursor=cursor)
        return json_response({"runs": rows(portal_id, found.runs), "nextCursor": found.next_cursor})

    @router.get(f"{PREFIX}/runs/<run_id>")
    def run_page(run_id: str) -> Response:
        portal_id = portal()
        if not is_run_id(run_id):
            raise BadRequestError("runId must be a run id as the log lists them.", code="INVALID_ID")
        run = ports.runs.get(portal_id, run_id)
        if run is None:
            raise NotFoundError(f"Portal {portal_id} has no run {run_id}.", code="RUN_NOT_FOUND")
        nearby = ports.runs.search(portal_id, RunFilter(text=run.object_id) if run.object_id
                                   else RunFilter(trigger=log_trigger(run)), limit=REPLAYS_READ).runs
        replays = [other for other in nearby if other.replay_of == run.run_id]
        good = made_good([run, *[other for other in nearby if other.run_id != run.run_id]])
        row = log_row(run, app_base=ports.config.hubspot_auth_url,
                      replay=replay(portal_id, run, good.get(run.run_id)), made_good_by=good.get(run.run_id))
        return json_response(run_story(run, row, replays))

    @router.get("/settings/log")
    def log_page() -> Response:
        session = read_session(ports.signer, ports.sessions, router.current_event.cookies)
        return page(render("sync_log.html", base=ports.config.public_base, session=session,
                           statuses=STATUS_LABELS, triggers={t: TRIGGER_LABELS[t] for t in LOG_TRIGGERS},
                           document_types=DOCUMENT_LABELS))

    return router
