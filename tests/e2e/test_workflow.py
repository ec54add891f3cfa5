"""HubSpot's workflows reach hubnox through the local gateway: the simulator enrolls a deal and sends the
signed execution, hubnox answers BLOCK, the worker makes the invoice and completes the callback. A
deal entering a trigger stage is found by the poller the same way."""

from __future__ import annotations

import httpx
import pytest

from hubnox.store.portal_settings import SettingsStore
from sandbox.admin import AdminBrowser, flush_webhooks, install_hubnox, pause_webhooks, resume_webhooks, seeder_token
from tests.support.workflows import CRM, Rep, callback, drain, enroll, fortnox_invoices, portal_runs, table, tick

pytestmark = pytest.mark.e2e


@pytest.fixture
def rep(stack, connected_portal) -> Rep:
    return Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)


# -- the workflow action -----------------------------------------------------------------------------------


def test_an_enrolled_deal_is_answered_block_and_recorded_as_one_run(stack, connected_portal, rep):
    deal_id = rep.deal()

    delivery = enroll(stack, connected_portal.portal_id, deal_id)

    assert delivery["status"] == 200
    assert delivery["body"]["outputFields"]["hs_execution_state"] == "BLOCK"
    [run] = portal_runs(stack, connected_portal.portal_id)
    assert (run.kind, run.trigger, run.object_id, run.trigger_key, run.callback_id) == (
        "create_document", "workflow", deal_id, "workflow:invoice", delivery["callbackId"])


def test_the_worker_makes_the_invoice_and_completes_the_callback_with_its_number(stack, connected_portal, rep):
    deal_id = rep.deal()
    delivery = enroll(stack, connected_portal.portal_id, deal_id)

    drain(stack)

    completed = callback(stack, delivery["callbackId"])
    assert completed["state"] == "COMPLETED", completed
    assert (completed["executionState"], completed["completedBy"]) == ("SUCCESS", "CALLBACK")
    outputs = completed["outputFields"]
    assert outputs["documentType"] == "invoice" and outputs["documentNumber"]
    invoices = fortnox_invoices(stack, connected_portal.tenant_id, deal_id)
    assert [invoice["DocumentNumber"] for invoice in invoices] == [outputs["documentNumber"]]


def test_the_same_execution_delivered_twice_makes_one_run_and_one_invoice(stack, connected_portal, rep):
    deal_id = rep.deal()
    first = enroll(stack, connected_portal.portal_id, deal_id)
    again = enroll(stack, connected_portal.portal_id, deal_id, callback_id=first["callbackId"])

    assert again["body"]["outputFields"]["hs_execution_state"] == "BLOCK"
    assert len(portal_runs(stack, connected_portal.portal_id)) == 1
    drain(stack)
    assert len(fortnox_invoices(stack, connected_portal.tenant_id, deal_id)) == 1


def test_a_deal_deleted_after_enrolment_ends_the_action_with_a_clear_failure(stack, connected_portal, rep):
    deal_id = rep.deal()
    # The stack's worker may take the job at once: from enrolment on, the deal reads as HubSpot
    # answers for a deleted one, whenever the job runs.
    gone = {"kind": "status", "method": "GET", "path": f"/crm/objects/2026-03/0-3/{deal_id}", "status": 404,
            "body": {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "resource not found"},
            "times": None}
    assert stack.hubspot.post("/_sandbox/faults", json=gone).status_code == 201
    try:
        delivery = enroll(stack, connected_portal.portal_id, deal_id)
        rep.call("DELETE", f"{CRM}/0-3/{deal_id}", 204)
        drain(stack)
    finally:
        stack.hubspot.delete("/_sandbox/faults")

    completed = callback(stack, delivery["callbackId"])
    assert completed["executionState"] == "FAIL_CONTINUE"
    assert completed["outputFields"]["errorCode"] and completed["outputFields"]["errorMessage"]
    [run] = portal_runs(stack, connected_portal.portal_id)
    assert run.status == "failed"


def test_a_delivery_signed_by_another_app_is_refused_and_nothing_is_recorded(stack, connected_portal, rep):
    stack.hubspot.post("/_sandbox/apps", json={"appId": 7070707, "clientId": "someone-else",
                                               "clientSecret": "someone-elses-secret"})
    deal_id = rep.deal()

    delivery = enroll(stack, connected_portal.portal_id, deal_id, client_id="someone-else")

    assert (delivery["status"], delivery["state"]) == (401, "FAILED")
    assert portal_runs(stack, connected_portal.portal_id) == []


def test_a_portal_without_fortnox_sees_the_reason_in_the_workflow_at_once(stack):
    browser = AdminBrowser()
    try:
        portal_id = install_hubnox(browser, stack.running.gateway_url)
    finally:
        browser.close()
    rep = Rep(stack, portal_id, seeder_token(stack.running.hubspot_api_url, portal_id))

    delivery = enroll(stack, portal_id, rep.deal())

    assert delivery["state"] == "COMPLETED"
    outputs = delivery["body"]["outputFields"]  # the action's own answer, as HubSpot received it
    assert (outputs["hs_execution_state"], outputs["errorCode"]) == ("FAIL_CONTINUE", "FORTNOX_NOT_CONNECTED")
    [run] = portal_runs(stack, portal_id)
    assert run.status == "failed"


def test_the_gateway_refuses_an_unsigned_action_request(stack):
    response = httpx.post(f"{stack.running.gateway_url}/hubspot/actions/create-document",
                          json={"callbackId": "ap-1"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "SIGNATURE_MISSING"


# -- deal stages -------------------------------------------------------------------------------------------


def test_a_deal_entering_a_trigger_stage_is_enqueued_once_and_becomes_an_order(stack, connected_portal, rep):
    SettingsStore(table(stack)).put(connected_portal.portal_id, {"trigger_stages": [
        {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "order"}]}, 0)
    deal_id = rep.deal()
    pause_webhooks(stack.running.hubspot_api_url)  # the poller alone: the safety net when a webhook is late or lost
    try:
        rep.move(deal_id, "closedwon")

        first, second = tick(stack), tick(stack)
    finally:
        resume_webhooks(stack.running.hubspot_api_url)
    flush_webhooks(stack.running.hubspot_api_url)  # the late webhook for the same move makes no second run

    assert first["enqueued"] >= 1 and second["enqueued"] == 0
    mine = [run for run in portal_runs(stack, connected_portal.portal_id) if run.object_id == deal_id]
    assert [(run.trigger, run.trigger_key, run.document_type) for run in mine] == [
        ("poller", "stage:closedwon:order", "order")]
    drain(stack)
    assert tick(stack)["enqueued"] == 0  # hubnox's own note and properties on the deal do not retrigger it
    company = stack.fortnox.get(f"/_sandbox/companies/{connected_portal.tenant_id}").json()
    assert [order["ExternalInvoiceReference1"] for order in company["Orders"]] == [deal_id]
