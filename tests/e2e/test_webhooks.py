"""HubSpot's webhooks reach hubnox through the local gateway: a v3-signed batch saying a deal entered a
trigger stage becomes one invoice, and the poller finding the same deal afterwards makes no second run."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from hubnox.store.portal_settings import SettingsStore
from hubnox.store.trigger_log import TriggerLogStore
from sandbox.admin import flush_webhooks, pause_webhooks, resume_webhooks
from sandbox.hubspot_signing import signature_headers
from tests.e2e.test_settings_admins import OVERFLOWING, context_for
from tests.e2e.test_settings_page import browser  # noqa: F401 (the shared browser fixture)
from tests.support.workflows import Rep, drain, fortnox_invoices, portal_runs, table, tick

pytestmark = pytest.mark.e2e


def post_batch(stack, events: list[dict]) -> httpx.Response:
    """The batch as HubSpot's webhooks send it: JSON array, signed v3 with the app's client secret now."""
    body = json.dumps(events, separators=(",", ":"))
    uri = f"{stack.environment['PUBLIC_BASE_URL']}/hubspot/webhooks"
    headers = signature_headers(stack.environment["HUBSPOT_CLIENT_SECRET"], "POST", uri, body,
                                int(time.time() * 1000), versions=("v1", "v3"))
    headers["Content-Type"] = "application/json"
    return stack.gateway.post("/hubspot/webhooks", content=body, headers=headers)


def stage_change(portal_id: str, deal_id: str, stage: str, event_id: int) -> dict:
    return {"eventId": event_id, "subscriptionId": 3044231, "portalId": int(portal_id), "appId": 10646377,
            "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
            "objectId": int(deal_id), "propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI"}


def test_a_signed_stage_change_becomes_one_invoice_and_the_poller_adds_no_run(stack, connected_portal):
    portal_id = connected_portal.portal_id
    SettingsStore(table(stack)).put(portal_id, {"trigger_stages": [
        {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "invoice"}]}, 0)
    rep = Rep(stack, portal_id, connected_portal.hubspot_token)
    deal_id = rep.deal()
    hubspot = stack.running.hubspot_api_url
    pause_webhooks(hubspot)  # the batch below is the first news of the move, not the simulator's own webhook
    try:
        rep.move(deal_id, "closedwon")
        event_id = int(deal_id) * 10

        response = post_batch(stack, [stage_change(portal_id, deal_id, "closedwon", event_id)])
        again = post_batch(stack, [stage_change(portal_id, deal_id, "closedwon", event_id)])  # HubSpot's retry
    finally:
        resume_webhooks(hubspot)
    flush_webhooks(hubspot)  # the simulator's webhook for the same move, late: no second run

    assert response.status_code == 200, response.text
    assert response.json()["enqueued"] == 1 and again.json()["enqueued"] == 0
    drain(stack)
    assert [invoice["ExternalInvoiceReference1"] for invoice in
            fortnox_invoices(stack, connected_portal.tenant_id, deal_id)] == [deal_id]
    tick(stack)
    mine = [run for run in portal_runs(stack, portal_id) if run.object_id == deal_id]
    assert [(run.trigger, run.trigger_key, run.status) for run in mine] == [
        ("webhook", "stage:closedwon:invoice", "succeeded")]
    decisions = TriggerLogStore(table(stack), time.time).for_deal(portal_id, deal_id).records
    assert decisions[-1]["decision"] == "enqueued" and decisions[-1]["source"] == "webhook"


def test_the_gateway_refuses_an_unsigned_webhook_batch(stack):
    response = httpx.post(f"{stack.running.gateway_url}/hubspot/webhooks", json=[], timeout=10)

    assert response.status_code == 401
    assert response.json()["code"] == "SIGNATURE_MISSING"


def test_an_admin_asks_why_a_deal_did_or_did_not_trigger_at_360px(browser, stack, connected_portal):  # noqa: F811
    portal_id = connected_portal.portal_id
    SettingsStore(table(stack)).put(portal_id, {"trigger_stages": [
        {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "invoice"}]}, 0)
    rep = Rep(stack, portal_id, connected_portal.hubspot_token)
    deal_id = rep.deal()
    post_batch(stack, [stage_change(portal_id, deal_id, "contractsent", int(deal_id) * 10 + 1)])
    post_batch(stack, [stage_change(portal_id, deal_id, "closedwon", int(deal_id) * 10 + 2)])
    gateway = stack.running.gateway_url
    context = context_for(browser, gateway, connected_portal.login_cookie, 360)
    errors: list[str] = []
    try:
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{gateway}/settings/log")
        section = tab.locator("#trigger-log")
        section.get_by_text("Why did this deal (not) trigger?").click()
        section.get_by_label("Deal id").fill(deal_id)
        section.get_by_role("button", name="Explain").click()
        section.locator("[data-trigger-list] > li").nth(1).wait_for()

        listed = [section.locator("[data-trigger-list] > li").nth(i).inner_text() for i in range(2)]
        assert "enqueued (run " in listed[0] and "stage:closedwon:invoice" in listed[0] and "Webhook" in listed[0]
        assert "stage not a trigger" in listed[1] and "contractsent" in listed[1]
        assert tab.evaluate(OVERFLOWING) == []

        section.get_by_label("Deal id").fill("1")
        section.get_by_role("button", name="Explain").click()
        tab.wait_for_function("document.querySelector('[data-trigger-status]').textContent.startsWith('Nothing')")
        assert section.locator("[data-trigger-list] > li").count() == 0
        assert errors == []
    finally:
        context.close()
