"""`python -m benchmarks.status_cycle`: what one status cycle ("Back from Fortnox") costs a portal that
has many documents and few changes, in Fortnox and HubSpot calls and seconds, on the local stack.

One portal gets `--documents` invoices. The first is made the way production makes it (a workflow
action, the worker); the others are copies of it put straight into the Fortnox simulator, each for its
own HubSpot deal, with the deal link hubnox records when it makes a document, so the status sync sees
every one as hubnox's. They are spread over `--customers` Fortnox customers, booked and sent, and
stamped modified hours ago, as an install's older documents are. Making a thousand documents through
the worker would take Fortnox's rate limit many minutes and measure nothing the cycle does.

Each cycle is one `POST /_sandbox/poller/tick` (the poller's 2-minute schedule: it sends the status
message and drains it), measured from the simulators' request logs, cleared before each tick:

1. the first cycle, which finds every document and writes every deal and customer once;
2. a quiet cycle: nothing changed in Fortnox;
3. a cycle after 5 changes: 2 invoices paid, 1 credited, 1 overdue, 1 partly paid, each for its own
   customer; the deals are then read back and must show those states;
4. a quiet cycle again.

Numbers depend on the machine; the README quotes a run with the command that made it.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from benchmarks.__main__ import Bench, _api

if TYPE_CHECKING:
    from sandbox.fortnox import FortnoxSimulator

#: how long ago the seeded documents were made and last modified: older than the sync's overlap
SEEDED_AGE = timedelta(hours=3)
#: the states the changed deals must show after the cycle, in the order the changes are made
CHANGES = ("paid", "paid", "credited", "overdue", "partly_paid")
#: Fortnox customers the documents are spread over: every change then touches a customer of its own
DEFAULT_CUSTOMERS = 20


@dataclass
class Cycle:
    """One measured tick for the portal."""

    name: str
    fortnox_calls: int
    hubspot_calls: int
    seconds: float
    rate_limited: int
    paths: Counter[str] = field(default_factory=Counter)


def _fortnox_simulator(bench: Bench) -> FortnoxSimulator:
    from sandbox.fortnox import FortnoxSimulator

    for server in bench.stack.servers:
        app = getattr(server.server, "app", None)
        if isinstance(app, FortnoxSimulator):
            return app
    raise RuntimeError("the benchmark needs the local stack's own Fortnox simulator (FORTNOX_API_URL is set)")


def seed_documents(bench: Bench, portal_id: str, tenant_id: str, deal_ids: list[str],
                   customers: int) -> list[str]:
    """The first deal's invoice through the worker, then a copy of it for every other deal (see the
    module docstring); answers the invoice numbers in the order of `deal_ids`."""
    from hubnox.config import get_app_config
    from hubnox.store.deal_links import DealLinkStore
    from hubnox.wiring import Container
    from sandbox.fortnox_lifecycle import bookkeep, mark_sent

    bench.completed(_enroll_and_drain(bench, portal_id, deal_ids[0]))
    simulator = _fortnox_simulator(bench)
    state = simulator.state
    seeded_at = state.now() - SEEDED_AGE
    old_stamp = seeded_at.strftime("%Y-%m-%d %H:%M:%S")
    numbers: list[str] = []
    with simulator.lock:
        company = state.company(int(tenant_id))
        [original] = [i for i in company.invoices.values() if str(i.get("ExternalInvoiceReference1")) == deal_ids[0]]
        draft = copy.deepcopy(original)  # the copies start as drafts too
        first_customer = company.customers[original["CustomerNumber"]]
        customer_numbers = [original["CustomerNumber"]]
        for n in range(1, customers):
            number = str(20000 + n)
            company.customers[number] = {**copy.deepcopy(first_customer), "CustomerNumber": number,
                                         "Name": f"Benchmark customer {n}"}
            customer_numbers.append(number)
        for index, deal_id in enumerate(deal_ids):
            if index == 0:
                invoice = original
            else:
                invoice = copy.deepcopy(draft)
                number = max(company.invoices) + 1
                customer = company.customers[customer_numbers[index % customers]]
                invoice.update(DocumentNumber=str(number), ExternalInvoiceReference1=deal_id,
                               CustomerNumber=customer["CustomerNumber"], CustomerName=customer["Name"])
                company.invoices[number] = invoice
            bookkeep(company, invoice, state)
            mark_sent(invoice, state)
            invoice["_modified"] = old_stamp
            numbers.append(str(invoice["DocumentNumber"]))
    links = DealLinkStore(Container(get_app_config()).table, clock=lambda: seeded_at.timestamp())
    for deal_id, number in zip(deal_ids[1:], numbers[1:], strict=True):
        links.claim(portal_id, deal_id, "benchmark:invoice", f"benchmark-{deal_id}")
        links.set_document(portal_id, deal_id, "benchmark:invoice", "invoice", number)
    return numbers


def _enroll_and_drain(bench: Bench, portal_id: str, deal_id: str) -> str:
    callback_id = bench.enroll(portal_id, deal_id)
    bench.drain()
    return callback_id


def tick(bench: Bench, name: str, portal_id: str, tenant_id: str) -> Cycle:
    """One poller tick, its calls for the portal counted from the simulators' request logs (cleared
    first): Fortnox keys a call by "<tenant>/<client id>", HubSpot by portal except searches (no key,
    their own limit). Run on a stack where this is the only portal with documents, the searches are
    the portal's and the seconds are its cycle's."""
    for url in (bench.stack.hubspot_api_url, bench.stack.fortnox_api_url):
        bench.http.delete(f"{url}/_sandbox/requests").raise_for_status()
    started = time.perf_counter()
    answer = bench.http.post(f"{bench.stack.gateway_url}/_sandbox/poller/tick")
    seconds = time.perf_counter() - started
    answer.raise_for_status()
    result = answer.json()["result"]
    assert not result.get("polls_failed"), result
    hubspot, fortnox = bench.calls_since((0, 0))
    hubspot = [r for r in hubspot if r.get("tenant") in (None, portal_id)]
    fortnox = [r for r in fortnox if str(r.get("tenant")).startswith(f"{tenant_id}/")]
    hubspot_api, fortnox_api = _api(hubspot), _api(fortnox)
    paths = Counter(f"Fortnox {r['method']} {r['path']}" for r in fortnox_api)
    paths.update(f"HubSpot {r['method']} {r['path']}" for r in hubspot_api)
    return Cycle(name, len(fortnox_api), len(hubspot_api), seconds,
                 sum(1 for r in hubspot + fortnox if r["status"] == 429), paths)


def make_changes(bench: Bench, tenant_id: str, numbers: list[str]) -> list[str]:
    """The 5 changes, on invoices 1 to 5 (each of its own customer); answers their numbers."""
    from sandbox.admin import credit_invoice, make_overdue, pay_invoice

    url = bench.stack.fortnox_api_url
    changed = numbers[1:1 + len(CHANGES)]
    pay_invoice(url, tenant_id, changed[0])
    pay_invoice(url, tenant_id, changed[1])
    credit_invoice(url, tenant_id, changed[2])
    make_overdue(url, tenant_id, changed[3], days=3)
    invoice = pay_invoice(url, tenant_id, changed[4], amount="100.00")["Invoice"]
    assert Decimal(str(invoice["Balance"])) > 0, invoice
    return changed


def deal_states(bench: Bench, portal_id: str, deal_ids: list[str]) -> list[str]:
    """The deals' fortnox_document_status, read from HubSpot after the measured tick."""
    from sandbox.admin import seeder_token

    token = seeder_token(bench.stack.hubspot_api_url, portal_id)
    read = bench.http.post(f"{bench.stack.hubspot_api_url}/crm/objects/2026-03/0-3/batch/read",
                           headers={"Authorization": f"Bearer {token}"},
                           json={"properties": ["fortnox_document_status"], "propertiesWithHistory": [],
                                 "inputs": [{"id": d} for d in deal_ids]}).json()["results"]
    states = {str(r["id"]): r["properties"].get("fortnox_document_status") for r in read}
    return [states.get(d) or "" for d in deal_ids]


def measure(bench: Bench, documents: int, customers: int) -> dict[str, Any]:
    """The four cycles of the module docstring for one portal of `documents` invoices. Run it before
    the stack has other connected portals: a tick runs every portal's cycle."""
    portal_id, tenant_id, deal_ids = bench.portal(1, documents)
    started = time.perf_counter()
    numbers = seed_documents(bench, portal_id, tenant_id, deal_ids, customers)
    seeding = time.perf_counter() - started
    cycles = [tick(bench, "first cycle (every document new to the sync)", portal_id, tenant_id),
              tick(bench, "quiet (nothing changed)", portal_id, tenant_id)]
    changed = make_changes(bench, tenant_id, numbers)
    cycles.append(tick(bench, "5 changes (2 paid, 1 credited, 1 overdue, 1 partly paid)", portal_id, tenant_id))
    states = deal_states(bench, portal_id, deal_ids[1:1 + len(CHANGES)])
    if states != list(CHANGES):
        raise AssertionError(f"after one cycle the changed deals show {states}, expected {list(CHANGES)} "
                             f"(invoices {changed})")
    cycles.append(tick(bench, "quiet again", portal_id, tenant_id))
    return {"documents": documents, "customers": customers, "seeding_seconds": seeding, "cycles": cycles,
            "changed": changed}


def report(measured: dict[str, Any], out: Callable[[str], None] = print) -> None:
    out(f"Status cycle (Fortnox states back to HubSpot), one portal with {measured['documents']} hubnox "
        f"invoices of {measured['customers']} customers; one poller tick each, its calls from the "
        "simulators' request logs:")
    out("| cycle | Fortnox calls | HubSpot calls | time | 429s |")
    out("| --- | ---: | ---: | ---: | ---: |")
    for cycle in measured["cycles"]:
        out(f"| {cycle.name} | {cycle.fortnox_calls} | {cycle.hubspot_calls} | {cycle.seconds:.2f} s "
            f"| {cycle.rate_limited} |")
    for cycle in measured["cycles"][1:3]:
        calls = ", ".join(f"{n} x {path}" for path, n in sorted(cycle.paths.items())) or "none"
        out(f"  {cycle.name}: {calls}")


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.status_cycle", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=1000, help="hubnox invoices of the portal")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help="Fortnox customers they are spread over")
    args = parser.parse_args(argv)
    if args.documents < len(CHANGES) + 1 or not len(CHANGES) < args.customers <= args.documents:
        parser.error(f"--documents must be at least {len(CHANGES) + 1}, --customers more than {len(CHANGES)} "
                     "and at most --documents")
    out(f"hubnox status cycle benchmark (python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    bench = Bench()
    try:
        report(measure(bench, args.documents, args.customers), out)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
