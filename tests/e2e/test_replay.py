"""Replay, end to end: the Replay link in a failure note opens a confirmation page that changes nothing;
after the rep fixes the deal, the page's button makes the invoice; replaying a run that made a document
reports that document instead of making another."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.links import replay_url
from hubnox.signing import Signer
from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, seeder_token
from tests.support.workflows import Rep, callback, drain, enroll, fortnox_invoices, portal_runs

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser():
    with httpx.Client(timeout=15, follow_redirects=False) as client:
        yield client


def replay_link_in(note: str) -> str:
    found = re.search(r'href="([^"]*/replay/[^"]*)"', note)
    assert found, note
    return html.unescape(found.group(1))


def press_replay(browser: httpx.Client, link: str) -> httpx.Response:
    """What the page's Replay button sends: a form POST to the page's action, carrying the token."""
    token = parse_qs(urlsplit(link).query)["t"][0]
    return browser.post(link.split("?")[0], data={"t": token})


def test_the_replay_link_in_a_failure_note_confirms_first_then_makes_the_invoice_after_the_fix(
        stack, connected_portal, browser):
    rep = Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)
    deal_id = rep.deal(line_items=False)
    delivery = enroll(stack, connected_portal.portal_id, deal_id)
    drain(stack)
    assert callback(stack, delivery["callbackId"])["executionState"] == "FAIL_CONTINUE"
    [failed] = portal_runs(stack, connected_portal.portal_id)
    link = replay_link_in(rep.notes(deal_id)[-1])
    assert link.startswith(f"{stack.running.gateway_url}/replay/{failed.run_id}?t=")

    page = browser.get(link)
    page_again = browser.get(link)

    assert page.status_code == page_again.status_code == 200
    assert "Replay this run?" in page.text and f"deal {deal_id}" in page.text and "Failed" in page.text
    assert len(portal_runs(stack, connected_portal.portal_id)) == 1  # opening the link changed nothing

    rep.add_line_items(deal_id)
    queued = press_replay(browser, link)
    drain(stack)

    assert queued.status_code == 200 and "Replay queued" in queued.text
    replayed = portal_runs(stack, connected_portal.portal_id)[0]
    assert (replayed.trigger, replayed.replay_of, replayed.status) == ("replay", failed.run_id, "succeeded")
    assert replayed.trigger_key == failed.trigger_key == "workflow:invoice"
    assert len(fortnox_invoices(stack, connected_portal.tenant_id, deal_id)) == 1
    # The link has done its work: it now names the invoice the replay made, and replays nothing.
    [invoice] = fortnox_invoices(stack, connected_portal.tenant_id, deal_id)
    again = press_replay(browser, link)
    assert again.status_code == 200 and "Already done" in again.text
    assert f"invoice {invoice['DocumentNumber']}" in again.text
    assert len(portal_runs(stack, connected_portal.portal_id)) == 2


def test_replaying_a_run_that_made_the_invoice_reports_it_and_makes_no_other(stack, connected_portal, browser):
    rep = Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)
    deal_id = rep.deal()
    enroll(stack, connected_portal.portal_id, deal_id)
    drain(stack)
    [made] = portal_runs(stack, connected_portal.portal_id)
    signer = Signer(stack.environment["SIGNING_KEY"])
    link = replay_url(signer, stack.running.gateway_url, connected_portal.portal_id, made.run_id)

    page = browser.get(link)
    assert "makes no second document" in page.text and f"invoice {made.result['document_number']}" in page.text
    press_replay(browser, link)
    drain(stack)

    replayed = portal_runs(stack, connected_portal.portal_id)[0]
    assert replayed.replay_of == made.run_id and replayed.status == "succeeded"
    assert replayed.result["document_number"] == made.result["document_number"]
    assert len(fortnox_invoices(stack, connected_portal.tenant_id, deal_id)) == 1


def test_a_workflow_run_from_before_fortnox_was_connected_is_replayed_once_it_is(stack, browser):
    admin = AdminBrowser()
    try:
        portal_id = install_hubnox(admin, stack.running.gateway_url)
        rep = Rep(stack, portal_id, seeder_token(stack.running.hubspot_api_url, portal_id))
        deal_id = rep.deal()
        enroll(stack, portal_id, deal_id)
        [waiting] = portal_runs(stack, portal_id)
        page = connect_fortnox(admin, stack.running.gateway_url)
    finally:
        admin.close()
    tenant_id = re.search(r'data-fortnox-tenant="([^"]*)"', page).group(1)
    link = replay_url(Signer(stack.environment["SIGNING_KEY"]), stack.running.gateway_url, portal_id,
                      waiting.run_id)

    assert "not connected to Fortnox" in browser.get(link).text
    press_replay(browser, link)
    drain(stack)

    assert portal_runs(stack, portal_id)[0].status == "succeeded"
    assert len(fortnox_invoices(stack, tenant_id, deal_id)) == 1


def test_a_forged_link_gets_a_page_that_says_it_does_not_work(stack, connected_portal, browser):
    signer = Signer("not-the-stacks-signing-key-at-all")
    link = replay_url(signer, stack.running.gateway_url, connected_portal.portal_id, "01JDQ7Z5M3X8R2K9V4T6W0B1C7")

    for response in (browser.get(link), press_replay(browser, link)):
        assert response.status_code == 401
        assert "This Replay link does not work" in response.text
    assert portal_runs(stack, connected_portal.portal_id) == []
