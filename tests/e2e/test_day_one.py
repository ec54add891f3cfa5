"""Day one in a real portal, through the whole local stack with default settings: the 44 deals of
`tests/fixtures/day_one_deals.py` (four portals, each with its own Fortnox company) each become
exactly one draft invoice equal to HubSpot's amounts to the öre, or with a note that explains
the difference."""

from __future__ import annotations

import html
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.hubspot.properties import APP_PROPERTIES
from hubnox.jobs import JobQueue, submit
from hubnox.records import RunRequest
from hubnox.store.runs import RunStore
from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, page_data
from tests.fixtures import day_one_deals as corpus
from tests.support.workflows import drain, table

pytestmark = pytest.mark.e2e

GROUPS = {"deals": "dealinformation", "companies": "companyinformation", "contacts": "contactinformation"}
OTHER_INTEGRATION = "bookkeeping-tool"


def _app_properties() -> dict[str, list[dict[str, Any]]]:
    """The properties hubnox creates at install, plus `organisation_number` (also created at install)."""
    return {kind: [{**definition, "groupName": GROUPS[kind]} for definition in definitions]
            for kind, definitions in APP_PROPERTIES.items()}


def _fortnox_api(stack: Any, tenant_id: str) -> httpx.Client:
    """The Fortnox company as another integration (the bookkeeper's) sees it, to set up customers."""
    auth, redirect_uri = stack.urls["fortnox_auth"], "http://127.0.0.1/bookkeeping-tool"
    consent = httpx.get(f"{auth}/oauth-v1/auth", params={
        "client_id": OTHER_INTEGRATION, "redirect_uri": redirect_uri, "response_type": "code", "state": "s",
        "scope": "customer", "access_type": "offline", "sandbox_tenant": tenant_id})
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    token = httpx.post(f"{auth}/oauth-v1/token", auth=(OTHER_INTEGRATION, "bookkeeping-secret"), timeout=10.0,
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
    token.raise_for_status()
    return httpx.Client(base_url=stack.urls["fortnox_api"], timeout=10.0,
                        headers={"Authorization": f"Bearer {token.json()['access_token']}"})


def _portal(stack: Any, number: int) -> tuple[str, str, dict[str, str]]:
    """Portal `number` of the corpus, seeded, with hubnox installed and a fresh Fortnox company
    connected that already has the linked customers; answers portal id, tenant id and refs."""
    seeded = stack.hubspot.post("/_sandbox/portals", json=corpus.portal_seed(number, _app_properties()))
    assert seeded.status_code == 201, seeded.text
    portal_id, refs = str(seeded.json()["portalId"]), seeded.json()["refs"]
    browser = AdminBrowser()
    try:
        install_hubnox(browser, stack.running.gateway_url, portal_id=portal_id)
        tenant_id = page_data(connect_fortnox(browser, stack.running.gateway_url), "fortnox-tenant")
    finally:
        browser.close()
    with _fortnox_api(stack, tenant_id) as fortnox:
        for customer in corpus.FORTNOX_CUSTOMERS:
            created = fortnox.post("/3/customers", json={"Customer": customer})
            assert created.status_code == 201, created.text
    return portal_id, tenant_id, refs


def _hubspot_portal(stack: Any, portal_id: str) -> dict[str, Any]:
    return stack.hubspot.get(f"/_sandbox/portals/{portal_id}").json()


def _records(dump: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {str(record["id"]): record for record in dump["objects"][kind]}


def _notes_of(dump: dict[str, Any], deal_id: str) -> list[str]:
    def deals_of(note: dict[str, Any]) -> list[str]:
        return [str(link["id"]) for link in note.get("associations", {}).get("deals", {}).get("results", [])]
    return [html.unescape(note["properties"]["hs_note_body"]) for note in dump["objects"]["notes"]
            if deal_id in deals_of(note)]


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def test_forty_four_realistic_deals_under_default_settings_each_become_one_invoice_to_the_ore(stack):
    started = time.monotonic()
    portals = [_portal(stack, number) for number in range(corpus.PORTALS)]
    queue = JobQueue(stack.aws("sqs"), stack.environment["JOBS_QUEUE_URL"])
    runs = RunStore(table(stack), time.time)
    submitted: dict[tuple[int, int], str] = {}
    # Round robin over the portals, each portal's deals in order (its repeat customers come later).
    for index in range(len(corpus.DEALS)):
        for number, (portal_id, _, refs) in enumerate(portals):
            request = RunRequest(portal_id=portal_id, kind="create_document", trigger="card", object_type="deal",
                                 object_id=refs[f"deal{index}"], document_type="invoice",
                                 trigger_key="manual:invoice")
            submitted[(number, index)] = submit(runs, queue, request).run_id

    outcome = drain(stack)

    assert not outcome.get("timed_out") and outcome.get("dead_letter", 0) == 0, outcome
    problems: list[str] = []
    for number, (portal_id, tenant_id, refs) in enumerate(portals):
        company = stack.fortnox.get(f"/_sandbox/companies/{tenant_id}").json()
        dump = _hubspot_portal(stack, portal_id)
        line_items = _records(dump, "line_items")
        customers: dict[str, set[str]] = {}
        for index, deal in enumerate(corpus.DEALS):
            deal_id, where = refs[f"deal{index}"], f"portal {number} deal {index} ({deal.name})"
            run = runs.get(portal_id, submitted[(number, index)])
            assert run is not None
            if run.status != "succeeded":
                problems.append(f"{where}: {run.status} {run.error_code} {run.error_message}")
                continue
            invoices = [doc for doc in company["Invoices"] if str(doc.get("ExternalInvoiceReference1")) == deal_id]
            assert len(invoices) == 1, f"{where}: {len(invoices)} invoices"
            [invoice] = invoices
            want = corpus.expected(deal, number)
            notes = _notes_of(dump, deal_id)
            assert len(notes) == 1, f"{where}: {len(notes)} notes"
            # The fixture computes each line's net as HubSpot does; HubSpot agrees.
            hubspot_nets = [D(line_items[refs[f"deal{index}-line{j}"]]["properties"]["amount"])
                            for j in range(len(deal.lines))]
            assert hubspot_nets == want.line_nets, where
            assert invoice["Currency"] == deal.currency, where
            assert (D(invoice["Net"]), D(invoice["TotalVAT"]), D(invoice["Total"])) == (
                want.net, want.vat, want.total), where
            rows = invoice["InvoiceRows"]
            assert all(row["VAT"] == 0 for row in rows) == want.zero_vat or not rows, where
            if want.zero_vat:
                assert "0 % VAT" in notes[0], where
            if want.vat != want.vat_line_by_line:
                assert "VAT" in notes[0] and "rounds once" in notes[0], where
            without_sku = [corpus.LINES[key] for key in deal.lines if corpus.LINES[key].sku is None]
            assert len([row for row in rows if row["ArticleNumber"] is None]) >= len(without_sku), where
            texts = [row["Description"] for row in rows]
            for line in without_sku:
                if len(line.name) <= 255 and line.name.isprintable() and "🎉" not in line.name:
                    assert line.name in texts, where
            if without_sku:
                assert "without an article" in notes[0], where
            assert sum(D(row["Total"]) for row in rows) == want.net, where
            customers.setdefault(deal.customer, set()).add(invoice["CustomerNumber"])
        # No customer twice: one per company or contact with deals (the two linked ones included),
        # and a repeat customer's deals all bill the same one.
        assert all(len(numbers) == 1 for numbers in customers.values()), customers
        billed = {deal.customer for deal in corpus.DEALS}
        assert len(company["Customers"]) == len(billed), [c["Name"] for c in company["Customers"]]
    assert problems == []
    assert time.monotonic() - started < 90
