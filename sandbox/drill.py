"""`python -m sandbox.drill`: the fault drill of "nothing lost", against a fresh local stack.

N deals of one portal are triggered at once by workflows (the HubSpot simulator's signed executions
to the workflow-action route), stage moves (HubSpot's webhook, or a poller tick where the plan
fails the webhook request) and card clicks ("Create invoice now" or
an order, through the card actions route), several triggers of one deal at once among them. Faults
go in while the worker works, in waves tied to its invocations: Fortnox and HubSpot 5xx, 429
bursts, timeouts after a create took effect, revoked and expired tokens, malformed answers, an
outage of one deal's reads or of one callback's completion, the worker killed between an effect
and its report, and duplicate SQS deliveries. Every fault is bounded, so the drill drains until the
stack is quiet and then checks what HubSpot, Fortnox, the run log and the dead-letter queue say:

- duplicates: a deal with two live documents of one type in Fortnox;
- lost: a trigger without a final run (or answered by a run of another document type), a workflow
  not completed, a failed run without its failure note, a document without its success note, a
  run's outcome missing from the deal's properties;
- untruthful: the newest note about a document type contradicts Fortnox, a success note names a
  document Fortnox does not hold, a workflow told the opposite of its run's outcome, two identical
  notes for one document;
- unexplained DLQ: a dead-letter message that is not a failed run with its failure note (or a run
  that succeeded after all, found by asking Fortnox once it could answer).

The plan (deals, triggers, faults) comes from `--seed` alone; where the faults land depends on
timing. The stack runs in this process, as `python -m sandbox up` would start it, so the drill can
kill the worker mid-job and see its queue. Exit status 0 when duplicates, lost, untruthful and
unexplained DLQ are all 0.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.admin import (
    AdminBrowser,
    connect_fortnox,
    flush_webhooks,
    inject_webhook_faults,
    install_hubnox,
    page_data,
    pause_webhooks,
    resume_webhooks,
    seeder_token,
    webhook_deliveries,
)

HTTP_TIMEOUT = 30.0
#: hubnox's own HTTP timeout during the drill: short, so a `timeout_after` costs little wall time
HUBNOX_HTTP_TIMEOUT = 2.0
#: how long a `timeout_after` fault holds its answer: past hubnox's timeout
TIMEOUT_AFTER_SECONDS = HUBNOX_HTTP_TIMEOUT + 1.5
TRIGGER_STAGE = "closedwon"
STAGE_DOCUMENT_TYPE = "order"
CRM = "/crm/objects/2026-03"
DEAL_TO_CONTACT = 3
LINE_ITEM_TO_DEAL = 20
LINE_ITEMS = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT"},
)
#: the trigger kinds a deal may get, each with its document type
TRIGGER_KINDS = (("workflow", "invoice"), ("workflow", "order"), ("card", "invoice"), ("card", "order"),
                 ("stage", STAGE_DOCUMENT_TYPE))
#: fault kinds and their weights in a plan
FAULT_WEIGHTS = {
    "fortnox_5xx": 14, "fortnox_429": 8, "fortnox_timeout_after": 5, "fortnox_malformed": 5,
    "fortnox_revoked": 3, "fortnox_expired": 3,
    "hubspot_5xx": 14, "hubspot_429": 8, "hubspot_malformed": 5, "hubspot_revoked": 3, "hubspot_expired": 3,
    "deal_read_outage": 6, "callback_outage": 6, "note_write_5xx": 5,
    "worker_killed": 6, "duplicate_delivery": 6,
}
#: the share of stage moves whose webhook request HubSpot sees fail (503): HubSpot retries it a
#: minute or more later, so the poller is what finds those deals, and the late retry must add nothing
WEBHOOK_FAILURE_SHARE = 0.4
#: what finds a stage move: HubSpot's webhook or, when that is late or failed, the poller
STAGE_TRIGGERS = ("webhook", "poller")
SUCCESS_NOTE = re.compile(r"Fortnox (invoice|order) (\S+?)</strong>")
FAILURE_NOTE = re.compile(r"hubnox could not")
NOTE_RUN_ID = re.compile(r"\(run ([0-9A-Z]{26})\)")


# -- the plan --------------------------------------------------------------------------------------


@dataclass
class PlannedTrigger:
    index: int
    deal: int  # the deal's index in the plan
    source: str  # workflow, card or stage
    document_type: str
    redeliver: bool = False  # HubSpot delivers the same execution a second time
    webhook_fails: bool = False  # a stage move whose webhook request fails: the poller must find it


@dataclass
class PlannedFault:
    kind: str
    wave: int
    spec: dict[str, Any] = field(default_factory=dict)  # a simulator fault, where it is one
    target: int | None = None  # the deal or workflow trigger an outage is aimed at


@dataclass
class Plan:
    seed: int
    deals: int
    triggers: list[PlannedTrigger]
    faults: list[PlannedFault]
    waves: int


def make_plan(seed: int, deals: int, faults: int) -> Plan:
    """The drill's deals, triggers and faults, from the seed alone."""
    rng = random.Random(seed)
    triggers: list[PlannedTrigger] = []
    for deal in range(deals):
        count = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        for source, document_type in rng.sample(TRIGGER_KINDS, count):
            triggers.append(PlannedTrigger(len(triggers), deal, source, document_type,
                                           redeliver=source == "workflow" and rng.random() < 0.1))
    workflows = [t.index for t in triggers if t.source == "workflow"] or [0]
    # Waves are spent over the first third of the worker's invocations, so traffic meets them all.
    waves = max(2, len(triggers) // 3)
    kinds = list(FAULT_WEIGHTS)
    planned: list[PlannedFault] = []
    for _ in range(faults):
        kind = rng.choices(kinds, weights=[FAULT_WEIGHTS[k] for k in kinds])[0]
        # Wave 0 is in place before the triggers; wave 1 goes in right after them, with the outages
        # aimed at one deal or one callback (so they meet their target's first try).
        wave = 1 if kind in ("callback_outage", "deal_read_outage") else rng.randrange(waves + 1)
        target = rng.choice(workflows) if kind == "callback_outage" else (
            rng.randrange(deals) if kind == "deal_read_outage" else None)
        planned.append(PlannedFault(kind, wave, fault_spec(kind, rng), target))
    planned.sort(key=lambda f: f.wave)
    # Drawn last, so the triggers and faults above stay what they were for a seed.
    for trigger in triggers:
        if trigger.source == "stage":
            trigger.webhook_fails = rng.random() < WEBHOOK_FAILURE_SHARE
    return Plan(seed, deals, triggers, planned, waves)


def fault_spec(kind: str, rng: random.Random) -> dict[str, Any]:
    """The simulator fault for a kind (the outages get their path when they go in)."""
    fortnox_paths = r"/3/(invoices|orders|customers|articles)(/.*)?"
    hubspot_paths = r"/(crm|files|automation)/.*"
    if kind == "fortnox_5xx":
        return {"kind": "status", "status": rng.choice((500, 502, 503)), "path": fortnox_paths}
    if kind == "fortnox_429":
        return {"kind": "status", "status": 429, "path": r"/3/.*", "times": rng.randint(2, 6)}
    if kind == "fortnox_timeout_after":
        return {"kind": "timeout_after", "method": "POST", "path": r"/3/(invoices|orders)",
                "seconds": TIMEOUT_AFTER_SECONDS}
    if kind == "fortnox_malformed":
        return {"kind": "malformed", "path": fortnox_paths}
    if kind == "fortnox_revoked":
        return {"kind": "revoke", "path": r"/3/.*"}
    if kind == "hubspot_5xx":
        return {"kind": "status", "status": rng.choice((500, 502, 503)), "path": hubspot_paths}
    if kind == "hubspot_429":
        return {"kind": "status", "status": 429, "path": hubspot_paths, "times": rng.randint(2, 6)}
    if kind == "hubspot_malformed":
        return {"kind": "malformed", "path": hubspot_paths}
    if kind == "hubspot_revoked":
        return {"kind": "revoke", "path": rf"{CRM}/.*"}
    if kind == "note_write_5xx":
        return {"kind": "status", "status": 503, "method": "POST", "path": rf"{CRM}/notes",
                "times": rng.randint(1, 4)}
    if kind == "deal_read_outage":
        return {"kind": "status", "status": 503, "method": "GET", "times": rng.randint(3, 8)}
    if kind == "callback_outage":
        return {"kind": "status", "status": rng.choice((500, 503)), "method": "POST", "times": rng.randint(3, 10)}
    return {}  # token expiry, kills and duplicate deliveries are done by the drill itself


# -- what the drill saw ----------------------------------------------------------------------------


@dataclass
class FiredTrigger:
    planned: PlannedTrigger
    deal_id: str
    accepted: bool = False
    callback_id: str | None = None
    run_id: str | None = None
    answer: str = ""


@dataclass
class Counts:
    deals: int = 0
    triggers: int = 0
    triggers_refused: int = 0
    faults_planned: int = 0
    faults_injected: int = 0
    runs_succeeded: int = 0
    runs_failed: int = 0
    documents: int = 0
    duplicates: int = 0
    lost: int = 0
    untruthful: int = 0
    dlq: int = 0
    dlq_unexplained: int = 0
    stage_runs_by_webhook: int = 0
    stage_runs_by_poller: int = 0

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.untruthful or self.dlq_unexplained)


@dataclass
class Findings:
    """What the checks found, by category, each with its examples."""

    counts: Counts = field(default_factory=Counts)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    faults_by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [planned, injected]

    def add(self, total: str, category: str, detail: str, n: int = 1) -> None:
        setattr(self.counts, total, getattr(self.counts, total) + n)
        self.problems[f"{total}: {category}"].append(detail)


# -- the checks: pure, over what the stack holds at the end ----------------------------------------


@dataclass
class Note:
    id: int
    body: str
    kind: str  # success, failure or other
    document_type: str | None = None
    document_number: str | None = None
    run_id: str | None = None


def read_note(note_id: int, body: str) -> Note:
    """A hubnox note as the checks read it: a success names its document, a failure its run."""
    success = SUCCESS_NOTE.search(body)
    if success:
        return Note(note_id, body, "success", success.group(1), html.unescape(success.group(2)))
    if FAILURE_NOTE.search(body):
        run = NOTE_RUN_ID.search(body)
        return Note(note_id, body, "failure", run_id=run.group(1) if run else None)
    return Note(note_id, body, "other")


Run = Mapping[str, Any]
#: (deal id, document type) -> the numbers of its live (not cancelled) Fortnox documents
Live = Mapping[tuple[str, str], list[str]]


def check(findings: Findings, *, triggers: Sequence[FiredTrigger], runs: Sequence[Run],
          callbacks: Sequence[Mapping[str, Any]], notes: Mapping[str, Sequence[Note]],
          deals: Mapping[str, Mapping[str, Any]], documents: Sequence[Mapping[str, Any]],
          dead_letters: Sequence[str]) -> None:
    """Count duplicates, lost, untruthful and unexplained dead letters (see the module's docstring).

    `runs` are the portal's runs (as stored), `callbacks` the HubSpot simulator's executions,
    `notes` each deal's notes oldest first, `deals` each deal's properties, `documents` the
    Fortnox company's invoices and orders (each with `type`), `dead_letters` the DLQ's bodies."""
    counts = findings.counts
    by_id = {str(r["run_id"]): r for r in runs}
    live: dict[tuple[str, str], list[str]] = defaultdict(list)
    for document in documents:
        if not document.get("Cancelled"):
            live[(str(document.get("ExternalInvoiceReference1")), document["type"])].append(
                str(document["DocumentNumber"]))
    counts.documents = sum(len(v) for k, v in live.items() if k[0] in deals)
    runs_of_deal: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.get("kind") == "create_document" and str(run.get("object_id")) in deals:
            runs_of_deal[str(run["object_id"])].append(run)
            counts.runs_succeeded += run.get("status") == "succeeded"
            counts.runs_failed += run.get("status") == "failed"
    executions = {str(c["callbackId"]): c for c in callbacks}
    for fired in triggers:
        _check_trigger(findings, fired, runs, by_id, runs_of_deal, executions, live)
    for deal_id, properties in deals.items():
        deal_notes = [n for n in notes.get(deal_id, []) if n.kind != "other"]
        _check_documents(findings, deal_id, deal_notes, by_id, live)
        _check_runs(findings, deal_id, deal_notes, runs_of_deal.get(deal_id, []), live)
        _deal_properties(findings, deal_id, properties, runs_of_deal.get(deal_id, []), live)
    _check_dead_letters(findings, dead_letters, by_id, notes)


def _check_trigger(findings: Findings, fired: FiredTrigger, runs: Sequence[Run], by_id: Mapping[str, Run],
                   runs_of_deal: Mapping[str, list[Run]], executions: Mapping[str, Mapping[str, Any]],
                   live: Live) -> None:
    """An accepted trigger has a final run of its document type; a workflow was told its outcome."""
    what = f"deal {fired.deal_id} {fired.planned.source}:{fired.planned.document_type}"
    if fired.planned.source == "card":
        if not fired.accepted:  # the rep saw the refusal on the card at once: not lost, but shown
            findings.counts.triggers_refused += 1
            findings.problems["refused: card click answered without a run"].append(f"{what}: {fired.answer}")
            return
        clicked = by_id.get(fired.run_id or "")
        if clicked is None:
            findings.add("lost", "card click answered with no run", f"{what}: {fired.answer}")
        else:
            _final_run(findings, what, clicked, fired.planned.document_type)
        return
    if fired.planned.source == "stage":
        if not fired.accepted:  # the drill could not move the deal: no trigger happened
            findings.counts.triggers_refused += 1
            findings.problems["refused: stage move not made"].append(f"{what}: {fired.answer}")
            return
        mine = [r for r in runs_of_deal.get(fired.deal_id, []) if r.get("trigger") in STAGE_TRIGGERS
                and r.get("document_type") == fired.planned.document_type]
        if not mine:
            findings.add("lost", "stage move without a run", what)
        else:
            _final_run(findings, what, max(mine, key=lambda r: str(r["run_id"])), fired.planned.document_type)
        return
    execution = executions.get(fired.callback_id or "")
    if execution is None:
        findings.add("lost", "workflow execution missing", f"{what}: {fired.answer}")
        return
    if execution["state"] != "COMPLETED":
        last = (execution.get("deliveries") or [{}])[-1]
        findings.add("lost", f"workflow left {execution['state']}",
                     f"{what} callback {fired.callback_id}: last delivery {last.get('status')} "
                     f"{json.dumps(last.get('body'))[:160]} {last.get('error') or ''}")
        return
    run = next((r for r in runs if r.get("callback_id") == fired.callback_id), None)
    told = execution.get("executionState")
    if run is None:
        if told != "FAIL_CONTINUE":
            findings.add("lost", "workflow completed without a run", f"{what} {execution}")
        return
    _final_run(findings, what, run, fired.planned.document_type)
    if run.get("status") in ("succeeded", "failed") and told != (
            "SUCCESS" if run["status"] == "succeeded" else "FAIL_CONTINUE"):
        findings.add("untruthful", "workflow told the opposite of its run",
                     f"{what}: run {run['run_id']} {run['status']}, workflow {told}")
    number = (execution.get("outputFields") or {}).get("documentNumber")
    if told == "SUCCESS" and str(number) not in live.get((fired.deal_id, fired.planned.document_type), []):
        findings.add("untruthful", "workflow told a document Fortnox does not hold", f"{what}: {number}")


def _check_documents(findings: Findings, deal_id: str, deal_notes: Sequence[Note], by_id: Mapping[str, Run],
                     live: Live) -> None:
    """One document per type, each with its success note; the newest note about a type tells the
    truth; no note names a document Fortnox does not hold; no identical notes for one document."""
    for document_type in ("invoice", "order"):
        numbers = live.get((deal_id, document_type), [])
        if len(numbers) > 1:
            findings.add("duplicates", f"two or more {document_type}s",
                         f"deal {deal_id}: {', '.join(numbers)}", len(numbers) - 1)
        for number in numbers:
            if not any(n.kind == "success" and n.document_type == document_type
                       and n.document_number == number for n in deal_notes):
                findings.add("lost", "document without a success note", f"deal {deal_id} {document_type} {number}")
        about = [n for n in deal_notes if _note_type(n, by_id) == document_type]
        if about and about[-1].kind == "failure" and numbers:
            findings.add("untruthful", "newest note says failure, Fortnox holds the document",
                         f"deal {deal_id} {document_type} {numbers}, note {about[-1].id}")
        if about and about[-1].kind == "success" and not numbers:
            findings.add("untruthful", "newest note says success, Fortnox holds no document",
                         f"deal {deal_id} {document_type} note {about[-1].id}")
    for note in deal_notes:
        if note.kind == "success" and note.document_number not in live.get((deal_id, note.document_type or ""), []):
            findings.add("untruthful", "success note names a document Fortnox does not hold",
                         f"deal {deal_id} {note.document_type} {note.document_number} note {note.id}")
    bodies = Counter((n.document_type, n.document_number, n.body) for n in deal_notes if n.kind == "success")
    for (kind, named, _), seen in bodies.items():
        if seen > 1:
            findings.add("untruthful", "identical notes for one document",
                         f"deal {deal_id} {kind} {named}: {seen} notes", seen - 1)


def _check_runs(findings: Findings, deal_id: str, deal_notes: Sequence[Note], runs: Sequence[Run],
                live: Live) -> None:
    """A failed run has its failure note; a succeeded run names a document Fortnox holds."""
    for run in runs:
        if run.get("status") == "failed" and not any(n.kind == "failure" and n.run_id == run["run_id"]
                                                     for n in deal_notes):
            findings.add("lost", "failed run without a failure note",
                         f"deal {deal_id} run {run['run_id']} {run.get('trigger')} {run.get('error_code')}")
        if run.get("status") == "succeeded":
            number = str((run.get("result") or {}).get("document_number", ""))
            if number and number not in live.get((deal_id, str(run.get("document_type"))), []):
                findings.add("untruthful", "succeeded run names a document Fortnox does not hold",
                             f"deal {deal_id} run {run['run_id']} {number}")


def _check_dead_letters(findings: Findings, dead_letters: Sequence[str], by_id: Mapping[str, Run],
                        notes: Mapping[str, Sequence[Note]]) -> None:
    """Every dead letter is a failed run whose failure note is on its record, or a run that succeeded
    after all (Fortnox, asked later, had its document: a redrive of it does nothing)."""
    findings.counts.dlq = len(dead_letters)
    for body in dead_letters:
        run: Run | None = None
        with contextlib.suppress(ValueError, AttributeError):
            run = by_id.get(str(json.loads(body).get("run_id")))
        explained = run is not None and (run.get("status") == "succeeded" or (run.get("status") == "failed" and any(
            n.kind == "failure" and n.run_id == run["run_id"] for n in notes.get(str(run.get("object_id")), []))))
        if not explained:
            findings.counts.dlq_unexplained += 1
            findings.problems["dlq: unexplained message"].append(
                f"{body[:200]} (run {run.get('status') if run else 'missing'})")


def _final_run(findings: Findings, what: str, run: Mapping[str, Any], document_type: str) -> None:
    if run.get("status") not in ("succeeded", "failed"):
        findings.add("lost", f"trigger's run left {run.get('status')}", f"{what} run {run.get('run_id')}")
    elif run.get("document_type") != document_type:
        findings.add("lost", "trigger answered by a run of another document type",
                     f"{what} run {run.get('run_id')} is {run.get('document_type')}")


def _note_type(note: Note, runs: Mapping[str, Mapping[str, Any]]) -> str | None:
    if note.kind == "success":
        return note.document_type
    run = runs.get(note.run_id or "")
    return str(run["document_type"]) if run and run.get("document_type") else None


def _deal_properties(findings: Findings, deal_id: str, properties: Mapping[str, Any],
                     runs: Sequence[Mapping[str, Any]], live: Mapping[tuple[str, str], list[str]]) -> None:
    """The newest finished run's outcome is what the deal's Fortnox properties say."""
    done = [r for r in runs if r.get("status") in ("succeeded", "failed") and r.get("finished_at")]
    if not done:
        return
    newest = max(done, key=lambda r: float(r["finished_at"]))
    if newest["status"] == "succeeded":
        number = str((newest.get("result") or {}).get("document_number", ""))
        if number and str(properties.get("fortnox_document_number") or "") != number:
            findings.add("lost", "deal properties miss the newest run's document",
                         f"deal {deal_id} run {newest['run_id']} {number}, property "
                         f"{properties.get('fortnox_document_number')}")
    elif properties.get("fortnox_sync_status") != "failed" and not any(
            live.get((deal_id, t)) for t in ("invoice", "order")):
        findings.add("lost", "deal properties miss the newest run's failure",
                     f"deal {deal_id} run {newest['run_id']} sync status {properties.get('fortnox_sync_status')}")


# -- faults the drill itself does: a killed worker, a duplicate delivery --------------------------


class WorkerKilled(BaseException):
    """The worker's process died mid-job: nothing after this point of the job runs."""


class WorkerHooks:
    """Wraps the local worker: each invocation first puts in the next wave of faults; a job may be
    delivered twice; and an armed kill stops the worker right after Fortnox made a document or
    HubSpot took a note (the effect done, its report not), failing the whole invocation as Lambda
    does when its process dies."""

    def __init__(self, worker: Any, *, fortnox_url: str, hubspot_url: str, next_wave: Callable[[], None],
                 resend: Callable[[Mapping[str, Any]], None]) -> None:
        self.worker = worker
        self.fortnox_url = fortnox_url.rstrip("/")
        self.hubspot_url = hubspot_url.rstrip("/")
        self.next_wave = next_wave
        self.resend = resend
        self.kills_armed = 0
        self.duplicates_armed = 0
        self.kills = 0
        self.duplicates = 0
        self._lock = threading.Lock()
        self._in_worker = threading.local()
        self._invoke = worker.invoke
        self._handle: Any = None

    def install(self) -> None:
        self.worker.invoke = self.invoke
        self._handle = httpx.HTTPTransport.handle_request
        hooks = self

        def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            response = hooks._handle(transport, request)
            if getattr(hooks._in_worker, "on", False) and hooks._is_effect(request, response):
                with hooks._lock:
                    if hooks.kills_armed <= 0:
                        return response
                    hooks.kills_armed -= 1
                    hooks.kills += 1
                response.read()
                response.close()
                raise WorkerKilled(f"{request.method} {request.url.path}")
            return response

        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        self.worker.invoke = self._invoke
        if self._handle is not None:
            httpx.HTTPTransport.handle_request = self._handle  # type: ignore[method-assign]

    def _is_effect(self, request: httpx.Request, response: httpx.Response) -> bool:
        if request.method != "POST" or response.status_code >= 300:
            return False
        url = str(request.url)
        return ((url.startswith(self.fortnox_url) and re.fullmatch(r"/3/(invoices|orders)", request.url.path)
                 is not None) or (url.startswith(self.hubspot_url) and request.url.path == f"{CRM}/notes"))

    def invoke(self, event: Any) -> Any:
        self.next_wave()
        for record in event.get("Records", []):
            with self._lock:
                again = self.duplicates_armed > 0
                if again:
                    self.duplicates_armed -= 1
                    self.duplicates += 1
            if again:
                self.resend(record)
        self._in_worker.on = True
        try:
            return self._invoke(event)
        except WorkerKilled as killed:
            raise RuntimeError(f"the worker was killed mid-job after {killed}") from None
        finally:
            self._in_worker.on = False


# -- the drill ---------------------------------------------------------------------------------------


class DrillError(Exception):
    """The drill could not set itself up or read the stack back."""


class Drill:
    """One drill against a local stack started in this process."""

    def __init__(self, plan: Plan, *, timeout: float, out: Callable[[str], None] = print) -> None:
        self.plan = plan
        self.timeout = timeout
        self.out = out
        self.stack: Any = None
        self.http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.portal_id = ""
        self.tenant_id = ""
        self.deal_ids: list[str] = []
        self.fired: list[FiredTrigger] = []
        self.waves: list[list[PlannedFault]] = [[] for _ in range(plan.waves + 1)]
        for fault in plan.faults:
            self.waves[fault.wave].append(fault)
        self.next_wave_index = 0
        self.injected: list[tuple[PlannedFault, str, int]] = []  # fault, simulator, fault id
        self.done_by_drill: Counter[str] = Counter()
        self.hooks: WorkerHooks | None = None
        self._wave_lock = threading.Lock()

    # -- the stack ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def running_stack(self) -> Iterator[None]:
        from sandbox.stack import start_stack

        steering = ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL")
        saved = {name: os.environ.pop(name) for name in steering if name in os.environ}
        saved_timeout = os.environ.get("HTTP_TIMEOUT_SECONDS")
        os.environ["HTTP_TIMEOUT_SECONDS"] = str(HUBNOX_HTTP_TIMEOUT)
        self.stack = start_stack(0, poll_interval=24 * 3600, stack_name="hubnox-drill")
        try:
            # The drill feeds the worker itself: only then do its faults, kills and drains line up.
            self.stack.aws.feeder.stop()
            yield
        finally:
            if self.hooks is not None:
                self.hooks.uninstall()
            self.stack.stop()
            os.environ.update(saved)
            if saved_timeout is None:
                os.environ.pop("HTTP_TIMEOUT_SECONDS", None)
            else:
                os.environ["HTTP_TIMEOUT_SECONDS"] = saved_timeout

    def call(self, method: str, url: str, expect: tuple[int, ...] = (200,), **options: Any) -> httpx.Response:
        response = self.http.request(method, url, **options)
        if response.status_code not in expect:
            raise DrillError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response

    # -- set-up ------------------------------------------------------------------------------------

    def set_up(self) -> None:
        """A portal seeded with the plan's deals (through the simulator's seeding, which no rate
        limit slows), hubnox installed into it, a Fortnox company connected, a trigger stage set."""
        objects: dict[str, list[dict[str, Any]]] = {"contacts": [], "deals": [], "line_items": []}
        for i in range(self.plan.deals):
            objects["contacts"].append({"ref": f"c{i}", "properties": {
                "firstname": "Drill", "lastname": f"Buyer {i}",
                "email": f"buyer{i}@drill{self.plan.seed}-{i}.example.se"}})
            objects["deals"].append({"ref": f"d{i}", "properties": {
                "dealname": f"Drill deal {i}", "pipeline": "default", "dealstage": "appointmentscheduled",
                "deal_currency_code": "SEK"}, "associations": [{"to": f"c{i}", "typeId": DEAL_TO_CONTACT}]})
            objects["line_items"] += [{"properties": dict(item), "associations": [
                {"to": f"d{i}", "typeId": LINE_ITEM_TO_DEAL}]} for item in LINE_ITEMS]
        portal = self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/portals", (201,),
                           json={"objects": objects}).json()
        self.portal_id = str(portal["portalId"])
        self.deal_ids = [str(portal["refs"][f"d{i}"]) for i in range(self.plan.deals)]
        browser = AdminBrowser(timeout=HTTP_TIMEOUT)
        try:
            install_hubnox(browser, self.stack.gateway_url, portal_id=self.portal_id)
            page = connect_fortnox(browser, self.stack.gateway_url)
        finally:
            browser.close()
        self.tenant_id = page_data(page, "fortnox-tenant")
        from hubnox.store.portal_settings import SettingsStore

        SettingsStore(self.table()).put(self.portal_id, {"trigger_stages": [
            {"pipeline_id": "default", "stage_id": TRIGGER_STAGE, "document_type": STAGE_DOCUMENT_TYPE}]}, 0)
        self.hooks = WorkerHooks(self.stack.aws.functions["worker"], fortnox_url=self.stack.fortnox_api_url,
                                 hubspot_url=self.stack.hubspot_api_url, next_wave=self.next_wave,
                                 resend=self.resend)
        self.hooks.install()

    def table(self) -> Any:
        from hubnox.store.table import Table

        return Table(self.stack.aws.client("dynamodb"), self.stack.environment["TABLE_NAME"])

    # -- faults ------------------------------------------------------------------------------------

    def next_wave(self) -> None:
        """Put in the next wave of faults (once per worker invocation, and wave 0 before the triggers)."""
        with self._wave_lock:
            if self.next_wave_index >= len(self.waves):
                return
            wave = self.waves[self.next_wave_index]
            self.next_wave_index += 1
        for fault in wave:
            self.inject(fault)

    def inject(self, fault: PlannedFault) -> None:
        stack = self.stack
        assert self.hooks is not None
        if fault.kind in ("fortnox_expired", "hubspot_expired"):
            url, body = ((stack.fortnox_api_url, {"tenantId": self.tenant_id}) if fault.kind == "fortnox_expired"
                         else (stack.hubspot_api_url, {"portalId": int(self.portal_id)}))
            self.call("POST", f"{url}/_sandbox/tokens/expire", json=body)
            self.done_by_drill[fault.kind] += 1
            return
        if fault.kind == "worker_killed":
            with self.hooks._lock:
                self.hooks.kills_armed += 1
            return
        if fault.kind == "duplicate_delivery":
            with self.hooks._lock:
                self.hooks.duplicates_armed += 1
            return
        spec = dict(fault.spec)
        if fault.kind == "deal_read_outage":
            spec["path"] = rf"{CRM}/(0-3|deals)/{self.deal_ids[fault.target or 0]}"
        if fault.kind == "callback_outage":
            callback = next((f.callback_id for f in self.fired if f.planned.index == fault.target), None)
            if not callback:
                return  # its workflow was never accepted: nothing to aim at
            spec["path"] = rf"/automation/actions/callbacks/[^/]+/{re.escape(callback)}/complete"
        simulator = "fortnox" if fault.kind.startswith("fortnox") else "hubspot"
        url = stack.fortnox_api_url if simulator == "fortnox" else stack.hubspot_api_url
        made = self.call("POST", f"{url}/_sandbox/faults", (201,), json=spec).json()
        self.injected.append((fault, simulator, int(made["id"])))

    def resend(self, record: Mapping[str, Any]) -> None:
        """SQS delivering a job twice: the same body sent to the jobs queue again."""
        attributes = {name: {"DataType": value.get("dataType", "String"), "StringValue": value.get("stringValue", "")}
                      for name, value in (record.get("messageAttributes") or {}).items()}
        self.stack.aws.client("sqs").send_message(
            QueueUrl=self.stack.environment["JOBS_QUEUE_URL"], MessageBody=record["body"],
            MessageAttributes=attributes)

    # -- triggers ----------------------------------------------------------------------------------

    def fire(self) -> None:
        """Every trigger of the plan at once: workflow executions, card clicks, and stage moves that
        HubSpot's webhooks report or, where the plan fails their webhook request, the poller's next
        tick finds. The moves are made before any fault is in place: they are the rep's edits, not
        hubnox's work, and must not spend faults meant for hubnox."""
        self.fired = [FiredTrigger(t, self.deal_ids[t.deal]) for t in self.plan.triggers]
        seeder = seeder_token(self.stack.hubspot_api_url, self.portal_id)
        moves = [f for f in self.fired if f.planned.source == "stage"]
        others = [f for f in self.fired if f.planned.source != "stage"]
        hubspot = self.stack.hubspot_api_url
        with ThreadPoolExecutor(max_workers=24) as pool:
            # Webhooks held back, so each group's events go out in requests of their own: the first
            # group's requests fail (HubSpot retries them later), the second's arrive.
            pause_webhooks(hubspot)
            try:
                for fails in (True, False):
                    group = [f for f in moves if f.planned.webhook_fails == fails]
                    list(pool.map(lambda fired: self._fire_one(fired, seeder), group))
                    queued = len(webhook_deliveries(hubspot, portal_id=self.portal_id, state="QUEUED"))
                    if fails and queued:
                        inject_webhook_faults(hubspot, fail_next=queued, fail_status=503)
                        self.done_by_drill["webhook_5xx"] += len(group)  # moves, as planned
                    flush_webhooks(hubspot)
            finally:
                resume_webhooks(hubspot)
            self.next_wave()  # wave 0
            list(pool.map(lambda fired: self._fire_one(fired, seeder), others))
        stage_deals = {f.deal_id for f in self.fired if f.planned.source == "stage"}
        for _ in range(10):  # the poller's ticks, until each moved deal has its run (a tick may meet faults)
            with contextlib.suppress(Exception):
                self.stack.aws.tick()
            have = {str(r.get("object_id")) for r in self.runs() if r.get("trigger") in STAGE_TRIGGERS}
            if stage_deals <= have:
                break
        self.next_wave()  # wave 1: the outages aimed at one deal or one callback

    def _fire_one(self, fired: FiredTrigger, seeder: str) -> None:
        planned, gateway = fired.planned, self.stack.gateway_url
        try:
            if planned.source == "workflow":
                spec = {"portalId": int(self.portal_id), "clientId": self.stack.environment["HUBSPOT_CLIENT_ID"],
                        "objectType": "DEAL", "objectId": fired.deal_id,
                        "inputFields": {"documentType": planned.document_type},
                        "actionUrl": f"{gateway}/hubspot/actions/create-document", "objectProperties": ["dealname"]}
                answer = self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/workflows/enroll", json=spec).json()
                fired.callback_id = answer["callbackId"]
                fired.accepted = True
                fired.answer = f"{answer['status']} {answer['state']}"
                if planned.redeliver:
                    self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/workflows/enroll", json={
                        "portalId": int(self.portal_id), "clientId": spec["clientId"], "callbackId": fired.callback_id})
            elif planned.source == "card":
                query = urlencode({"objectType": "0-3", "objectId": fired.deal_id})
                answer = self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/cards/fetch", json={
                    "portalId": int(self.portal_id), "appId": int(self.stack.environment["HUBSPOT_APP_ID"]),
                    "method": "POST", "body": {"documentType": planned.document_type},
                    "url": f"{gateway}/hubspot/card/actions/create-document?{query}"}).json()
                body = answer.get("body") if isinstance(answer.get("body"), dict) else {}
                fired.answer = f"{answer.get('status')} {json.dumps(body)[:200]}"
                fired.run_id = body.get("runId")
                fired.accepted = answer.get("status") == 200 and bool(body.get("ok")) and bool(fired.run_id)
            else:
                for wait in (0.0, 1.0, 2.0, 4.0, 8.0):
                    time.sleep(wait)
                    moved = self.http.patch(f"{self.stack.hubspot_api_url}{CRM}/0-3/{fired.deal_id}",
                                            headers={"Authorization": f"Bearer {seeder}"},
                                            json={"properties": {"dealstage": TRIGGER_STAGE}})
                    if moved.status_code == 200:
                        fired.accepted = True
                        break
                    fired.answer = f"{moved.status_code} {moved.text[:200]}"
        except (httpx.HTTPError, DrillError, KeyError, ValueError) as exc:
            fired.answer = f"{type(exc).__name__}: {exc}"

    # -- draining ----------------------------------------------------------------------------------

    def drain_until_quiet(self) -> dict[str, Any]:
        """Feed the worker and let HubSpot retry its executions until nothing moves any more (or
        the drill's time is up): the queue empty with nothing in flight or delayed, twice in a row."""
        feeder = self.stack.aws.feeder
        deadline = time.monotonic() + self.timeout
        quiet, rounds = 0, 0
        while time.monotonic() < deadline:
            rounds += 1
            try:
                drained = feeder.drain(timeout=max(1.0, deadline - time.monotonic()))
                retried = self.retry_executions()
                depths = self.depths()
            except Exception as exc:  # local AWS or a simulator stumbled: the stack's trouble, not hubnox's
                self.out(f"drill: draining met {type(exc).__name__}: {str(exc)[:200]}; going on")
                time.sleep(1.0)
                quiet = 0
                continue
            busy = any(depths.values()) or retried or drained.get("received")
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:
                return {"rounds": rounds, "timed_out": False, **depths}
            if not drained.get("received"):
                time.sleep(0.5)  # delayed messages (a backoff, a follow-up) become visible in time
        return {"rounds": rounds, "timed_out": True, **self.depths()}

    def retry_executions(self) -> int:
        """HubSpot retrying the executions it would retry (5xx, timeouts, 429 after Retry-After)."""
        callbacks = self.call("GET", f"{self.stack.hubspot_api_url}/_sandbox/callbacks",
                              params={"portalId": self.portal_id}).json()["callbacks"]
        retried = 0
        for execution in callbacks:
            if execution["state"] == "RETRY_SCHEDULED":
                answer = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/workflows/retry",
                                        json={"callbackId": execution["callbackId"]})
                retried += answer.status_code == 200
        return retried

    def depths(self) -> dict[str, int]:
        sqs = self.stack.aws.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        found = sqs.get_queue_attributes(QueueUrl=self.stack.environment["JOBS_QUEUE_URL"],
                                         AttributeNames=names)["Attributes"]
        return {"jobs": int(found.get(names[0], 0)), "in_flight": int(found.get(names[1], 0)),
                "delayed": int(found.get(names[2], 0))}

    # -- reading the stack back ----------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        from hubnox.store.runs import RunStore

        return [run.model_dump() for run in RunStore(self.table(), clock=time.time).list_recent(
            self.portal_id, limit=1_000_000)]

    def dead_letters(self) -> list[str]:
        sqs = self.stack.aws.client("sqs")
        url = self.stack.aws.resources.dlq_url
        seen: dict[str, str] = {}
        empty = 0
        while empty < 2:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                           WaitTimeSeconds=0).get("Messages", [])
            empty = 0 if messages else empty + 1
            seen.update({m["MessageId"]: m["Body"] for m in messages})
        return list(seen.values())

    def faults_by_kind(self) -> dict[str, list[int]]:
        hits: dict[tuple[str, int], int] = {}
        for simulator, url in (("fortnox", self.stack.fortnox_api_url), ("hubspot", self.stack.hubspot_api_url)):
            for fault in self.call("GET", f"{url}/_sandbox/faults").json()["faults"]:
                hits[(simulator, int(fault["id"]))] = int(fault["hits"])
        table: dict[str, list[int]] = {kind: [0, 0] for kind in FAULT_WEIGHTS}
        for fault in self.plan.faults:
            table[fault.kind][0] += 1
        for fault, simulator, fault_id in self.injected:
            table[fault.kind][1] += hits.get((simulator, fault_id), 0) > 0
        table["webhook_5xx"] = [sum(t.webhook_fails for t in self.plan.triggers if t.source == "stage"), 0]
        for kind, n in self.done_by_drill.items():
            table[kind][1] += n
        assert self.hooks is not None
        table["worker_killed"][1] = self.hooks.kills
        table["duplicate_delivery"][1] = self.hooks.duplicates
        return table

    def findings(self) -> Findings:
        findings = Findings()
        findings.faults_by_kind = self.faults_by_kind()
        for simulator_url in (self.stack.fortnox_api_url, self.stack.hubspot_api_url):
            self.call("DELETE", f"{simulator_url}/_sandbox/faults", (204,))
        dump = self.call("GET", f"{self.stack.hubspot_api_url}/_sandbox/portals/{self.portal_id}").json()
        objects = dump["objects"]
        note_bodies = {str(n["id"]): str((n.get("properties") or {}).get("hs_note_body") or "")
                       for n in objects["notes"]}
        ours = set(self.deal_ids)
        deals = {str(d["id"]): d.get("properties") or {} for d in objects["deals"] if str(d["id"]) in ours}
        notes: dict[str, list[Note]] = {}
        for deal in objects["deals"]:
            linked = (deal.get("associations") or {}).get("notes", {}).get("results", [])
            ids = sorted({str(link.get("id") or link.get("toObjectId")) for link in linked}, key=int)
            notes[str(deal["id"])] = [read_note(int(i), note_bodies[i]) for i in ids if i in note_bodies]
        company = self.call("GET", f"{self.stack.fortnox_api_url}/_sandbox/companies/{self.tenant_id}").json()
        documents = [{**d, "type": "invoice"} for d in company.get("Invoices") or []] + [
            {**d, "type": "order"} for d in company.get("Orders") or []]
        callbacks = self.call("GET", f"{self.stack.hubspot_api_url}/_sandbox/callbacks",
                              params={"portalId": self.portal_id}).json()["callbacks"]
        counts = findings.counts
        counts.deals = self.plan.deals
        counts.triggers = len(self.fired)
        counts.faults_planned = len(self.plan.faults)
        counts.faults_injected = sum(injected for _, injected in findings.faults_by_kind.values())
        runs = self.runs()
        check(findings, triggers=self.fired, runs=runs, callbacks=callbacks, notes=notes, deals=deals,
              documents=documents, dead_letters=self.dead_letters())
        stage = Counter(str(r.get("trigger")) for r in runs if r.get("trigger") in STAGE_TRIGGERS)
        counts.stage_runs_by_webhook, counts.stage_runs_by_poller = stage["webhook"], stage["poller"]
        return findings


def report(findings: Findings, *, drained: Mapping[str, Any], seconds: float, out: Callable[[str], None],
           examples: int = 5) -> None:
    """Print the counts, the faults by kind and a few examples of each problem."""
    c = findings.counts
    out("faults by kind (planned / injected): " + ", ".join(
        f"{kind} {planned}/{injected}" for kind, (planned, injected) in findings.faults_by_kind.items()))
    out(f"drain: {dict(drained)}")
    out(f"stage moves found by HubSpot's webhook: {c.stage_runs_by_webhook}, by the poller: {c.stage_runs_by_poller}")
    for category, details in sorted(findings.problems.items()):
        out(f"  {category}: {len(details)}")
        for detail in details[:examples]:
            out(f"    - {detail}")
    out(f"drill: deals {c.deals}, triggers {c.triggers} ({c.triggers_refused} refused at once), "
        f"faults injected {c.faults_injected} (planned {c.faults_planned}), runs {c.runs_succeeded} succeeded "
        f"/ {c.runs_failed} failed, documents {c.documents}, duplicates {c.duplicates}, lost {c.lost}, "
        f"untruthful {c.untruthful}, DLQ {c.dlq} ({c.dlq_unexplained} unexplained) "
        f"in {seconds:.0f} s: {'OK' if c.clean else 'FAILED'}")


@contextlib.contextmanager
def stack_output_to(log_path: str) -> Iterator[Callable[[str], None]]:
    """Send everything this process writes to stdout and stderr (the functions' logs and metrics,
    the simulators') to `log_path`; answers a printer for the drill's own lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield lambda line: print(line, file=terminal, flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def run_drill(*, deals: int, faults: int, seed: int, timeout: float, out: Callable[[str], None] = print,
              json_path: str | None = None) -> Findings:
    """Plan, set up, fire, drain, check and report one drill; answers its findings."""
    started = time.monotonic()
    plan = make_plan(seed, deals, faults)
    out(f"drill: seed {seed}, {deals} deals, {len(plan.triggers)} triggers, {len(plan.faults)} faults "
        f"in {plan.waves + 1} waves")
    drill = Drill(plan, timeout=timeout, out=out)
    with drill.running_stack():
        drill.set_up()
        drill.fire()
        out(f"drill: triggers fired in {time.monotonic() - started:.0f} s; draining until quiet")
        drained = drill.drain_until_quiet()
        findings = drill.findings()
    seconds = time.monotonic() - started
    report(findings, drained=drained, seconds=seconds, out=out)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"counts": asdict(findings.counts), "faults": findings.faults_by_kind,
                       "problems": findings.problems, "drain": dict(drained), "seconds": seconds}, handle, indent=2)
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=120)
    parser.add_argument("--faults", type=int, default=360)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds the drain may take before the drill counts what is unfinished")
    parser.add_argument("--json", dest="json_path", help="also write the counts and problems to this file")
    parser.add_argument("--log", help="where the stack's own logs go (default: a temporary file)")
    args = parser.parse_args(argv)
    # Each fault costs hubnox a second or two of its own retries, each deal a few Fortnox calls at 5 a second.
    timeout = args.timeout if args.timeout is not None else max(300.0, 8.0 * args.deals + 3.0 * args.faults)
    log_path = args.log or os.path.join(tempfile.mkdtemp(prefix="hubnox-drill-"), "stack.log")
    print(f"drill: the stack's logs go to {log_path}", flush=True)
    with stack_output_to(log_path) as out:
        try:
            findings = run_drill(deals=args.deals, faults=args.faults, seed=args.seed, timeout=timeout,
                                 json_path=args.json_path, out=out)
        except DrillError as failure:
            out(f"drill: could not run: {failure}")
            return 2
    return 0 if findings.counts.clean else 1


if __name__ == "__main__":
    sys.exit(main())
