"""The scale test of instant triggers and polling: many deals across many portals moved into trigger
stages, some seen by webhook only, some by the poller only, some by both at once, and every one must
become exactly one Fortnox document and exactly one run per deal and rule.

    python -m sandbox.scale --portals 20 --deals 2000 [--json result.json]

It starts the local stack (simulators, local AWS, the gateway running every function; the jobs queue
fed to the worker in the background as Lambda's event source does) unless given one, seeds the
portals through the HubSpot simulator's seeding (no rate limit slows the set-up), installs hubnox and
connects a Fortnox company per portal, and sets one trigger stage per portal (even portals make
invoices, odd ones orders). Deals are split in thirds:

- **webhook**: moved as a person in HubSpot does; the simulator's webhook delivers the change;
- **both**: moved the same way while the poller's tick runs at the same moment, so the webhook and
  the poll race for the same deal;
- **poller**: moved with webhook delivery paused and their events then dropped (a lost webhook), so
  only the poller's next tick (driven by hand, not by the 2-minute schedule) finds them.

Trigger-to-draft time is measured from the move in the simulator to the worker's create request
reaching the Fortnox simulator (its request log, on the same clock). Then the poller ticks once more
and the webhooks are flushed (the late arrivals for deals already handled), the queue is drained, and
the Fortnox companies and the run log are read back. It exits 1 when a deal has no document, two
documents, a document of the wrong type, or not exactly one run for its rule.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, page_data
from sandbox.common import RequestLog
from sandbox.drill import stack_output_to
from sandbox.hubspot_webhooks import QUEUED, RETRY_SCHEDULED

TRIGGER_STAGE = "closedwon"
HTTP_TIMEOUT = 60.0
#: Fortnox: 25 requests per 5 s per tenant; HubSpot: 110 per 10 s per portal (private app burst)
FORTNOX_LIMIT, FORTNOX_WINDOW = 25, 5.0
HUBSPOT_LIMIT, HUBSPOT_WINDOW = 110, 10.0
POLL_SCHEDULE_SECONDS = 120
PATHS = ("webhook", "both", "poller")
#: a tick through the local gateway polls every portal; under a big backlog it takes minutes
TICK_TIMEOUT, TICK_ATTEMPTS = 600.0, 3
LINE_ITEMS = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT"},
)
DEAL_TO_CONTACT, LINE_ITEM_TO_DEAL = 3, 20
#: deals moved a second, across all portals: a steady stream of people moving deals. A webhook event
#: costs the one-process local stack about 0.1 s of CPU (seven DynamoDB and SQS calls through boto3
#: and moto), so much faster than this, or all at once (0, a bulk edit of thousands), outruns it and
#: its answers pass HubSpot's 5 s webhook timeout (see README, "Triggers at scale")
MOVE_RATE = 3.0


class ScaleError(Exception):
    """The stack could not be set up or did not answer as the test needs."""


@dataclass
class Deal:
    portal_id: str
    tenant_id: str
    deal_id: str
    document_type: str
    path: str
    moved_at: float = 0.0
    ticked_at: float = 0.0
    draft_at: float | None = None


@dataclass
class Result:
    portals: int
    deals: int
    by_path: dict[str, int]
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong_type: list[str] = field(default_factory=list)
    runs_not_one: list[str] = field(default_factory=list)
    documents: int = 0
    runs: int = 0
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    drain: dict[str, dict[str, float]] = field(default_factory=dict)
    calls_per_deal: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.wrong_type or self.runs_not_one)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of the values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(share * len(ordered))) - 1)]


def _simulators(stack: Any) -> tuple[Any, Any]:
    """The HubSpot and Fortnox simulators the stack serves in this process."""
    apps = {server.url: server.server.app for server in stack.servers}
    try:
        return apps[stack.hubspot_api_url], apps[stack.fortnox_api_url]
    except KeyError:
        raise ScaleError("the scale test needs the stack's own simulators (unset HUBSPOT_API_URL and "
                         "FORTNOX_API_URL)") from None


class Scale:
    """One scale run over a started stack (`sandbox.stack.Stack`)."""

    def __init__(self, stack: Any, *, portals: int, deals: int, out: Callable[[str], None] = print,
                 timeout: float = 3600.0, move_rate: float = MOVE_RATE) -> None:
        if portals < 1 or deals < portals:
            raise ScaleError("at least one portal, and at least as many deals as portals")
        if move_rate < 0:
            raise ScaleError("the move rate is deals a second, 0 for all at once")
        self.stack, self.portals, self.total, self.out, self.timeout = stack, portals, deals, out, timeout
        self.move_rate = move_rate
        self.http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.hubspot, self.fortnox = _simulators(stack)
        self.deals: list[Deal] = []
        self._creates_seen = 0

    def call(self, method: str, url: str, expect: tuple[int, ...] = (200,), **options: Any) -> httpx.Response:
        response = self.http.request(method, url, **options)
        if response.status_code not in expect:
            raise ScaleError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response

    # -- set-up ------------------------------------------------------------------------------------

    def set_up(self) -> None:
        """Each portal seeded with its share of deals, hubnox installed, a Fortnox company connected
        and one trigger stage; the simulators' request logs made long enough for the whole run."""
        from hubnox.store.portal_settings import SettingsStore

        settings = SettingsStore(self.table())
        per_portal: list[list[Deal]] = []
        for p in range(self.portals):
            count = self.total // self.portals + (1 if p < self.total % self.portals else 0)
            objects: dict[str, list[dict[str, Any]]] = {"contacts": [], "deals": [], "line_items": []}
            for i in range(count):
                objects["contacts"].append({"ref": f"c{i}", "properties": {
                    "firstname": "Scale", "lastname": f"Buyer {p}-{i}", "email": f"buyer{p}-{i}@scale.example.se"}})
                objects["deals"].append({"ref": f"d{i}", "properties": {
                    "dealname": f"Scale deal {p}-{i}", "pipeline": "default", "dealstage": "appointmentscheduled",
                    "deal_currency_code": "SEK"}, "associations": [{"to": f"c{i}", "typeId": DEAL_TO_CONTACT}]})
                objects["line_items"] += [{"properties": dict(item), "associations": [
                    {"to": f"d{i}", "typeId": LINE_ITEM_TO_DEAL}]} for item in LINE_ITEMS]
            portal = self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/portals", (201,),
                               json={"objects": objects}).json()
            portal_id = str(portal["portalId"])
            browser = AdminBrowser(timeout=HTTP_TIMEOUT)
            try:
                install_hubnox(browser, self.stack.gateway_url, portal_id=portal_id)
                tenant_id = page_data(connect_fortnox(browser, self.stack.gateway_url), "fortnox-tenant")
            finally:
                browser.close()
            document_type = "invoice" if p % 2 == 0 else "order"
            settings.put(portal_id, {"trigger_stages": [
                {"pipeline_id": "default", "stage_id": TRIGGER_STAGE, "document_type": document_type}]}, 0)
            per_portal.append([Deal(portal_id, tenant_id, str(portal["refs"][f"d{i}"]), document_type, PATHS[i % 3])
                               for i in range(count)])
        # Portals take turns: each is its own company with its own people moving deals, so the moves
        # (and the jobs queue) interleave them rather than finishing one portal before the next.
        self.deals = [deal for turn in itertools.zip_longest(*per_portal) for deal in turn if deal is not None]
        longest = 40 * self.total + 10_000
        self.hubspot.log = RequestLog(longest)
        self.fortnox.log = RequestLog(longest)

    def table(self) -> Any:
        from hubnox.store.table import Table

        return Table(self.stack.aws.client("dynamodb"), self.stack.environment["TABLE_NAME"])

    # -- triggers ----------------------------------------------------------------------------------

    def move(self, deal: Deal) -> None:
        """The deal into the trigger stage, as a person in HubSpot moves it (a CRM_UI change)."""
        deal.moved_at = time.monotonic()
        self.call("PATCH", f"{self.stack.hubspot_api_url}/_sandbox/portals/{deal.portal_id}/objects/deals/"
                           f"{deal.deal_id}", json={"properties": {"dealstage": TRIGGER_STAGE}})

    def move_all(self, deals: Sequence[Deal]) -> None:
        """Move the deals at `move_rate` a second (all at once when it is 0), eight at a time."""

        def paced(item: tuple[int, Deal]) -> None:
            index, deal = item
            if self.move_rate:
                time.sleep(max(0.0, started + index / self.move_rate - time.monotonic()))
            self.move(deal)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(paced, enumerate(deals)))

    def tick(self) -> dict[str, Any]:
        """One poller tick through the gateway: the schedule's dispatch, then every poll message. A
        tick that fails (the local stack overloaded: its AWS is one process) is tried again, as the
        schedule's next tick would."""
        for attempt in range(TICK_ATTEMPTS):
            try:
                return dict(self.call("POST", f"{self.stack.gateway_url}/_sandbox/poller/tick",
                                      timeout=TICK_TIMEOUT).json()["result"])
            except (ScaleError, httpx.HTTPError) as exc:
                if attempt == TICK_ATTEMPTS - 1:
                    raise ScaleError(f"the poller's tick failed {TICK_ATTEMPTS} times: {exc}") from exc
                self.out(f"scale: a tick failed ({str(exc)[:200]}); ticking again")
        raise AssertionError("unreachable")

    def drop_events(self, deals: Sequence[Deal]) -> int:
        """Forget the queued webhook events of these deals: HubSpot lost them."""
        wanted = {int(d.deal_id) for d in deals}
        dispatcher, dropped = self.hubspot.webhooks, 0
        with dispatcher.lock:
            for batch in dispatcher.batches.values():
                if batch.state not in (QUEUED, RETRY_SCHEDULED):
                    continue
                kept = [e for e in batch.events if e.get("objectId") not in wanted]
                dropped += len(batch.events) - len(kept)
                batch.events = kept
        return dropped

    def watch_drafts(self, deals: Sequence[Deal], budget: float) -> float:
        """Wait until each deal's create request reached Fortnox (or the budget is spent); answers the
        seconds waited. The create's moment is the draft's: the simulator logs it on the same clock."""
        by_deal = {d.deal_id: d for d in deals}
        started = time.monotonic()
        while time.monotonic() - started < budget:
            for entry in self.fortnox.log.entries()[self._creates_seen:]:
                self._creates_seen += 1
                if entry.method != "POST" or entry.path not in ("/3/invoices", "/3/orders"):
                    continue
                try:
                    document = next(iter(json.loads(entry.body).values()))
                except (ValueError, StopIteration, AttributeError):
                    continue
                deal = by_deal.get(str(document.get("ExternalInvoiceReference1") or ""))
                if deal is not None and deal.draft_at is None:
                    deal.draft_at = entry.at
            if all(d.draft_at is not None for d in deals):
                break
            time.sleep(0.2)
        return time.monotonic() - started

    def run(self) -> Result:
        started = time.monotonic()
        self.out(f"scale: {self.portals} portals, {self.total} deals; setting up")
        self.set_up()
        rate = f"{self.move_rate:g} a second" if self.move_rate else "all at once"
        self.out(f"scale: set up in {time.monotonic() - started:.0f} s; moving deals, {rate}")
        groups = {path: [d for d in self.deals if d.path == path] for path in PATHS}
        api_mark = self._api_counts()

        # Webhooks, and the race: the "both" deals move while a tick runs.
        phase = time.monotonic()
        self.move_all(groups["webhook"])
        racing = threading.Thread(target=self._tick_quietly, name="scale-racing-tick")
        racing.start()
        self.move_all(groups["both"])
        racing.join()
        self.tick()  # the "both" deals the racing tick did not see yet, found by the poller now
        self.watch_drafts(groups["webhook"] + groups["both"], self.timeout)
        webhook_drain = time.monotonic() - phase

        # The poller alone: webhooks held back, their events lost.
        self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/hubspot/webhooks/pause")
        try:
            self.move_all(groups["poller"])
            dropped = self.drop_events(groups["poller"])
            phase = time.monotonic()
            for deal in groups["poller"]:
                deal.ticked_at = phase
            self.tick()
        finally:
            self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/hubspot/webhooks/resume")
        self.watch_drafts(groups["poller"], self.timeout)
        poll_drain = time.monotonic() - phase

        # Afterwards: another tick and every webhook still queued, then the queue drained.
        self.tick()
        self.call("POST", f"{self.stack.hubspot_api_url}/_sandbox/hubspot/webhooks/flush")
        self.call("POST", f"{self.stack.gateway_url}/_sandbox/worker/drain", json={"timeout": 300}, timeout=330)
        calls = self._api_counts(since=api_mark)

        result = self.check(groups)
        result.latency = {
            "webhook": self._latency([d.draft_at - d.moved_at for d in groups["webhook"] if d.draft_at]),
            "both": self._latency([d.draft_at - d.moved_at for d in groups["both"] if d.draft_at]),
            "poller (processing, from the tick)": self._latency(
                [d.draft_at - d.ticked_at for d in groups["poller"] if d.draft_at]),
        }
        result.drain = {
            "webhook + both": self._drain(webhook_drain, len(groups["webhook"]) + len(groups["both"])),
            "poller": self._drain(poll_drain, len(groups["poller"])),
        }
        result.calls_per_deal = {name: round(count / max(1, len(self.deals)), 2) for name, count in calls.items()}
        result.calls_per_deal["webhook events dropped"] = dropped
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _tick_quietly(self) -> None:
        try:
            self.tick()
        except (ScaleError, httpx.HTTPError) as exc:
            self.out(f"scale: the racing tick failed: {exc}")

    def _api_counts(self, since: dict[str, int] | None = None) -> dict[str, int]:
        """API requests (not OAuth, not the control surface) each simulator logged, less `since`."""
        counts = {}
        for name, sim in (("hubspot", self.hubspot), ("fortnox", self.fortnox)):
            counts[name] = sum(1 for e in sim.log.entries() if not e.path.startswith(("/oauth", "/_sandbox")))
        return {name: value - (since or {}).get(name, 0) for name, value in counts.items()}

    @staticmethod
    def _latency(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2),
                "max": round(max(values, default=0.0), 2)}

    def _drain(self, seconds: float, deals: int) -> dict[str, float]:
        """The drain's time next to the least the rate limits allow for its calls, portals in parallel."""
        per_portal = deals / self.portals
        fortnox = self._per_deal("fortnox") * per_portal / FORTNOX_LIMIT * FORTNOX_WINDOW
        hubspot = self._per_deal("hubspot") * per_portal / HUBSPOT_LIMIT * HUBSPOT_WINDOW
        return {"deals": deals, "seconds": round(seconds, 1), "fortnox_floor": round(fortnox, 1),
                "hubspot_floor": round(hubspot, 1)}

    def _per_deal(self, name: str) -> float:
        total = self._api_counts()[name]
        return total / max(1, len(self.deals))

    # -- checks ------------------------------------------------------------------------------------

    def check(self, groups: dict[str, list[Deal]]) -> Result:
        from hubnox.store.runs import RunStore

        result = Result(self.portals, len(self.deals), {path: len(deals) for path, deals in groups.items()})
        runs = RunStore(self.table(), clock=time.time)
        for portal_id in sorted({d.portal_id for d in self.deals}):
            mine = [d for d in self.deals if d.portal_id == portal_id]
            company = self.call("GET", f"{self.stack.fortnox_api_url}/_sandbox/companies/{mine[0].tenant_id}").json()
            documents = {kind: Counter(str(doc.get("ExternalInvoiceReference1")) for doc in company.get(key) or []
                                       if not doc.get("Cancelled"))
                         for kind, key in (("invoice", "Invoices"), ("order", "Orders"))}
            per_rule = Counter((run.object_id, run.trigger_key)
                               for run in runs.list_recent(portal_id, limit=1_000_000))
            result.runs += sum(per_rule.values())
            for deal in mine:
                have = documents[deal.document_type][deal.deal_id]
                other = documents["order" if deal.document_type == "invoice" else "invoice"][deal.deal_id]
                result.documents += have + other
                label = f"{deal.portal_id}/{deal.deal_id} ({deal.path})"
                if have == 0:
                    result.missing.append(label)
                elif have > 1:
                    result.duplicated.append(label)
                if other:
                    result.wrong_type.append(label)
                rule = f"stage:{TRIGGER_STAGE}:{deal.document_type}"
                if per_rule[(deal.deal_id, rule)] != 1:
                    result.runs_not_one.append(f"{label}: {per_rule[(deal.deal_id, rule)]} runs")
        return result


def report(result: Result, out: Callable[[str], None] = print) -> None:
    out(f"\nScale: {result.portals} portals, {result.deals} deals "
        f"({', '.join(f'{n} {p}' for p, n in result.by_path.items())}) in {result.seconds:.0f} s")
    out(f"  documents {result.documents}, runs {result.runs}; missing {len(result.missing)}, "
        f"duplicated {len(result.duplicated)}, wrong type {len(result.wrong_type)}, "
        f"not one run per deal and rule {len(result.runs_not_one)}")
    for name in ("missing", "duplicated", "wrong_type", "runs_not_one"):
        for example in getattr(result, name)[:5]:
            out(f"    {name}: {example}")
    out("\n| trigger | deals | to draft p50 | p95 | max |\n| --- | ---: | ---: | ---: | ---: |")
    for name, figures in result.latency.items():
        out(f"| {name} | {figures['n']:.0f} | {figures['p50']:.2f} s | {figures['p95']:.2f} s | "
            f"{figures['max']:.2f} s |")
    out(f"\nPolling adds the schedule's wait: {POLL_SCHEDULE_SECONDS // 2} s expected, up to "
        f"{POLL_SCHEDULE_SECONDS} s, before the processing above.")
    out("\n| backlog | deals | drained in | Fortnox floor (25 / 5 s per tenant) "
        "| HubSpot floor (110 / 10 s per portal) |\n| --- | ---: | ---: | ---: | ---: |")
    for name, figures in result.drain.items():
        out(f"| {name} | {figures['deals']:.0f} | {figures['seconds']:.1f} s | {figures['fortnox_floor']:.1f} s | "
            f"{figures['hubspot_floor']:.1f} s |")
    calls = result.calls_per_deal
    out(f"\nAPI calls per deal (whole run, retries and polls included): HubSpot {calls.get('hubspot')}, "
        f"Fortnox {calls.get('fortnox')}; webhook events dropped for the poller-only deals: "
        f"{calls.get('webhook events dropped')}")
    out(f"scale: {'OK' if result.ok else 'FAILED'}")


def run_scale(*, portals: int, deals: int, timeout: float, out: Callable[[str], None] = print,
              move_rate: float = MOVE_RATE) -> Result:
    """Start a stack of its own, run the scale test on it, stop it."""
    from sandbox.stack import start_stack

    steering = ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL")
    saved = {name: os.environ.pop(name) for name in steering if name in os.environ}
    stack = start_stack(0, poll_interval=24 * 3600, stack_name="hubnox-scale")
    try:
        return Scale(stack, portals=portals, deals=deals, out=out, timeout=timeout, move_rate=move_rate).run()
    finally:
        stack.stop()
        os.environ.update(saved)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--portals", type=int, default=20)
    parser.add_argument("--deals", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds each phase may wait for drafts")
    parser.add_argument("--move-rate", type=float, default=MOVE_RATE,
                        help=f"deals moved a second across all portals, 0 for all at once (default {MOVE_RATE:g})")
    parser.add_argument("--json", help="write the result to this file")
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "hubnox-scale-stack.log"),
                        help="where the stack's own output (the functions' logs and metrics) goes")
    args = parser.parse_args(argv)
    print(f"scale: the stack's logs go to {args.log}", flush=True)
    with stack_output_to(args.log) as out:
        try:
            result = run_scale(portals=args.portals, deals=args.deals, timeout=args.timeout, out=out,
                               move_rate=args.move_rate)
        except ScaleError as exc:
            out(f"scale: {exc}")
            return 2
        report(result, out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({**asdict(result), "ok": result.ok}, handle, indent=2)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
