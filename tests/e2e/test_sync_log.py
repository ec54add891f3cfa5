"""The sync log in a real browser against the local stack, 360 px wide as in HubSpot's frame: an admin
reaches it from the settings page, finds runs by each filter and by search, pages back and forth,
opens a run's story, and sees a failure a later run made good without a Replay link.

The failed, fixed and made runs go through the workflow action and the worker as in production; a
few dozen product syncs are written to the stack's table directly, only so that the log has pages.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubnox.records import RunRequest
from hubnox.store.runs import RunStore
from tests.e2e.test_settings_admins import OVERFLOWING, context_for
from tests.e2e.test_settings_page import browser  # noqa: F401 (the shared browser fixture)
from tests.support.workflows import Rep, drain, enroll, portal_runs, table

pytestmark = pytest.mark.e2e

PAGE_SIZE = 25  # what the page asks for
FILLERS = 27


def make_runs(stack: Any, portal: Any) -> dict[str, Any]:
    """Product syncs for paging, then a failure that a second try made good, a failure left alone and
    an invoice made at once; answers the runs by role, with the made invoice's number."""
    store = RunStore(table(stack), time.time)
    for n in range(FILLERS):
        run = store.create(RunRequest(portal_id=portal.portal_id, kind="sync_products", trigger="settings"))
        store.mark_running(portal.portal_id, run.run_id)
        store.succeed(portal.portal_id, run.run_id, {"summary": f"{n} products checked"})
    rep = Rep(stack, portal.portal_id, portal.hubspot_token)
    fixed = rep.deal(name="Öresund Fika AB", line_items=False)
    enroll(stack, portal.portal_id, fixed)
    drain(stack)
    rep.add_line_items(fixed)
    enroll(stack, portal.portal_id, fixed)
    drain(stack)
    broken = rep.deal(name="Broken Bikes AB", line_items=False)
    enroll(stack, portal.portal_id, broken)
    drain(stack)
    made = rep.deal(name="Made Motors AB")
    enroll(stack, portal.portal_id, made)
    drain(stack)
    made_run, broken_run, fixed_run, lost_run = portal_runs(stack, portal.portal_id)[:4]
    assert (made_run.object_id, broken_run.object_id, fixed_run.object_id, lost_run.object_id) == (
        made, broken, fixed, fixed)
    assert [r.status for r in (made_run, broken_run, fixed_run, lost_run)] == [
        "succeeded", "failed", "succeeded", "failed"]
    return {"made": made_run, "broken": broken_run, "fixed": fixed_run, "lost": lost_run,
            "number": made_run.result["document_number"]}


def rows(tab: Any) -> Any:
    return tab.locator("#log-list > li")


def row_ids(tab: Any) -> list[str]:
    tab.locator("[data-log-status]").wait_for(state="attached")
    tab.wait_for_function("document.querySelector('[data-log-status]').textContent !== 'Loading…'")
    return [rows(tab).nth(i).get_attribute("data-run-id") for i in range(rows(tab).count())]


def show(tab: Any, **fields: str) -> list[str]:
    """Set the filter form's fields (the rest cleared) and press Show; answers the runs listed."""
    form = tab.locator("#log-filters")
    for name in ("status", "trigger", "documentType"):
        form.locator(f'select[name="{name}"]').select_option(fields.get(name, ""))
    for name in ("from", "to", "q"):
        form.locator(f'input[name="{name}"]').fill(fields.get(name, ""))
    with tab.expect_navigation():
        form.get_by_role("button", name="Show").click()
    return row_ids(tab)


def test_an_admin_finds_pages_and_reads_runs_in_the_sync_log_at_360px(browser, stack, connected_portal):  # noqa: F811
    runs = make_runs(stack, connected_portal)
    made, broken, fixed, lost = (runs[k].run_id for k in ("made", "broken", "fixed", "lost"))
    gateway = stack.running.gateway_url
    context = context_for(browser, gateway, connected_portal.login_cookie, 360)
    errors: list[str] = []
    try:
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{gateway}/settings")
        tab.locator("[data-sync-log]").click()
        tab.wait_for_url(f"{gateway}/settings/log")

        first = row_ids(tab)
        assert len(first) == PAGE_SIZE and first[:4] == [made, broken, fixed, lost]
        assert tab.evaluate(OVERFLOWING) == []
        tab.get_by_role("button", name="Older").click()
        tab.wait_for_function(f"document.querySelectorAll('#log-list > li').length === {FILLERS + 4 - PAGE_SIZE}")
        assert tab.get_by_role("button", name="Older").is_hidden()
        tab.get_by_role("button", name="Newer").click()
        tab.wait_for_function(f"document.querySelectorAll('#log-list > li').length === {PAGE_SIZE}")
        assert row_ids(tab) == first

        assert show(tab, status="failed") == [broken, lost]
        superseded = tab.locator(f'#log-list > li[data-run-id="{lost}"]')
        assert f"Superseded by run {fixed}" in superseded.inner_text()
        assert superseded.locator("a.replay").count() == 0
        assert tab.locator(f'#log-list > li[data-run-id="{broken}"] a.replay').count() == 1
        assert show(tab, trigger="workflow") == [made, broken, fixed, lost]
        assert len(show(tab, trigger="product_sync")) == PAGE_SIZE
        assert show(tab, documentType="invoice", status="succeeded") == [made, fixed]
        today = datetime.now(UTC).date()
        assert show(tab, **{"from": str(today), "to": str(today), "status": "failed"}) == [broken, lost]
        assert show(tab, to=str(today - timedelta(days=1))) == []
        assert "No runs match" in tab.locator("[data-log-status]").inner_text()
        assert show(tab, q="oresund") == [fixed, lost]  # the deal's name, accents and case aside
        assert show(tab, q=runs["made"].object_id) == [made]
        assert show(tab, q=runs["number"]) == [made]
        listed = tab.locator(f'#log-list > li[data-run-id="{made}"]').inner_text()
        assert "Made Motors AB" in listed and f"Invoice {runs['number']}" in listed
        assert tab.evaluate(OVERFLOWING) == []

        tab.locator(f'#log-list > li[data-run-id="{made}"]').get_by_role("link", name=f"Story of run {made}").click()
        story = tab.locator("#log-story")
        story.locator("ol.tries").wait_for()
        assert "Try 1: Succeeded" in story.inner_text()
        assert story.locator("iframe.note").count() == 1
        assert tab.evaluate(OVERFLOWING) == []

        tab.goto(f"{gateway}/settings/log?run={lost}")
        story.locator("ol.tries").wait_for()
        told = story.inner_text()
        assert f"Superseded by run {fixed}" in told
        assert runs["lost"].error_message in told and "Try 1: Failed" in told
        assert story.locator("a.replay").count() == 0
        assert errors == []
    finally:
        context.close()
