"""`python -m benchmarks.drain`: how fast a backlog of deals drains against Fortnox's rate limit.

Fortnox allows 25 requests per 5 s per integration and company, so a backlog of deals whose calls
number N can drain no faster than N / 5 seconds. This benchmark seeds portals whose customer and
article already exist in Fortnox (one warm-up deal each), triggers every deal at once (enrolled in
the create-document workflow, or moved into a trigger stage so HubSpot's webhook reports it) while
the worker's event source is held, so the jobs queue holds the whole backlog, then lets the workers
start, and measures, from the simulators' request logs (the calls Fortnox would count):

- the seconds from the workers' start until every deal's draft exists in Fortnox;
- per company: its Fortnox calls, their rate over the drain (the workers' start to its last call),
  that rate as a share of 5 calls/s, the most calls any 5 s held, and the 429s it answered; its
  HubSpot calls over the same span, and which limit's floor is the higher for those calls.

`--live` triggers while the workers run instead, timed from the first trigger: on this one-process
stack the triggers' own work (about 0.1 s of CPU a webhook event) then slows the drain's start.

`measure_drain(stack, deals, portals)` runs on a started stack (`sandbox.stack.start_stack`) or
starts one of its own. Run alone it prints a table; the stack's logs go to a file
(`sandbox.drill.stack_output_to`), so the table is not interleaved with them.

Everything runs in this one process: the gateway and the functions, both simulators and moto. The
machine's load changes the figures, so the table names it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from benchmarks.report import tenths
from hubnox.hubspot.properties import ORGANISATION_NUMBER_PROPERTY

#: Fortnox's limit: requests per window per integration and company
FORTNOX_LIMIT, FORTNOX_WINDOW = 25, 5.0
#: HubSpot's limit for a public app: requests per window per portal (search has its own)
HUBSPOT_LIMIT, HUBSPOT_WINDOW = 110, 10.0
#: the goal: a portal's backlog drains at no less than this share of what the limit allows (portals
#: drained side by side are held to their own budgets instead)
GOAL_SHARE = 0.90
#: the articles on every deal (they exist in Fortnox after the warm-up deal)
SKUS = ("DRAIN-1", "DRAIN-2")
#: how many triggers are sent at once (the workflow action answers each before the next)
TRIGGER_THREADS = 4
#: how often a trigger is sent before the benchmark gives up on it
ENROLL_TRIES = 3
#: how the backlog's deals are triggered: a workflow's create-document action (hubnox completes each
#: action's callback, a seventh HubSpot call), or a move into the portal's trigger stage that
#: HubSpot's webhook reports (six HubSpot calls a deal)
TRIGGERS = ("workflow", "stage")
TRIGGER_STAGE = "closedwon"
HTTP_TIMEOUT = 120.0


def _seed(deals: int, portal: int) -> dict[str, Any]:
    """One company with an organisation number; `deals` + 1 deals of two line items each (the first
    is the warm-up deal)."""
    items = [{"ref": f"line{d}-{i}", "properties": {
        "name": f"Drain item {i}", "quantity": "1", "price": f"{100 + i}.00", "hs_sku": sku}}
        for d in range(deals + 1) for i, sku in enumerate(SKUS)]
    properties = {"companies": [{**ORGANISATION_NUMBER_PROPERTY, "groupName": "companyinformation"}]}
    return {"properties": properties, "objects": {
        "companies": [{"ref": "buyer", "properties": {"name": f"Drain Buyer {portal} AB",
                                                       "organisation_number": "556036-0793"}}],
        "line_items": items,
        "deals": [{"ref": f"deal{d}", "properties": {"dealname": f"Drain deal {portal}-{d}",
                                                     "deal_currency_code": "SEK", "pipeline": "default",
                                                     "dealstage": "appointmentscheduled"},
                   "associations": [{"to": "buyer", "typeId": 5}] + [{"to": f"line{d}-{i}"} for i in range(len(SKUS))]}
                  for d in range(deals + 1)],
    }}


class _Portal:
    def __init__(self, portal_id: str, tenant: str, deal_ids: list[str]) -> None:
        self.portal_id = portal_id
        self.tenant = tenant
        self.warm_up, self.deal_ids = deal_ids[0], deal_ids[1:]


class _Drain:
    def __init__(self, stack: Any) -> None:
        from sandbox.common import RequestLog
        from sandbox.scale import _simulators

        self.stack = stack
        self.env = stack.environment
        self.http = httpx.Client(timeout=HTTP_TIMEOUT)
        self.hubspot, self.fortnox = _simulators(stack)
        # Long enough for every request of the run: about 20 a deal on each side at most.
        self.hubspot.log = RequestLog(200_000)
        self.fortnox.log = RequestLog(200_000)

    def portal(self, deals: int, index: int, trigger: str = "workflow") -> _Portal:
        from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, page_data

        seeded = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/portals", json=_seed(deals, index)).json()
        browser = AdminBrowser(timeout=HTTP_TIMEOUT)
        try:
            portal_id = install_hubnox(browser, self.stack.gateway_url, portal_id=str(seeded["portalId"]))
            tenant = page_data(connect_fortnox(browser, self.stack.gateway_url), "fortnox-tenant")
        finally:
            browser.close()
        if trigger == "stage":
            from hubnox.store.portal_settings import SettingsStore
            from hubnox.store.table import Table

            table = Table(self.stack.aws.client("dynamodb"), self.env["TABLE_NAME"])
            SettingsStore(table).put(portal_id, {"trigger_stages": [
                {"pipeline_id": "default", "stage_id": TRIGGER_STAGE, "document_type": "invoice"}]}, 0)
        return _Portal(portal_id, tenant, [str(seeded["refs"][f"deal{d}"]) for d in range(deals + 1)])

    def trigger(self, how: str, portal_id: str, deal_id: str) -> None:
        """Trigger the deal the given way (`TRIGGERS`)."""
        if how == "stage":
            self.move(portal_id, deal_id)
        else:
            self.enroll(portal_id, deal_id)

    def move(self, portal_id: str, deal_id: str) -> None:
        """Move the deal into the trigger stage as a person in HubSpot does; the simulator's webhook
        tells hubnox."""
        reply = self.http.patch(f"{self.stack.hubspot_api_url}/_sandbox/portals/{portal_id}/objects/deals/{deal_id}",
                                json={"properties": {"dealstage": TRIGGER_STAGE}})
        if reply.status_code != 200:
            raise RuntimeError(f"moving deal {deal_id} failed: {reply.status_code} {reply.text[:300]}")

    @contextlib.contextmanager
    def held(self, hold: bool) -> Iterator[None]:
        """With `hold`, the worker's event source held for the block (the queue fills, nothing runs)."""
        if not hold:
            yield
            return
        feeder = self.stack.aws.feeder
        with feeder.holding():
            time.sleep(feeder.wait_seconds + 0.5)  # a receive under way when the hold began is over
            yield

    def wait_for_backlog(self, trigger: str, jobs: int, timeout: float = 300.0) -> None:
        """Wait until the jobs queue holds `jobs` messages, visible or held back until their booked
        admission turn: the stage moves' webhooks delivered (the simulator's batching window
        skipped) and every job sent."""
        if trigger == "stage":
            reply = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/hubspot/webhooks/flush", timeout=timeout)
            reply.raise_for_status()
        feeder = self.stack.aws.feeder
        deadline = time.monotonic() + timeout
        while feeder.depths()["jobs"] + feeder.delayed() < jobs:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the jobs queue did not reach {jobs} messages in {timeout:.0f} s: "
                                   f"{feeder.depths()}, {feeder.delayed()} delayed")
            time.sleep(0.25)

    def enroll(self, portal_id: str, deal_id: str) -> None:
        """Enroll the deal; an action that did not answer is sent again, as HubSpot retries it."""
        answer: dict[str, Any] = {}
        for _ in range(ENROLL_TRIES):
            answer = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/workflows/enroll", json={
                "portalId": int(portal_id), "clientId": self.env["HUBSPOT_CLIENT_ID"], "objectType": "DEAL",
                "objectId": deal_id, "inputFields": {"documentType": "invoice"},
                "actionUrl": f"{self.stack.gateway_url}/hubspot/actions/create-document"}).json()
            if ((answer.get("body") or {}).get("outputFields") or {}).get("hs_execution_state") == "BLOCK":
                return
            time.sleep(1.0)
        raise RuntimeError(f"the workflow action refused deal {deal_id}: {json.dumps(answer)[:500]}")

    def drafts(self, since: int) -> dict[str, float]:
        """Deal id -> when its draft's create reached Fortnox, for creates logged after entry `since`."""
        found: dict[str, float] = {}
        for entry in self.fortnox.log.entries():
            if entry.id <= since or entry.method != "POST" or entry.path != "/3/invoices" or entry.status >= 300:
                continue
            try:
                reference = str(json.loads(entry.body)["Invoice"].get("ExternalInvoiceReference1") or "")
            except (ValueError, KeyError, AttributeError):
                continue
            found.setdefault(reference, entry.at)
        return found

    def wait_for_drafts(self, deal_ids: set[str], since: int, timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            drafts = self.drafts(since)
            if deal_ids <= drafts.keys() or time.monotonic() > deadline:
                return {deal: at for deal, at in drafts.items() if deal in deal_ids}
            time.sleep(0.25)

    def last_id(self) -> int:
        entries = self.fortnox.log.entries()
        return entries[-1].id if entries else 0


def met(company: dict[str, Any], *, alone: bool) -> bool:
    """The drain goal for one company: alone, at least `GOAL_SHARE` of Fortnox's limit; side by side
    with other portals, within its own budget (no 5 s over Fortnox's limit); never a 429. A figure
    that was not measured (None) does not meet it."""
    if company.get("rate_limited"):
        return False
    if alone:
        share = company.get("share_of_limit")
        return share is not None and float(share) >= GOAL_SHARE
    busiest = company.get("busiest_5s")
    return busiest is not None and int(busiest) <= FORTNOX_LIMIT


def _busiest(moments: Sequence[float], width: float) -> int:
    ordered, best, start = sorted(moments), 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def measure_drain(stack: Any | None = None, deals: int = 200, portals: int = 1, *,
                  timeout: float = 1800.0, trigger: str = "workflow", backlog: bool = True) -> dict[str, Any]:
    """Drain `deals` deals of each of `portals` portals, triggered at once the `trigger` way
    (`TRIGGERS`); answers the figures (see the module's doc). With `backlog` the worker's event
    source is held while the deals are triggered, so the drain starts from a queue holding every
    job (timed from the release); without it the workers start on the first job while the others
    are still being triggered (timed from the first trigger). Starts and stops a stack of its own
    when `stack` is None."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger is one of {TRIGGERS}, not {trigger!r}")
    own = stack is None
    if own:
        from sandbox.stack import start_stack

        for name in ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL"):
            os.environ.pop(name, None)
        stack = start_stack(0, poll_interval=24 * 3600, stack_name="hubnox-drain")
    bench = _Drain(stack)
    try:
        seeded = [bench.portal(deals, index, trigger) for index in range(portals)]
        # The warm-up deals make each company's customer and articles, so the backlog's deals
        # find them, as a portal's later deals do.
        mark = bench.last_id()
        for portal in seeded:
            bench.trigger(trigger, portal.portal_id, portal.warm_up)
        bench.wait_for_drafts({p.warm_up for p in seeded}, mark, timeout=120)
        time.sleep(FORTNOX_WINDOW + 10)  # the warm-up's PDFs and notes done, its window passed

        mark = bench.last_id()
        hubspot_mark = len(bench.hubspot.log.entries())
        # Portals interleaved, as their people would trigger them, all as fast as the action answers.
        order = [(p.portal_id, deal) for turn in zip(*(p.deal_ids for p in seeded), strict=True) for p, deal in
                 zip(seeded, turn, strict=True)]
        load_before = os.getloadavg()
        began = time.monotonic()
        with bench.held(backlog):
            with ThreadPoolExecutor(max_workers=TRIGGER_THREADS) as pool:
                list(pool.map(lambda item: bench.trigger(trigger, *item), order))
            if backlog:
                bench.wait_for_backlog(trigger, len(order))
            started = time.monotonic() if backlog else began
        triggered = time.monotonic() - began
        drafts = bench.wait_for_drafts({deal for p in seeded for deal in p.deal_ids}, mark, timeout)
        done_at = max(drafts.values(), default=time.monotonic())
        time.sleep(FORTNOX_WINDOW)  # the last deals' PDFs
        entries = [e for e in bench.fortnox.log.entries()
                   if e.id > mark and not e.path.startswith(("/oauth", "/_sandbox"))]
        hubspot_entries = bench.hubspot.log.entries()[hubspot_mark:]
        hubspot_limited = sum(1 for e in hubspot_entries if e.status == 429)
        companies: list[dict[str, Any]] = []
        for portal in seeded:
            calls = [e for e in entries if (e.tenant or "").split("/")[0] == portal.tenant]
            made = [at for deal, at in drafts.items() if deal in set(portal.deal_ids)]
            last = max((e.at for e in calls), default=started)
            rate = len(calls) / (last - started) if last > started else 0.0
            # The portal's HubSpot calls over the same drain: for deals of few Fortnox calls, HubSpot's
            # limit is the one that binds (seven HubSpot calls a deal at 110 per 10 s is 1.57 deals a
            # second, three Fortnox calls each 94 % of Fortnox's limit).
            hubspot_calls = sum(1 for e in hubspot_entries if e.tenant == portal.portal_id and e.at <= last)
            floor = max(len(calls) * FORTNOX_WINDOW / FORTNOX_LIMIT, hubspot_calls * HUBSPOT_WINDOW / HUBSPOT_LIMIT)
            companies.append({
                "hubspot_calls": hubspot_calls, "floor_seconds": floor,
                "binding_limit": "HubSpot" if hubspot_calls * HUBSPOT_WINDOW / HUBSPOT_LIMIT
                > len(calls) * FORTNOX_WINDOW / FORTNOX_LIMIT else "Fortnox",
                "share_of_binding_limit": floor / (last - started) if last > started else 0.0,
                "portal": portal.portal_id, "deals": len(portal.deal_ids), "drafts": len(made),
                "seconds_to_drafts": (max(made) - started) if made else None,
                "fortnox_calls": len(calls), "calls_per_deal": len(calls) / max(1, len(portal.deal_ids)),
                "calls_per_second": rate, "share_of_limit": rate / (FORTNOX_LIMIT / FORTNOX_WINDOW),
                "busiest_5s": _busiest([e.at for e in calls], FORTNOX_WINDOW),
                "rate_limited": sum(1 for e in calls if e.status == 429),
            })
        return {
            "deals": deals, "portals": portals, "trigger": trigger, "backlog": backlog,
            "triggered_seconds": triggered,
            "seconds_to_drafts": done_at - started, "drafts": len(drafts),
            "companies": companies, "hubspot_rate_limited": hubspot_limited,
            "goal_share": GOAL_SHARE, "load_before": load_before, "load_after": os.getloadavg(),
            "ok": len(drafts) == deals * portals and all(met(c, alone=portals == 1) for c in companies),
        }
    finally:
        bench.http.close()
        if own:
            bench.stack.stop()


def report(result: dict[str, Any], out: Callable[[str], None] = print) -> None:
    """The result as a Markdown table, one row per company."""
    out(f"Drain: {result['deals']} deals of each of {result['portals']} portal(s) triggered at once "
        f"(by {result.get('trigger', 'workflow')}) "
        f"(in {result['triggered_seconds']:.1f} s); every draft after {result['seconds_to_drafts']:.1f} s; "
        f"HubSpot 429s {result['hubspot_rate_limited']}; load {result['load_before'][0]:.1f} before, "
        f"{result['load_after'][0]:.1f} after")
    goal = "goal >= 90 %" if result["portals"] == 1 else "recorded"
    out(f"| portal | drafts | seconds to drafts | Fortnox calls (per deal) | calls/s | % of 5/s ({goal}) "
        "| busiest 5 s (limit 25) | 429s | HubSpot calls | binding limit: % of its floor |")
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in result["companies"]:
        seconds = "-" if c["seconds_to_drafts"] is None else f"{c['seconds_to_drafts']:.1f}"
        out(f"| {c['portal']} | {c['drafts']}/{c['deals']} | {seconds} | {c['fortnox_calls']} "
            f"({c['calls_per_deal']:.1f}) | {c['calls_per_second']:.2f} | {tenths(c['share_of_limit'])} % "
            f"| {c['busiest_5s']} | {c['rate_limited']} | {c['hubspot_calls']} "
            f"| {c['binding_limit']}: {100 * c['share_of_binding_limit']:.0f} % |")
    out(f"drain: {'OK' if result['ok'] else 'goal not met'}")


def main(argv: Sequence[str] | None = None) -> int:
    from sandbox.drill import stack_output_to

    parser = argparse.ArgumentParser(prog="python -m benchmarks.drain", description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=200, help="deals of one portal in the backlog")
    parser.add_argument("--portals", type=int, default=1)
    parser.add_argument("--trigger", choices=TRIGGERS, default="workflow",
                        help="how the deals are triggered: the workflow action, or a move into a trigger stage "
                        "(webhooks)")
    parser.add_argument("--live", action="store_true",
                        help="trigger while the workers run, timed from the first trigger (default: the deals "
                        "are queued first and the drain timed from the workers' start)")
    parser.add_argument("--parallel", default="3x70",
                        help="then this many portals x deals in parallel (PxD; empty to skip)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "hubnox-drain-stack.log"),
                        help="where the stack's own output (the functions' logs and metrics) goes")
    args = parser.parse_args(argv)
    print(f"drain: the stack's logs go to {args.log}", flush=True)
    results = []
    with stack_output_to(args.log) as out:
        from sandbox.stack import start_stack

        for name in ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL"):
            os.environ.pop(name, None)
        stack = start_stack(0, poll_interval=24 * 3600, stack_name="hubnox-drain")
        try:
            runs = [(args.portals, args.deals)]
            if args.parallel:
                portals, deals = (int(n) for n in args.parallel.lower().split("x"))
                runs.append((portals, deals))
            for portals, deals in runs:
                result = measure_drain(stack, deals=deals, portals=portals, trigger=args.trigger,
                                       backlog=not args.live)
                results.append(result)
                report(result, out)
                out("")
        finally:
            stack.stop()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
