"""`python -m benchmarks`: what one deal costs in API calls, time and memory, measured on the local stack.

`python -m benchmarks --help` lists the options (`--only`, `--quick`, `--json`, `--readme`); which
benchmarks run and what goals they are held to is benchmarks/suite.py.

The status cycle ("Back from Fortnox": what a cycle costs a portal with many documents and few
changes) is `benchmarks/status_cycle.py`, also runnable alone.

Everything runs in this process on loopback: the gateway and hubnox's functions, both simulators with
their real rate limits (HubSpot 110 per 10 s per portal, Fortnox 25 per 5 s per integration and
company) and moto. Deals go the way they go in production: a signed workflow-action request from
the HubSpot simulator, the job on the queue, the worker, the note. API calls are counted from the
simulators' request logs, so they are the calls the services would bill, retries included.

Numbers depend on the machine; the README quotes a run with the command that made it.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from typing import Any

import httpx

from hubnox.hubspot.properties import ORGANISATION_NUMBER_PROPERTY

CRM = "/crm/objects/2026-03"


def _seed(lines: int, deals: int) -> dict[str, Any]:
    items = [{"ref": f"line{d}-{i}", "properties": {
        "name": f"Item {i} of deal {d}", "quantity": str(1 + i % 3), "price": f"{100 + i}.50",
        "hs_sku": f"SKU-{i % 40}"}} for d in range(deals) for i in range(lines)]
    # The portal already has the organisation-number property the default match rule reads.
    properties = {"companies": [{**ORGANISATION_NUMBER_PROPERTY, "groupName": "companyinformation"}]}
    return {"properties": properties, "objects": {
        "companies": [{"ref": "acme", "properties": {"name": "Acme AB", "organisation_number": "556036-0793"}}],
        "line_items": items,
        "deals": [{"ref": f"deal{d}", "properties": {"dealname": f"Deal {d}", "deal_currency_code": "SEK"},
                   "associations": [{"to": "acme", "typeId": 5}] + [{"to": f"line{d}-{i}"} for i in range(lines)]}
                  for d in range(deals)],
    }}


class Bench:
    """The local stack with one seeded portal per scenario, hubnox installed and Fortnox connected."""

    def __init__(self) -> None:
        from sandbox.stack import start_stack

        for name in ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL"):
            os.environ.pop(name, None)
        self.stack = start_stack(0, poll_interval=24 * 3600)
        self.http = httpx.Client(timeout=180.0)
        self.env = self.stack.environment

    def close(self) -> None:
        self.http.close()
        self.stack.stop()

    def portal(self, lines: int, deals: int) -> tuple[str, str, list[str]]:
        from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, page_data

        seeded = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/portals", json=_seed(lines, deals)).json()
        browser = AdminBrowser()
        portal_id = install_hubnox(browser, self.stack.gateway_url, portal_id=str(seeded["portalId"]))
        tenant = page_data(connect_fortnox(browser, self.stack.gateway_url), "fortnox-tenant")
        return portal_id, tenant, [str(seeded["refs"][f"deal{d}"]) for d in range(deals)]

    def log_size(self) -> tuple[int, int]:
        return (len(self.http.get(f"{self.stack.hubspot_api_url}/_sandbox/requests").json()["requests"]),
                len(self.http.get(f"{self.stack.fortnox_api_url}/_sandbox/requests").json()["requests"]))

    def calls_since(self, mark: tuple[int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hubspot = self.http.get(f"{self.stack.hubspot_api_url}/_sandbox/requests").json()["requests"][mark[0]:]
        fortnox = self.http.get(f"{self.stack.fortnox_api_url}/_sandbox/requests").json()["requests"][mark[1]:]
        return hubspot, fortnox

    def enroll(self, portal_id: str, deal_id: str) -> str:
        delivery = self.http.post(f"{self.stack.hubspot_api_url}/_sandbox/workflows/enroll", json={
            "portalId": int(portal_id), "clientId": self.env["HUBSPOT_CLIENT_ID"], "objectType": "DEAL",
            "objectId": deal_id, "inputFields": {"documentType": "invoice"},
            "actionUrl": f"{self.stack.gateway_url}/hubspot/actions/create-document"}).json()
        assert delivery["body"]["outputFields"]["hs_execution_state"] == "BLOCK", delivery
        return str(delivery["callbackId"])

    def drain(self) -> None:
        result = self.http.post(f"{self.stack.gateway_url}/_sandbox/worker/drain").json()
        assert not result.get("timed_out"), result

    def completed(self, callback_id: str) -> dict[str, Any]:
        execution = self.http.get(f"{self.stack.hubspot_api_url}/_sandbox/callbacks/{callback_id}").json()
        assert execution.get("executionState") == "SUCCESS", execution
        return execution


def _api(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API calls among logged requests: not OAuth, not the simulators' own control surface."""
    return [r for r in requests if not r["path"].startswith(("/oauth", "/_sandbox"))]


def deal_requests(bench: Bench, portal_id: str, deal_id: str
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
    """One deal through the workflow action and the queue: the requests HubSpot and Fortnox
    received meanwhile (follow-ups included) and the seconds until the queue was empty."""
    mark = bench.log_size()
    started = time.perf_counter()
    callback_id = bench.enroll(portal_id, deal_id)
    bench.drain()
    seconds = time.perf_counter() - started
    bench.completed(callback_id)
    hubspot, fortnox = bench.calls_since(mark)
    return hubspot, fortnox, seconds


def card_latency(bench: Bench) -> dict[str, float]:
    """The deal card, fetched by HubSpot as hubspot.fetch does: cold, then from the cache."""
    portal_id, _, [deal_id] = bench.portal(10, 1)
    bench.completed(_enroll_and_drain(bench, portal_id, deal_id))
    url = f"{bench.stack.gateway_url}/hubspot/card?objectType=0-3&objectId={deal_id}"
    timings = []
    for _ in range(3):
        answer = bench.http.post(f"{bench.stack.hubspot_api_url}/_sandbox/cards/fetch", json={
            "portalId": int(portal_id), "appId": int(bench.env["HUBSPOT_APP_ID"]), "url": url}).json()
        assert answer["status"] == 200 and answer["body"]["document"], answer
        timings.append(float(answer["elapsedMs"]))
    return {"cold_ms": timings[0], "warm_ms": min(timings[1:])}


def _enroll_and_drain(bench: Bench, portal_id: str, deal_id: str) -> str:
    callback_id = bench.enroll(portal_id, deal_id)
    bench.drain()
    return callback_id


def build_memory(lines: int) -> dict[str, float]:
    """Time and peak Python heap of the pure document build for a deal of `lines` line items."""
    from benchmarks.documents import build_once

    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    build_once(lines)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"lines": lines, "ms": seconds * 1000, "peak_kib": peak / 1024}


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks`: the suite in benchmarks/suite.py (which benchmarks, their goals, the
    JSON file and the README block); this module holds the stack and the per-deal measurements."""
    from benchmarks.suite import main as run_suite

    return run_suite(argv)


if __name__ == "__main__":
    raise SystemExit(main())
