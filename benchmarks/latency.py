"""Trigger to draft and trigger to note with a fixed delay on every API call of both simulators.

Each simulator's `PUT /_sandbox/latency` makes every API request (OAuth included) wait before it is
handled, without shadowing faults. A warm-up deal first creates the company's customer and articles
without the delay, so the measured deals are later deals. Then the deals go one at a time, so the
figure is a deal's own latency and not the queue's: t0 is the moment before the HubSpot simulator
sends the signed workflow-action request, the draft exists when the Fortnox simulator has answered
the document's create request (`done_at` of `POST /3/invoices` carrying the deal id), the note when
the HubSpot simulator has answered the note's create. The simulators and this code share the
process's monotonic clock.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Protocol

#: the delay the issue asks for, per API call
INJECTED_SECONDS = 0.3


class StackBench(Protocol):
    """What this benchmark needs of `benchmarks.__main__.Bench`."""

    stack: Any
    http: Any

    def portal(self, lines: int, deals: int) -> tuple[str, str, list[str]]: ...

    def enroll(self, portal_id: str, deal_id: str) -> str: ...

    def drain(self) -> None: ...

    def completed(self, callback_id: str) -> dict[str, Any]: ...


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: a value that was measured, not one interpolated between two."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _last_id(bench: StackBench, url: str) -> int:
    requests = bench.http.get(f"{url}/_sandbox/requests").json()["requests"]
    return int(requests[-1]["id"]) if requests else 0


def _since(bench: StackBench, url: str, mark: int) -> list[dict[str, Any]]:
    return list(bench.http.get(f"{url}/_sandbox/requests", params={"since": mark}).json()["requests"])


def _carries(body: str, key: str, deal_id: str) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    document = (data.get("Invoice") or data.get("Order") or {}) if isinstance(data, dict) else {}
    return isinstance(document, dict) and str(document.get(key, "")) == deal_id


def draft_done(fortnox: list[dict[str, Any]], deal_id: str) -> float | None:
    """When the Fortnox simulator answered the create of the deal's document (its deal reference)."""
    for r in fortnox:
        if (r["method"] == "POST" and r["path"] in ("/3/invoices", "/3/orders") and r["status"] < 300
                and (_carries(r["body"], "ExternalInvoiceReference1", deal_id))):
            return float(r["done_at"])
    return None


def note_done(hubspot: list[dict[str, Any]], deal_id: str) -> float | None:
    """When the HubSpot simulator answered the create of a note associated with the deal."""
    for r in hubspot:
        if r["method"] == "POST" and r["path"].rstrip("/").endswith("/notes") and r["status"] < 300:
            try:
                associations = json.loads(r["body"]).get("associations", [])
            except (ValueError, AttributeError):
                continue
            if any(str(a.get("to", {}).get("id")) == deal_id for a in associations):
                return float(r["done_at"])
    return None


def set_latency(bench: StackBench, seconds: float) -> None:
    for url in (bench.stack.hubspot_api_url, bench.stack.fortnox_api_url):
        answer = bench.http.put(f"{url}/_sandbox/latency", json={"seconds": seconds})
        answer.raise_for_status()


def measure(bench: StackBench, deals: int, seconds: float = INJECTED_SECONDS, lines: int = 5) -> dict[str, Any]:
    """`deals` later deals of one company, one at a time, with `seconds` on every API call."""
    portal_id, _, deal_ids = bench.portal(lines, deals + 1)
    bench.completed(_run(bench, portal_id, deal_ids[0]))  # warm-up: the customer and articles now exist
    hubspot_url, fortnox_url = bench.stack.hubspot_api_url, bench.stack.fortnox_api_url
    to_draft: list[float] = []
    to_note: list[float] = []
    set_latency(bench, seconds)
    try:
        for deal_id in deal_ids[1:]:
            marks = _last_id(bench, hubspot_url), _last_id(bench, fortnox_url)
            started = time.monotonic()
            bench.completed(_run(bench, portal_id, deal_id))
            draft = draft_done(_since(bench, fortnox_url, marks[1]), deal_id)
            note = note_done(_since(bench, hubspot_url, marks[0]), deal_id)
            if draft is None or note is None:
                raise AssertionError(f"deal {deal_id}: no draft or note in the simulators' logs")
            to_draft.append(draft - started)
            to_note.append(note - started)
    finally:
        set_latency(bench, 0.0)
    return {"deals": deals, "injected_seconds": seconds, "lines": lines,
            "draft": {"p50": percentile(to_draft, 0.5), "p95": percentile(to_draft, 0.95), "all": to_draft},
            "note": {"p50": percentile(to_note, 0.5), "p95": percentile(to_note, 0.95), "all": to_note}}


def _run(bench: StackBench, portal_id: str, deal_id: str) -> str:
    callback_id = bench.enroll(portal_id, deal_id)
    bench.drain()
    return callback_id
