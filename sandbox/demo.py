"""`python -m sandbox demo`: hubnox's story, told over HTTP against a fresh local stack.

The demo starts `python -m sandbox up` in a subprocess (so the environment steers both the same
way), waits for it, and then acts as a HubSpot admin and rep would: only through HTTP, the
simulators' real OAuth and API paths and the gateway. Each step is a function in `STORY`; a step
prints what happened and raises `DemoFailure` when something is not as it should be. The demo stops
the stack and ends with a line that starts `demo: OK`, or exits non-zero saying what failed.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.admin import (
    AdminBrowser,
    bookkeep_invoice,
    connect_fortnox,
    connect_url,
    flush_webhooks,
    install_hubnox,
    move_deal,
    page_data,
    pause_webhooks,
    pay_invoice,
    resume_webhooks,
    seeder_token,
    send_invoice,
)
from sandbox.gateway import REPO_ROOT
from sandbox.stack import app_environment

HTTP_TIMEOUT = 10.0
STARTUP_TIMEOUT = 60.0
#: how long the webhook step waits for the invoice and the note; it takes a second or two
WEBHOOK_TIMEOUT = 30.0



class DemoFailure(Exception):
    """A step found something that is not as hubnox's story says."""


@dataclass
class Demo:
    """What the steps share: where the stack is, the app's credentials, and what earlier steps learned."""

    gateway_url: str
    hubspot_api_url: str
    hubspot_auth_url: str
    fortnox_api_url: str
    fortnox_auth_url: str
    environment: Mapping[str, str]
    http: httpx.Client
    output_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def public_base_url(self) -> str:
        return (self.environment.get("PUBLIC_BASE_URL") or self.gateway_url).rstrip("/")

    def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200,),
             **options: Any) -> httpx.Response:
        """One HTTP request; a DemoFailure unless the status is one of `expect`."""
        try:
            response = self.http.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise DemoFailure(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in expect:
            raise DemoFailure(f"{method} {url} answered {response.status_code}, expected "
                              f"{' or '.join(map(str, expect))}: {response.text[:500]}")
        return response


Step = Callable[[Demo], list[str]]


# -- the story -----------------------------------------------------------------------------------


def stack_is_up(demo: Demo) -> list[str]:
    health = demo.call("GET", f"{demo.gateway_url}/_sandbox/health").json()
    queues = demo.call("GET", f"{demo.gateway_url}/_sandbox/queues").json()
    for url in (demo.hubspot_api_url, demo.fortnox_api_url):
        demo.call("GET", f"{url}/_sandbox/health")
    return [
        f"gateway {demo.gateway_url} serves {health['routes']} routes",
        f"HubSpot {demo.hubspot_api_url}, Fortnox {demo.fortnox_api_url}, local AWS {health['aws']}",
        f"jobs queue: {queues['jobs']} waiting, dead-letter queue: {queues['dead_letter']}",
    ]


def admin_installs_hubnox(demo: Demo) -> list[str]:
    browser = demo.facts["browser"] = AdminBrowser(timeout=HTTP_TIMEOUT)
    portal_id = install_hubnox(browser, demo.gateway_url)
    demo.facts["portal_id"] = portal_id
    demo.facts["hubspot_token"] = seeder_token(demo.hubspot_api_url, portal_id)
    properties = demo.call("GET", f"{demo.hubspot_api_url}/crm/properties/2026-03/0-3",
                           headers=_bearer(demo.facts["hubspot_token"])).json()["results"]
    ours = sorted(p["name"] for p in properties if p.get("groupName") == "hubnox")
    if not ours:
        raise DemoFailure("the install created no hubnox properties on deals")
    return [
        f"GET {demo.gateway_url}/oauth/hubspot/install -> HubSpot's consent page -> /oauth/hubspot/callback",
        f"portal {portal_id} installed; the admin lands on the settings page, signed in (session cookie)",
        f"deal properties created in group hubnox: {', '.join(ours)}",
    ]


def admin_connects_fortnox(demo: Demo) -> list[str]:
    browser = demo.facts["browser"]
    page = connect_fortnox(browser, demo.gateway_url)
    demo.facts["tenant_id"] = page_data(page, "fortnox-tenant")
    company = page_data(page, "fortnox-company")
    again = browser.get(connect_url(browser, demo.gateway_url))
    if again.status_code != 409:
        raise DemoFailure(f"connecting a second company was not refused ({again.status_code})")
    return [
        "settings page -> Connect Fortnox -> Fortnox's consent page -> /oauth/fortnox/callback",
        f"connected to \"{company}\" (database {demo.facts['tenant_id']}); tokens sealed with KMS",
        "a second company is refused until the first is disconnected (409)",
    ]


def admin_saves_settings(demo: Demo) -> list[str]:
    browser = demo.facts["browser"]
    page = browser.get(f"{demo.gateway_url}/settings")
    if page.status_code != 200 or 'id="documents"' not in page.text:
        raise DemoFailure(f"the settings page does not show its sections ({page.status_code})")
    csrf = page_data_meta(page.text, "csrf-token")
    loaded = browser.request("GET", f"{demo.gateway_url}/settings/api/settings").json()
    settings = loaded["settings"]
    settings["trigger_stages"] = [{"pipeline_id": "default", "stage_id": "closedwon", "document_type": "invoice"}]
    settings["customer_defaults"] = {**settings["customer_defaults"], "terms_of_payment": "10"}
    saved = demo.call("PUT", f"{demo.gateway_url}/settings/api/settings", headers={
        "Cookie": f"hubnox_session={browser.session_cookie}", "X-CSRF-Token": csrf, "Origin": demo.gateway_url},
        json={"version": loaded["version"], "settings": settings}).json()
    return ["the settings page shows Documents, Customers, Articles, Deals and Recent runs",
            f"saved (version {saved['version']}): invoice deals that enter Closed won; new customers get "
            "10 days' terms of payment; missing articles are created from the products"]


#: HubSpot-defined association type: line item -> deal (reference/hubspot.md §4.6).
LINE_ITEM_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
DEAL_TO_PRIMARY_COMPANY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
DEAL_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
DEMO_LINE_ITEMS = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT",
     "hs_discount_percentage": "10"},
    {"name": "Konferenslunch", "quantity": "12", "price": "145.00", "hs_sku": "HNX-LUNCH", "tax_rate": "12"},
)


def deal_with_line_items(demo: Demo) -> list[str]:
    headers = _bearer(demo.facts["hubspot_token"])
    base = f"{demo.hubspot_api_url}/crm/objects/2026-03"
    sandbox = f"{demo.hubspot_api_url}/_sandbox/portals/{demo.facts['portal_id']}"
    owner = demo.call("POST", f"{sandbox}/owners", expect=(201,), json={
        "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"}).json()
    rates = {str(r["percentageRate"]).split(".")[0]: r["id"] for r in demo.call("GET", sandbox).json()["taxRates"]}
    company = demo.call("POST", f"{base}/companies", headers=headers, expect=(201,), json={
        "properties": {"name": "Acme AB", "organisation_number": "556036-0793", "domain": "acme.example",
                       "address": "Sveavägen 1", "zip": "111 57", "city": "Stockholm", "country": "Sweden"},
        "associations": [],
    }).json()
    contact = demo.call("POST", f"{base}/contacts", headers=headers, expect=(201,), json={
        "properties": {"firstname": "Astrid", "lastname": "Lind", "email": "astrid.lind@acme.example"},
        "associations": [],
    }).json()
    deal = demo.call("POST", f"{base}/0-3", headers=headers, expect=(201,), json={
        "properties": {"dealname": "Acme AB - hubnox rollout", "pipeline": "default",
                       "dealstage": "appointmentscheduled", "closedate": "2026-12-15",
                       "deal_currency_code": "SEK", "hubspot_owner_id": str(owner["id"])},
        "associations": [{"to": {"id": company["id"]}, "types": [DEAL_TO_PRIMARY_COMPANY]},
                         {"to": {"id": contact["id"]}, "types": [DEAL_TO_CONTACT]}],
    }).json()
    demo.facts["deal_id"] = deal["id"]
    for item in DEMO_LINE_ITEMS:
        properties = {k: v for k, v in item.items() if k != "tax_rate"}
        if "tax_rate" in item:  # the portal's tax-rate library holds Sweden's rates
            properties["hs_tax_rate_group_id"] = str(rates[item["tax_rate"]])
        demo.call("POST", f"{base}/line_items", headers=headers, expect=(201,), json={
            "properties": properties,
            "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}],
        })
    read = demo.call("GET", f"{base}/0-3/{deal['id']}", headers=headers,
                     params={"properties": "dealname,dealstage", "associations": "line_items"}).json()
    # HubSpot names the association "line items" in a read, whatever name the request used.
    links = read.get("associations", {})
    links = links.get("line items") or links.get("line_items") or {}
    ids = [link["id"] for link in links.get("results", [])]
    if len(ids) != len(DEMO_LINE_ITEMS):
        raise DemoFailure(f"deal {deal['id']} has {len(ids)} line items, expected {len(DEMO_LINE_ITEMS)}")
    items = demo.call("POST", f"{base}/line_items/batch/read", headers=headers, json={
        "properties": ["name", "quantity", "price", "amount", "hs_sku", "hs_discount_percentage",
                       "hs_tax_rate_group_id"], "propertiesWithHistory": [],
        "inputs": [{"id": i} for i in ids],
    }).json()["results"]
    demo.facts["line_items"] = [item["properties"] for item in sorted(items, key=lambda i: int(i["id"]))]
    lines = [f"deal {deal['id']} \"{read['properties']['dealname']}\" for Acme AB (organisation number "
             f"556036-0793, contact Astrid Lind) with {len(ids)} line items:"]
    lines += [f"  {p['quantity']} x {p['name']} at {p['price']}"
              + (f" less {p['hs_discount_percentage']} %" if p.get("hs_discount_percentage") else "")
              + f" = {p['amount']} SEK" + (" (food VAT 12 %)" if p.get("hs_tax_rate_group_id") else "")
              for p in demo.facts["line_items"]]
    lines.append("  owner: Sara Säljare (hubspot_owner_id)")
    return lines


def _enroll(demo: Demo) -> dict[str, Any]:
    """HubSpot's workflow engine reaching hubnox's create-document action for the demo's deal."""
    delivery = demo.call("POST", f"{demo.hubspot_api_url}/_sandbox/workflows/enroll", json={
        "portalId": int(demo.facts["portal_id"]), "clientId": demo.environment["HUBSPOT_CLIENT_ID"],
        "objectType": "DEAL", "objectId": demo.facts["deal_id"], "inputFields": {"documentType": "invoice"},
        "actionUrl": f"{demo.public_base_url}/hubspot/actions/create-document", "objectProperties": ["dealname"],
    }).json()
    state = (delivery.get("body") or {}).get("outputFields", {}).get("hs_execution_state")
    if delivery.get("status") != 200 or state != "BLOCK":
        raise DemoFailure(f"hubnox did not answer the workflow action with BLOCK: {delivery}")
    return delivery


def _run_worker(demo: Demo, callback_id: str) -> dict[str, Any]:
    drained = demo.call("POST", f"{demo.gateway_url}/_sandbox/worker/drain", timeout=120).json()
    if drained.get("timed_out"):
        raise DemoFailure(f"the worker did not finish the queue: {drained}")
    execution = demo.call("GET", f"{demo.hubspot_api_url}/_sandbox/callbacks/{callback_id}").json()
    if execution.get("executionState") != "SUCCESS":
        raise DemoFailure(f"the workflow action did not complete with SUCCESS: {execution}")
    return execution


def _invoices_for_deal(demo: Demo) -> list[dict[str, Any]]:
    """What a bookkeeper sees in Fortnox: the company's invoices that name the demo's deal."""
    company = demo.call("GET", f"{demo.fortnox_api_url}/_sandbox/companies/{demo.facts['tenant_id']}").json()
    return [i for i in company.get("Invoices") or []
            if str(i.get("ExternalInvoiceReference1")) == str(demo.facts["deal_id"])]


def workflow_runs_hubnox(demo: Demo) -> list[str]:
    delivery = _enroll(demo)
    demo.facts["callback_id"] = delivery["callbackId"]
    return [f"HubSpot POSTs the signed execution {delivery['callbackId']} to /hubspot/actions/create-document",
            "hubnox checks the signature, records a run, queues the job and answers BLOCK at once"]


def worker_makes_the_invoice(demo: Demo) -> list[str]:
    execution = _run_worker(demo, demo.facts["callback_id"])
    outputs = execution["outputFields"]
    [invoice] = _invoices_for_deal(demo)
    if str(invoice["DocumentNumber"]) != str(outputs["documentNumber"]):
        raise DemoFailure(f"the callback names invoice {outputs['documentNumber']}, Fortnox has "
                          f"{invoice['DocumentNumber']}")
    if invoice.get("Booked") or invoice.get("Sent"):
        raise DemoFailure("hubnox must leave a draft: the invoice is booked or sent")
    hubspot_net = sum(Decimal(p["amount"]) for p in demo.facts["line_items"])
    if Decimal(str(invoice["Net"])) != hubspot_net:
        raise DemoFailure(f"Fortnox's net {invoice['Net']} differs from the line items' {hubspot_net}")
    demo.facts["document_number"] = str(invoice["DocumentNumber"])
    lines = [f"the workflow action completed: SUCCESS, invoice {outputs['documentNumber']}, "
             f"customer {outputs.get('customerNumber')}",
             f"Fortnox draft invoice {invoice['DocumentNumber']} for {invoice['CustomerName']} "
             f"(customer {invoice['CustomerNumber']}, created from the company's organisation number):"]
    lines += [f"  {row['DeliveredQuantity']} x {row['Description']} ({row['ArticleNumber']}) at {row['Price']} "
              f"= {row['Total']}, VAT {row['VAT']} %" for row in invoice["InvoiceRows"]]
    lines.append(f"  net {invoice['Net']} + VAT {invoice['TotalVAT']} (round-off {invoice['RoundOff']}) = "
                 f"{invoice['Total']} {invoice['Currency']}; the line items say {hubspot_net}: they match")
    lines.append(f"  our reference {invoice.get('OurReference')!r} (the deal owner), terms of payment "
                 f"{invoice.get('TermsOfPayment')}, due {invoice.get('DueDate')}")
    return lines


def note_on_the_deal(demo: Demo) -> list[str]:
    headers = _bearer(demo.facts["hubspot_token"])
    base = f"{demo.hubspot_api_url}/crm/objects/2026-03"
    linked = demo.call("GET", f"{base}/0-3/{demo.facts['deal_id']}/associations/notes", headers=headers).json()
    if not linked.get("results"):
        raise DemoFailure("the deal has no note")
    note_id = max((str(link["toObjectId"]) for link in linked["results"]), key=int)
    note = demo.call("GET", f"{base}/notes/{note_id}", headers=headers,
                     params={"properties": "hs_note_body,hs_attachment_ids"}).json()["properties"]
    attachment = (note.get("hs_attachment_ids") or "").split(";")[0]
    if not attachment:
        raise DemoFailure("the note carries no attachment")
    pdf = demo.call("GET", f"{demo.hubspot_api_url}/_sandbox/files/{attachment}/content").content
    if not pdf.startswith(b"%PDF-"):
        raise DemoFailure(f"the note's attachment is not a PDF: {pdf[:20]!r}")
    saved = demo.output_dir / f"fortnox-invoice-{demo.facts['document_number']}.pdf"
    saved.write_bytes(pdf)
    deal = demo.call("GET", f"{base}/0-3/{demo.facts['deal_id']}", headers=headers, params={
        "properties": "fortnox_document_number,fortnox_document_type,fortnox_sync_status"}).json()["properties"]
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", note["hs_note_body"])).split())
    return [f"note {note_id}: {text[:160]}...",
            f"attached: the invoice's PDF preview ({len(pdf)} bytes), saved to {saved}",
            f"deal properties: document {deal['fortnox_document_type']} {deal['fortnox_document_number']}, "
            f"sync {deal['fortnox_sync_status']}"]


def once_is_once(demo: Demo) -> list[str]:
    again = _enroll(demo)
    execution = _run_worker(demo, again["callbackId"])
    number = str(execution["outputFields"]["documentNumber"])
    invoices = _invoices_for_deal(demo)
    if len(invoices) != 1 or number != demo.facts["document_number"]:
        raise DemoFailure(f"a second enrollment made another invoice: {[i['DocumentNumber'] for i in invoices]}")
    return ["the deal is enrolled again (a workflow re-enrollment): hubnox finds invoice "
            f"{number} by the deal link and ExternalInvoiceReference1, and makes no second one"]


def _acme_deal(demo: Demo, name: str, quantity: str) -> str:
    """A new deal for the demo's Acme AB in Contract sent, with one line item; answers its id."""
    headers = _bearer(demo.facts["hubspot_token"])
    base = f"{demo.hubspot_api_url}/crm/objects/2026-03"
    first = demo.call("GET", f"{base}/0-3/{demo.facts['deal_id']}", headers=headers,
                      params={"associations": "companies,line_items"}).json()["associations"]
    links = [{"to": {"id": c["id"]}, "types": [DEAL_TO_PRIMARY_COMPANY]} for c in first["companies"]["results"]]
    deal = demo.call("POST", f"{base}/0-3", headers=headers, expect=(201,), json={
        "properties": {"dealname": name, "pipeline": "default",
                       "dealstage": "contractsent", "deal_currency_code": "SEK"}, "associations": links}).json()
    demo.call("POST", f"{base}/line_items", headers=headers, expect=(201,), json={
        "properties": {"name": "hubnox seat, 12 months", "quantity": quantity, "price": "1490.50",
                       "hs_sku": "HNX-SEAT"},
        "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}]})
    return str(deal["id"])


def _deal_invoices(demo: Demo, deal_id: str) -> list[dict[str, Any]]:
    company = demo.call("GET", f"{demo.fortnox_api_url}/_sandbox/companies/{demo.facts['tenant_id']}").json()
    return [i for i in company.get("Invoices") or [] if str(i.get("ExternalInvoiceReference1")) == deal_id]


def _deal_notes(demo: Demo, deal_id: str) -> list[str]:
    linked = demo.call("GET", f"{demo.hubspot_api_url}/crm/objects/2026-03/0-3/{deal_id}/associations/notes",
                       headers=_bearer(demo.facts["hubspot_token"])).json()
    return [str(link["toObjectId"]) for link in linked.get("results") or []]


def _runs_of_deal(demo: Demo, deal_id: str) -> list[dict[str, Any]]:
    """The deal's runs as the settings page's Recent runs lists them."""
    browser = demo.facts["browser"]
    runs = browser.request("GET", f"{demo.gateway_url}/settings/api/runs?limit=100").json()["runs"]
    return [run for run in runs if str(run.get("objectId")) == deal_id]


def webhook_invoices_closed_won(demo: Demo) -> list[str]:
    """A person moves a deal to Closed won in HubSpot; HubSpot's webhook tells hubnox at once. The
    demo only waits: no poller tick and no drain (the local stack feeds the jobs queue to the worker
    by itself, as SQS does), so what it times is HubSpot's batching, hubnox and the worker."""
    loaded = demo.facts["browser"].request("GET", f"{demo.gateway_url}/settings/api/settings").json()
    rules = [rule for rule in loaded["settings"]["trigger_stages"]
             if (rule["pipeline_id"], rule["stage_id"]) == ("default", "closedwon")]
    if [rule["document_type"] for rule in rules] != ["invoice"]:
        raise DemoFailure(f"the saved settings do not invoice deals entering Closed won: {loaded['settings']}")
    deal_id = _acme_deal(demo, "Acme AB - support plan", "2")
    started = time.monotonic()
    move_deal(demo.hubspot_api_url, demo.facts["portal_id"], deal_id, "closedwon")
    deadline = started + WEBHOOK_TIMEOUT
    invoices: list[dict[str, Any]] = []
    notes: list[str] = []
    while time.monotonic() < deadline:
        invoices = _deal_invoices(demo, deal_id)
        notes = _deal_notes(demo, deal_id) if invoices else []
        if invoices and notes:
            break
        time.sleep(0.1)
    else:
        raise DemoFailure(f"deal {deal_id} did not become an invoice with a note within {WEBHOOK_TIMEOUT:.0f} s "
                          f"(invoices {[i['DocumentNumber'] for i in invoices]}, notes {notes})")
    elapsed = time.monotonic() - started
    runs = _runs_of_deal(demo, deal_id)
    if [(run["trigger"], run["status"]) for run in runs] != [("webhook", "succeeded")] or len(invoices) != 1:
        raise DemoFailure(f"deal {deal_id} should have one run, triggered by the webhook: {runs}, "
                          f"invoices {[i['DocumentNumber'] for i in invoices]}")
    sent = [d for d in _webhook_deliveries(demo) if any(str(e.get("objectId")) == deal_id for e in d["events"])]
    first = sent[0]["attempts"][0] if sent and sent[0].get("attempts") else {}
    return ["the saved rule: deals entering Closed won (pipeline default) become invoices",
            f"a person moves deal {deal_id} \"Acme AB - support plan\" to Closed won in HubSpot",
            f"HubSpot POSTs a signed webhook batch to /hubspot/webhooks (answered {first.get('status')} in "
            f"{first.get('elapsedMs')} ms); hubnox queues the job, the worker runs it",
            f"invoice {invoices[0]['DocumentNumber']} is in Fortnox and the note is on the deal "
            f"{elapsed:.1f} s after the move; the run's trigger: {runs[0]['trigger']}"]


def _webhook_deliveries(demo: Demo) -> list[dict[str, Any]]:
    response = demo.call("GET", f"{demo.hubspot_api_url}/_sandbox/hubspot/webhooks",
                         params={"portalId": str(demo.facts["portal_id"])})
    return list(response.json().get("deliveries") or [])


def poller_invoices_closed_won(demo: Demo) -> list[str]:
    """The safety net: with HubSpot's webhooks held back (late or lost), the poller's tick finds the
    deal; the webhook delivered afterwards for the same move makes no second run."""
    deal_id = _acme_deal(demo, "Acme AB - extra seats", "3")
    pause_webhooks(demo.hubspot_api_url)
    try:
        move_deal(demo.hubspot_api_url, demo.facts["portal_id"], deal_id, "closedwon")
        ticked = demo.call("POST", f"{demo.gateway_url}/_sandbox/poller/tick", timeout=60).json()["result"]
        drained = demo.call("POST", f"{demo.gateway_url}/_sandbox/worker/drain", timeout=120).json()
        if drained.get("timed_out"):
            raise DemoFailure(f"the worker did not finish the queue: {drained}")
        late = [event for batch in flush_webhooks(demo.hubspot_api_url) for event in batch.get("events") or []
                if str(event.get("objectId")) == deal_id]  # delivers what was held back, now
    finally:
        resume_webhooks(demo.hubspot_api_url)
    made = _deal_invoices(demo, deal_id)
    runs = _runs_of_deal(demo, deal_id)
    if len(made) != 1 or [run["trigger"] for run in runs] != ["poller"]:
        raise DemoFailure(f"the poller did not make one invoice for deal {deal_id}: {ticked}, {made}, runs {runs}")
    return [f"HubSpot's webhooks are held back; deal {deal_id} \"Acme AB - extra seats\" moves to Closed won",
            f"the poller's tick sends {ticked.get('dispatched', 1)} portal poll message(s); the poll queues "
            f"{ticked['enqueued']} job; the worker makes invoice {made[0]['DocumentNumber']} "
            f"for customer {made[0]['CustomerNumber']} (the same Acme AB), total {made[0]['Total']} SEK",
            f"HubSpot then delivers the held-back webhook ({len(late)} event(s) for the deal): the deal keeps "
            f"its one run (trigger {runs[0]['trigger']})"]


#: a deal as most HubSpot portals hold them: a line item typed in without a product or SKU, for a
#: company nobody gave an organisation number (the property hubnox creates at install is empty)
EVERYDAY_LINE_ITEMS = (
    {"name": "Konsulttimmar, anpassning av flöden åt Ölandsbryggan", "quantity": "8", "price": "1150.00"},
    {"name": "hubnox seat, 12 months", "quantity": "2", "price": "1490.50", "hs_sku": "HNX-SEAT"},
)


def everyday_deal_is_invoiced(demo: Demo) -> list[str]:
    headers = _bearer(demo.facts["hubspot_token"])
    base = f"{demo.hubspot_api_url}/crm/objects/2026-03"
    company = demo.call("POST", f"{base}/companies", headers=headers, expect=(201,), json={
        "properties": {"name": "Ölandsbryggan Handel AB", "city": "Borgholm", "country": "Sweden"},
        "associations": []}).json()
    deal = demo.call("POST", f"{base}/0-3", headers=headers, expect=(201,), json={
        "properties": {"dealname": "Ölandsbryggan - flöden", "pipeline": "default", "dealstage": "contractsent",
                       "deal_currency_code": "SEK"},
        "associations": [{"to": {"id": company["id"]}, "types": [DEAL_TO_PRIMARY_COMPANY]}]}).json()
    amounts = []
    for item in EVERYDAY_LINE_ITEMS:
        made = demo.call("POST", f"{base}/line_items", headers=headers, expect=(201,), json={
            "properties": item, "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}]}).json()
        amounts.append(Decimal(str(made["properties"].get("amount") or "0")))
    demo.call("PATCH", f"{base}/0-3/{deal['id']}", headers=headers, json={"properties": {"dealstage": "closedwon"}})
    demo.call("POST", f"{demo.gateway_url}/_sandbox/poller/tick", timeout=60)
    drained = demo.call("POST", f"{demo.gateway_url}/_sandbox/worker/drain", timeout=120).json()
    if drained.get("timed_out"):
        raise DemoFailure(f"the worker did not finish the queue: {drained}")
    fortnox = demo.call("GET", f"{demo.fortnox_api_url}/_sandbox/companies/{demo.facts['tenant_id']}").json()
    made = [i for i in fortnox.get("Invoices") or [] if str(i.get("ExternalInvoiceReference1")) == str(deal["id"])]
    net = sum(amounts, Decimal("0"))
    if len(made) != 1 or Decimal(str(made[0].get("Net"))) != net:
        raise DemoFailure(f"the everyday deal did not become one invoice of {net} SEK net: {made}")
    invoice = made[0]
    rows = [row for row in invoice.get("InvoiceRows") or [] if row.get("Description")]
    customer = next(c for c in fortnox.get("Customers") or [] if c.get("CustomerNumber") == invoice["CustomerNumber"])
    return [f"deal {deal['id']} \"Ölandsbryggan - flöden\" for a company without an organisation number, "
            f"with a line item without a SKU, moves to Closed won",
            f"invoice {invoice['DocumentNumber']}: net {invoice['Net']} SEK (HubSpot's line amounts: {net}), "
            f"total {invoice['Total']} SEK with VAT",
            *[f"  {row.get('DeliveredQuantity')} x {row.get('Description')}"
              f" ({'article ' + row['ArticleNumber'] if row.get('ArticleNumber') else 'no article: a row of its own'})"
              for row in rows],
            f"customer {customer['CustomerNumber']} \"{customer['Name']}\" was created (no organisation number to "
            "match on; the note says so, and the number is written back to the company, so its next deal finds it)"]


def card_shows_the_invoice(demo: Demo) -> list[str]:
    query = urlencode({"objectType": "0-3", "objectId": demo.facts["deal_id"]})
    fetched = demo.call("POST", f"{demo.hubspot_api_url}/_sandbox/cards/fetch", json={
        "portalId": int(demo.facts["portal_id"]), "appId": int(demo.environment["HUBSPOT_APP_ID"]),
        "url": f"{demo.public_base_url}/hubspot/card?{query}"}).json()
    card = fetched.get("body") or {}
    document = card.get("document") or {}
    if fetched.get("status") != 200 or str(document.get("number")) != demo.facts["document_number"]:
        raise DemoFailure(f"the deal's card does not show the invoice: {fetched}")
    run = card.get("lastRun") or {}
    return [f"HubSpot fetches the card (signed, as hubspot.fetch does) in {fetched.get('elapsedMs')} ms",
            f"it shows {document.get('type')} {document.get('number')}: {document.get('status')}, "
            f"total {document.get('total')} {document.get('currency')}; last run {run.get('status')}"]


def settings_page_warns_of_a_missing_licence(demo: Demo) -> list[str]:
    """Another customer's Fortnox company has invoicing but no Order licence: connecting it, the
    settings page says at once that orders will not work, and what to do."""
    company = demo.call("POST", f"{demo.fortnox_api_url}/_sandbox/companies", expect=(201,), json={
        "CompanyName": "Fakturaverket AB", "licences": ["kundfaktura", "bokforing"]}).json()
    browser = AdminBrowser()
    try:
        portal_id = install_hubnox(browser, demo.gateway_url)
        connect_fortnox(browser, demo.gateway_url, tenant_id=str(company["tenantId"]))
        page = demo.call("GET", f"{demo.gateway_url}/settings",
                         headers={"Cookie": f"hubnox_session={browser.session_cookie}"}).text
    finally:
        browser.close()
    status = re.search(r"data-fortnox-status>([^<]*)<", page)
    warnings = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
                for item in re.findall(r'<li class="status bad" data-feature="[a-z]+"[^>]*>(.*?)</li>', page, re.S)]
    if not status or not any(warning.startswith("Orders will not work") for warning in warnings):
        raise DemoFailure(f"the settings page does not warn that orders will not work: {warnings}")
    lines = [f"portal {portal_id} connects \"{company['CompanyName']}\" (database {company['tenantId']}), "
             "which has invoicing but no Order licence",
             f"the settings page shows: Fortnox company {company['CompanyName']} "
             f"{html.unescape(status.group(1)).strip()}"]
    lines += [f"  ! {warning}" for warning in warnings]
    return lines


#: the deal properties the status sync writes, read back in the last step
PAID_PROPERTIES = ("fortnox_document_status", "fortnox_document_total", "fortnox_document_balance",
                   "fortnox_document_currency", "fortnox_document_final_pay_date", "fortnox_status_synced_at")


def _last_request_id(url: str, demo: Demo) -> int:
    requests = demo.call("GET", f"{url}/_sandbox/requests").json()["requests"]
    return max((int(r["id"]) for r in requests), default=0)


def _calls_after(demo: Demo, url: str, mark: int, tenants: Callable[[str | None], bool]) -> list[str]:
    """The API calls a simulator logged after `mark` whose rate-limit key `tenants` accepts, as
    "METHOD path" (OAuth and the simulators' controls are not API calls)."""
    requests = demo.call("GET", f"{url}/_sandbox/requests").json()["requests"]
    return [f"{r['method']} {r['path']}" for r in requests
            if int(r["id"]) > mark and tenants(r.get("tenant"))
            and not r["path"].startswith(("/oauth", "/_sandbox"))]


def _counted(calls: list[str]) -> str:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call] = counts.get(call, 0) + 1
    return ", ".join(f"{n} x {call}" if n > 1 else call for call, n in counts.items()) or "none"


def customer_pays_and_the_deal_shows_it(demo: Demo) -> list[str]:
    """The money comes back: the bookkeeper books and sends the first invoice, the customer pays it
    in full, and one poller cycle later the deal in HubSpot says paid, with balance 0 and the date."""
    tenant, number, deal_id = demo.facts["tenant_id"], demo.facts["document_number"], demo.facts["deal_id"]
    bookkeep_invoice(demo.fortnox_api_url, tenant, number)
    send_invoice(demo.fortnox_api_url, tenant, number)
    paid = pay_invoice(demo.fortnox_api_url, tenant, number)
    invoice, payment = paid.get("Invoice") or {}, paid.get("InvoicePayment") or {}
    if Decimal(str(invoice.get("Balance"))) != 0:
        raise DemoFailure(f"Fortnox did not take the whole payment of invoice {number}: {paid}")
    marks = (_last_request_id(demo.fortnox_api_url, demo), _last_request_id(demo.hubspot_api_url, demo))
    started = time.monotonic()
    ticked = demo.call("POST", f"{demo.gateway_url}/_sandbox/poller/tick", timeout=60).json()["result"]
    elapsed = time.monotonic() - started
    # Fortnox keys its limit by "<tenant>/<client id>"; HubSpot by portal, except searches (their own
    # limit, no key): the other portal of the story has no documents and no rules, so makes none.
    fortnox_calls = _calls_after(demo, demo.fortnox_api_url, marks[0],
                                 lambda key: str(key).startswith(f"{tenant}/"))
    hubspot_calls = _calls_after(demo, demo.hubspot_api_url, marks[1],
                                 lambda key: key is None or str(key) == str(demo.facts["portal_id"]))
    deal = demo.call("GET", f"{demo.hubspot_api_url}/crm/objects/2026-03/0-3/{deal_id}",
                     headers=_bearer(demo.facts["hubspot_token"]),
                     params={"properties": ",".join(PAID_PROPERTIES)}).json()["properties"]
    balance = deal.get("fortnox_document_balance")
    if deal.get("fortnox_document_status") != "paid" or balance in (None, "") or Decimal(str(balance)) != 0 \
            or deal.get("fortnox_document_final_pay_date") != payment.get("PaymentDate"):
        raise DemoFailure(f"one cycle after the payment, deal {deal_id} does not show invoice {number} paid: "
                          f"{ {name: deal.get(name) for name in PAID_PROPERTIES} } (tick {ticked})")
    return [f"the bookkeeper books and sends invoice {number} in Fortnox; the customer pays "
            f"{payment.get('Amount')} {invoice.get('Currency')} on {payment.get('PaymentDate')} "
            f"(payment {payment.get('Number')}, balance {invoice.get('Balance')})",
            f"one poller tick ({elapsed:.1f} s): the portal's status sync reads what changed in Fortnox since "
            "its cursor and writes only the changed values to HubSpot, in batch updates",
            f"deal {deal_id} in HubSpot: fortnox_document_status {deal['fortnox_document_status']}, total "
            f"{deal.get('fortnox_document_total')} {deal.get('fortnox_document_currency')}, balance {balance}, "
            f"final pay date {deal['fortnox_document_final_pay_date']}",
            "the tick's calls for this portal (the status sync's, and the HubSpot poll's for its rule): "
            f"Fortnox {len(fortnox_calls)} ({_counted(fortnox_calls)}); "
            f"HubSpot {len(hubspot_calls)} ({_counted(hubspot_calls)})"]


def page_data_meta(page: str, name: str) -> str:
    """The content of the page's `<meta name=...>` tag."""
    marker = f'name="{name}" content="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: The story, in order.
STORY: list[tuple[str, Step]] = [
    ("The local stack is up", stack_is_up),
    ("An admin installs hubnox from HubSpot", admin_installs_hubnox),
    ("The admin connects Fortnox from the settings page", admin_connects_fortnox),
    ("The admin chooses what becomes an invoice, on the settings page", admin_saves_settings),
    ("A rep creates a deal for a company, with line items", deal_with_line_items),
    ("A HubSpot workflow runs hubnox's action on the deal", workflow_runs_hubnox),
    ("The worker turns the deal into a draft Fortnox invoice", worker_makes_the_invoice),
    ("The deal gets a note with the invoice's PDF", note_on_the_deal),
    ("A second run finds the invoice instead of making another", once_is_once),
    ("A deal moved to Closed won becomes an invoice within seconds, through HubSpot's webhook",
     webhook_invoices_closed_won),
    ("With the webhook late, the poller invoices a deal that entered Closed won", poller_invoices_closed_won),
    ("An everyday deal: a line without a SKU, a company without an organisation number", everyday_deal_is_invoiced),
    ("The deal's app card shows the invoice", card_shows_the_invoice),
    ("A Fortnox company without the Order licence: the settings page warns", settings_page_warns_of_a_missing_licence),
    ("The customer pays the invoice in Fortnox; the deal in HubSpot shows it", customer_pays_and_the_deal_shows_it),
]


def tell(demo: Demo, story: list[tuple[str, Step]] = STORY, out: Callable[[str], None] = print) -> None:
    """Run the steps in order, printing each; the first failure stops the story (DemoFailure)."""
    for number, (title, step) in enumerate(story, start=1):
        out(f"[{number}/{len(story)}] {title}")
        for line in step(demo):
            out(f"      {line}")


# -- running the stack ---------------------------------------------------------------------------


def demo_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for `up` and the demo alike: the caller's, plus the app's credentials."""
    return {**environ, **app_environment(environ), "PYTHONUNBUFFERED": "1"}


def wait_for_health(url: str, process: subprocess.Popen[bytes],
                    timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
    """The gateway's health once it answers; a DemoFailure if the stack exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailure(f"the stack exited with {process.returncode} before it was up")
        try:
            response = httpx.get(f"{url}/_sandbox/health", timeout=1.0)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise DemoFailure(f"the stack did not answer on {url} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask the stack to stop (SIGTERM), and end it if it does not within ten seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_demo(port: int, out: Callable[[str], None] = print) -> int:
    """Start the stack on `port`, tell the story, stop the stack; 0 when every step passed."""
    started = time.monotonic()
    environment = demo_environment(os.environ)
    output_dir = Path(tempfile.mkdtemp(prefix="hubnox-demo-"))
    log_path = output_dir / "stack.log"
    gateway_url = f"http://127.0.0.1:{port}"
    out(f"demo: starting the local stack on port {port} (its log: {log_path})")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "up", "--port", str(port)],
            cwd=REPO_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            health = wait_for_health(gateway_url, process)
            with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
                demo = Demo(
                    gateway_url=gateway_url, hubspot_api_url=health["hubspot_api"],
                    hubspot_auth_url=health["hubspot_auth"], fortnox_api_url=health["fortnox_api"],
                    fortnox_auth_url=health["fortnox_auth"], environment=environment, http=http,
                    output_dir=output_dir,
                )
                tell(demo, out=out)
        except DemoFailure as failure:
            stop_process(process)
            out(f"demo: FAILED: {failure}")
            out("last lines of the stack's log:")
            for line in log_path.read_text(errors="replace").splitlines()[-30:]:
                out(f"  | {line}")
            return 1
        finally:
            stop_process(process)
    out(f"demo: OK ({len(STORY)} steps in {time.monotonic() - started:.1f} s; files in {output_dir})")
    return 0
