"""A deal becomes exactly one Fortnox document through the whole local stack: hubnox installed and
Fortnox connected through the gateway's OAuth routes, CRM data seeded through HubSpot's real API, a
job on the stack's queue, the worker drained, and both simulators read back. Faults injected into
the Fortnox simulator (429s, a 5xx on the create, an answer lost after Fortnox acted) still end in
one document and a note that tells the truth."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from hubnox.config import AppConfig
from hubnox.jobs import LAST_TRY, Job, JobQueue, submit
from hubnox.records import Run, RunRequest
from hubnox.store.runs import RunStore
from tests.support.workflows import CRM, Rep, drain, table

pytestmark = pytest.mark.e2e

DEAL_TO_COMPANY_PRIMARY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
LINE_ITEM_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
LINES = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT",
     "hs_discount_percentage": "10"},
    {"name": "Support, reduced VAT test", "quantity": "2.5", "price": "99.99", "hs_sku": "HNX-SUP"},
)


@pytest.fixture
def rep(stack, connected_portal) -> Rep:
    return Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)


@pytest.fixture
def fortnox_faults(stack):
    """Faults to inject into the Fortnox simulator; every one is cleared after the test."""
    def add(**fault: Any) -> None:
        response = stack.fortnox.post("/_sandbox/faults", json=fault)
        assert response.status_code == 201, response.text

    yield add
    stack.fortnox.delete("/_sandbox/faults")


def company_deal(rep: Rep) -> tuple[str, list[dict[str, Any]]]:
    """A deal of a company with an organisation number, with line items; answers the deal id and the
    line items as HubSpot computed them."""
    company = rep.call("POST", f"{CRM}/companies", 201, json={"properties": {
        "name": "Acme AB", "organisation_number": "556036-0793", "city": "Stockholm", "country": "SE"},
        "associations": []})
    deal = rep.call("POST", f"{CRM}/0-3", 201, json={"properties": {
        "dealname": "Acme AB - hubnox rollout", "pipeline": "default", "dealstage": "contractsent",
        "deal_currency_code": "SEK"},
        "associations": [{"to": {"id": company["id"]}, "types": [DEAL_TO_COMPANY_PRIMARY]}]})
    items = [rep.call("POST", f"{CRM}/line_items", 201, json={
        "properties": line, "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}]})
        for line in LINES]
    read = rep.call("POST", f"{CRM}/line_items/batch/read", json={
        "properties": ["name", "quantity", "price", "amount"], "propertiesWithHistory": [],
        "inputs": [{"id": item["id"]} for item in items]})["results"]
    return str(deal["id"]), sorted((r["properties"] for r in read), key=lambda p: LINES.index(
        next(line for line in LINES if line["name"] == p["name"])))


def enqueue(stack, portal_id: str, deal_id: str, document_type: str | None = "invoice") -> Run:
    """The job an entry point hands the worker, on the stack's own queue."""
    queue = JobQueue(stack.aws("sqs"), stack.environment["JOBS_QUEUE_URL"])
    key = f"manual:{document_type or 'default'}"
    request = RunRequest(portal_id=portal_id, kind="create_document", trigger="card", object_type="deal",
                         object_id=deal_id, document_type=document_type, trigger_key=key)  # type: ignore[arg-type]
    return submit(RunStore(table(stack), time.time), queue, request)


def fortnox_documents(stack, tenant_id: str, deal_id: str, kind: str = "Invoices") -> list[dict[str, Any]]:
    company = stack.fortnox.get(f"/_sandbox/companies/{tenant_id}").json()
    return [doc for doc in company[kind] if str(doc.get("ExternalInvoiceReference1")) == deal_id]


def run_of(stack, portal_id: str, run_id: str) -> Run:
    run = RunStore(table(stack), time.time).get(portal_id, run_id)
    assert run is not None
    return run


def deal_notes(stack, rep: Rep, deal_id: str) -> list[dict[str, str]]:
    """The deal's notes with their attachments, as HubSpot holds them."""
    linked = rep.call("GET", f"{CRM}/0-3/{deal_id}/associations/notes")["results"]
    ids = sorted((str(link["toObjectId"]) for link in linked), key=int)
    return [rep.call("GET", f"{CRM}/notes/{note_id}", params={"properties": "hs_note_body,hs_attachment_ids"})
            ["properties"] for note_id in ids]


def attachment(stack, note: dict[str, str]) -> bytes:
    return stack.hubspot.get(f"/_sandbox/files/{note['hs_attachment_ids']}/content").content


def test_a_deal_becomes_one_draft_invoice_whose_rows_and_totals_match_with_its_pdf_on_a_note(
        stack, connected_portal, rep):
    deal_id, lines = company_deal(rep)
    run = enqueue(stack, connected_portal.portal_id, deal_id)

    drain(stack)

    [invoice] = fortnox_documents(stack, connected_portal.tenant_id, deal_id)
    assert run_of(stack, connected_portal.portal_id, run.run_id).status == "succeeded"
    assert invoice["Booked"] is False and invoice["Sent"] is False
    assert [(row["Description"], Decimal(str(row["Total"]))) for row in invoice["InvoiceRows"]] == [
        (line["name"], Decimal(line["amount"])) for line in lines]
    assert Decimal(str(invoice["Net"])) == sum(Decimal(line["amount"]) for line in lines)
    [note] = deal_notes(stack, rep, deal_id)
    assert f"Fortnox invoice {invoice['DocumentNumber']}</strong> was created" in note["hs_note_body"]
    assert attachment(stack, note).startswith(b"%PDF-")
    deal = rep.call("GET", f"{CRM}/0-3/{deal_id}", params={
        "properties": "fortnox_document_number,fortnox_sync_status,fortnox_customer_number"})["properties"]
    assert (deal["fortnox_document_number"], deal["fortnox_sync_status"]) == (invoice["DocumentNumber"], "succeeded")


def test_with_the_order_setting_the_deal_becomes_one_order(stack, connected_portal, rep):
    headers = {"Cookie": f"hubnox_session={connected_portal.login_cookie}",
               "X-CSRF-Token": connected_portal.csrf_token()}
    current = stack.gateway.get("/settings/api/settings", headers=headers).json()
    saved = stack.gateway.put("/settings/api/settings", headers=headers, json={
        "version": current["version"], "settings": {**current["settings"], "default_document_type": "order"}})
    assert saved.status_code == 200, saved.text
    deal_id, lines = company_deal(rep)
    enqueue(stack, connected_portal.portal_id, deal_id, document_type=None)

    drain(stack)

    [order] = fortnox_documents(stack, connected_portal.tenant_id, deal_id, "Orders")
    assert fortnox_documents(stack, connected_portal.tenant_id, deal_id) == []
    assert Decimal(str(order["Net"])) == sum(Decimal(line["amount"]) for line in lines)
    [note] = deal_notes(stack, rep, deal_id)
    assert f"Fortnox order {order['DocumentNumber']}" in note["hs_note_body"]
    assert attachment(stack, note).startswith(b"%PDF-")


def test_a_429_and_then_a_5xx_on_the_create_still_make_one_invoice_and_a_truthful_note(
        stack, connected_portal, rep, fortnox_faults):
    deal_id, _ = company_deal(rep)
    fortnox_faults(kind="status", method="POST", path="/3/invoices", status=429,
                   body={"message": "Too Many Requests"}, times=1)
    fortnox_faults(kind="status", method="POST", path="/3/invoices", status=503, times=1)
    run = enqueue(stack, connected_portal.portal_id, deal_id)

    drain(stack)

    [invoice] = fortnox_documents(stack, connected_portal.tenant_id, deal_id)
    stored = run_of(stack, connected_portal.portal_id, run.run_id)
    assert (stored.status, stored.attempts) == ("succeeded", 2)
    [note] = deal_notes(stack, rep, deal_id)
    assert f"Fortnox invoice {invoice['DocumentNumber']}</strong> was created" in note["hs_note_body"]
    assert attachment(stack, note).startswith(b"%PDF-")


def test_a_create_whose_answer_is_lost_after_fortnox_acted_still_makes_one_invoice(
        stack, connected_portal, rep, fortnox_faults):
    deal_id, _ = company_deal(rep)
    # Fortnox creates the invoice, then answers only after hubnox's client has given up waiting.
    fortnox_faults(kind="timeout_after", method="POST", path="/3/invoices", times=1,
                   seconds=AppConfig().http_timeout_seconds + 0.5)
    run = enqueue(stack, connected_portal.portal_id, deal_id)

    drain(stack)

    [invoice] = fortnox_documents(stack, connected_portal.tenant_id, deal_id)
    stored = run_of(stack, connected_portal.portal_id, run.run_id)
    assert (stored.status, stored.attempts, stored.result["origin"]) == ("succeeded", 2, "adopted")
    assert stored.result["document_number"] == invoice["DocumentNumber"]
    [note] = deal_notes(stack, rep, deal_id)
    assert f"Fortnox invoice {invoice['DocumentNumber']}</strong> was created" in note["hs_note_body"]
    assert attachment(stack, note).startswith(b"%PDF-")


def test_a_job_that_fails_on_every_try_ends_failed_with_a_note_in_the_dead_letter_queue_and_alarms(
        stack, connected_portal, rep, fortnox_faults):
    deal_id, _ = company_deal(rep)
    fortnox_faults(kind="status", method="POST", path="/3/invoices", status=503, times=None)
    dead_before = stack.gateway.get("/_sandbox/queues").json()["dead_letter"]
    run = enqueue(stack, connected_portal.portal_id, deal_id)

    drain(stack)

    stored = run_of(stack, connected_portal.portal_id, run.run_id)
    assert (stored.status, stored.error_code, stored.attempts) == ("failed", "UPSTREAM_UNAVAILABLE", LAST_TRY)
    assert stored.error_message.startswith(f"Gave up after {LAST_TRY} tries")
    assert fortnox_documents(stack, connected_portal.tenant_id, deal_id) == []
    [note] = deal_notes(stack, rep, deal_id)
    assert "kept failing after several tries" in note["hs_note_body"]
    # The message waits in the dead-letter queue, for inspection and redrive.
    assert stack.gateway.get("/_sandbox/queues").json()["dead_letter"] == dead_before + 1
    dead = stack.aws("sqs").receive_message(QueueUrl=stack.running.aws.resources.dlq_url, MaxNumberOfMessages=10,
                                            VisibilityTimeout=0)["Messages"]
    assert run.run_id in [Job.from_message(message["Body"]).run_id for message in dead
                          if "no_such_job" not in message["Body"]]
    # ...and the alarm's metric, the dead-letter queue's visible messages, is raised past its threshold.
    alarm = stack.gateway.get("/_sandbox/alarms").json()["JobsDLQAlarm"]
    assert (alarm["metric"], alarm["value"], alarm["state"]) == (
        "ApproximateNumberOfMessagesVisible", dead_before + 1, "ALARM")


def test_a_drain_that_respects_visibility_keeps_the_workers_backoff_between_tries(
        stack, connected_portal, rep, fortnox_faults):
    deal_id, _ = company_deal(rep)
    fortnox_faults(kind="status", method="POST", path="/3/invoices", status=503, times=1)
    run = enqueue(stack, connected_portal.portal_id, deal_id)

    drained = stack.gateway.post("/_sandbox/worker/drain", json={"respect_visibility": True, "timeout": 3},
                                 timeout=30).json()

    # The first try failed and the job hides for its 30 s backoff, as on AWS: no second try yet.
    assert (drained["timed_out"], drained["respect_visibility"], drained["jobs_in_flight"]) == (True, True, 1)
    assert run_of(stack, connected_portal.portal_id, run.run_id).attempts == 1
    drain(stack)  # the default drain skips the backoff
    stored = run_of(stack, connected_portal.portal_id, run.run_id)
    assert (stored.status, stored.attempts) == ("succeeded", 2)


def test_a_note_hubspot_refuses_for_a_while_is_written_by_a_follow_up_and_the_run_ends_told(
        stack, connected_portal, rep):
    deal_id, _ = company_deal(rep)
    answer = stack.hubspot.post("/_sandbox/faults", json={"kind": "status", "method": "POST",
                                                          "path": "/crm/objects/2026-03/notes", "status": 503,
                                                          "times": 6})
    assert answer.status_code == 201, answer.text
    try:
        run = enqueue(stack, connected_portal.portal_id, deal_id)
        drain(stack)  # the drain skips the follow-ups' delays as it skips the backoff
    finally:
        stack.hubspot.delete("/_sandbox/faults")

    stored = run_of(stack, connected_portal.portal_id, run.run_id)
    assert (stored.status, stored.delivery, stored.final) == ("succeeded", "delivered", True)
    [note] = deal_notes(stack, rep, deal_id)
    assert "was created as a draft" in note["hs_note_body"] and note["hs_attachment_ids"]
    assert len(fortnox_documents(stack, connected_portal.tenant_id, deal_id)) == 1
