"""The sync log's actions on failed work, in a real browser 360 px wide against the local stack: an
admin replays the failures the log's filter shows after confirming their count, two admins confirming
at once still replay each failure once, a job whose tries are spent is retried from the Dead letters
panel, and a failure that is superseded or already replayed offers no Replay link.

Failures are made as in production: a deal without line items fails its run at once (its line items
are added afterwards, so the replay makes the invoice); a Fortnox answering 503 to every new invoice
sends the job through all its tries to the dead-letter queue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.admin import SESSION_COOKIE, AdminBrowser, open_login_link
from tests.e2e.test_dead_letters import dlq_jobs
from tests.e2e.test_settings_admins import OVERFLOWING, card_action, colleagues, context_for  # noqa: F401
from tests.e2e.test_settings_page import browser  # noqa: F401 (the shared browser fixture)
from tests.e2e.test_sync_log import row_ids
from tests.support.workflows import Rep, drain, enroll, fortnox_invoices, portal_runs

pytestmark = pytest.mark.e2e

NOTHING_WAITS = "No jobs are waiting in the dead-letter queue"


def failed_deals(stack: Any, portal: Any, count: int, *, fix: bool = True) -> dict[str, str]:
    """`count` deals whose runs failed (no line items); with `fix`, their line items are added after,
    so that a replay makes each one's invoice. Answers failed run id -> deal id."""
    rep = Rep(stack, portal.portal_id, portal.hubspot_token)
    deals = [rep.deal(name=f"Failing Fika {n} AB", line_items=False) for n in range(count)]
    for deal_id in deals:
        enroll(stack, portal.portal_id, deal_id)
    drain(stack)
    failed = {run.run_id: run.object_id for run in portal_runs(stack, portal.portal_id) if run.status == "failed"}
    assert sorted(failed.values()) == sorted(deals), failed
    if fix:
        for deal_id in deals:
            rep.add_line_items(deal_id)
    return failed


def replays_of(stack: Any, portal_id: str) -> dict[str, list[str]]:
    """Replayed run id -> the ids of the runs replaying it."""
    found: dict[str, list[str]] = {}
    for run in portal_runs(stack, portal_id):
        if run.replay_of:
            found.setdefault(run.replay_of, []).append(run.run_id)
    return found


def each_replayed_once_with_one_invoice(stack: Any, portal: Any, failed: dict[str, str]) -> None:
    drain(stack)
    replays = replays_of(stack, portal.portal_id)
    assert {run_id: len(replays.get(run_id, [])) for run_id in failed} == dict.fromkeys(failed, 1)
    runs = {run.run_id: run for run in portal_runs(stack, portal.portal_id)}
    assert all(runs[replays[run_id][0]].status == "succeeded" for run_id in failed)
    for deal_id in failed.values():
        assert len(fortnox_invoices(stack, portal.tenant_id, deal_id)) == 1, deal_id


def open_log(context: Any, gateway: str, query: str = "") -> Any:
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.page_errors = errors
    tab.goto(f"{gateway}/settings/log{query}")
    row_ids(tab)
    tab.wait_for_function("!document.querySelector('[data-dlq-summary]').textContent.includes('loading')")
    return tab


def status_of(tab: Any) -> str:
    """What the toolbar said last, once it is done counting or queuing."""
    said = tab.locator("[data-replay-status]")
    tab.wait_for_function("""() => {
      const text = document.querySelector('[data-replay-status]').textContent;
      return !text.endsWith('…');
    }""")
    return str(said.inner_text())


@pytest.fixture
def admin_context(browser, stack, connected_portal) -> Iterator[Any]:  # noqa: F811
    context = context_for(browser, stack.running.gateway_url, connected_portal.login_cookie, 360)
    try:
        yield context
    finally:
        context.close()


def test_an_admin_replays_the_failed_runs_the_filter_shows_after_confirming_their_count(
        stack, connected_portal, admin_context):
    failed = failed_deals(stack, connected_portal, 5)
    gateway = stack.running.gateway_url
    tab = open_log(admin_context, gateway)
    assert tab.locator("[data-dlq-summary]").inner_text() == NOTHING_WAITS
    assert tab.locator("#dead-letters details").get_attribute("open") is None

    form = tab.locator("#log-filters")
    form.locator('select[name="status"]').select_option("failed")
    with tab.expect_navigation():
        form.get_by_role("button", name="Show").click()
    assert sorted(row_ids(tab)) == sorted(failed)
    assert tab.locator("#log-list a.replay").count() == 5

    tab.get_by_role("button", name="Replay failed runs…").click()
    box = tab.locator("[data-replay-box]")
    box.wait_for()
    # 5 runs of 6 Fortnox calls each: four start at once, the fifth once Fortnox's 5 s window allows
    assert box.locator("#replay-question").inner_text() == (
        "Replay 5 failed runs? They are queued over about 5 seconds to stay inside Fortnox's limit.")
    assert tab.evaluate(OVERFLOWING) == []
    box.get_by_role("button", name="Confirm: replay 5 failed runs").click()
    assert status_of(tab) == "5 failed runs queued for a replay; 0 had been replayed already."
    assert box.is_hidden()
    # the list reloads: each failure now names its replay instead of offering Replay
    tab.wait_for_function("document.querySelectorAll('#log-list .replayed').length === 5")
    assert tab.locator("#log-list a.replay").count() == 0
    replays = replays_of(stack, connected_portal.portal_id)
    for run_id in failed:
        row = tab.locator(f'#log-list > li[data-run-id="{run_id}"]')
        assert row.locator(".replayed").inner_text() == f"Replayed as run {replays[run_id][0]}"
    each_replayed_once_with_one_invoice(stack, connected_portal, failed)

    # Asked again: nothing is left, and there is nothing to confirm.
    tab.get_by_role("button", name="Replay failed runs…").click()
    box.wait_for()
    assert "There is nothing to replay" in box.inner_text()
    assert box.get_by_role("button", name=re.compile("^Confirm")).is_hidden()
    box.get_by_role("button", name="Close this message").click()
    assert box.is_hidden()
    assert tab.evaluate(OVERFLOWING) == []
    assert tab.page_errors == []


def test_two_admins_confirming_at_once_replay_each_failure_once(
        browser, stack, connected_portal, admin_context, colleagues):  # noqa: F811
    failed = failed_deals(stack, connected_portal, 3)
    gateway = stack.running.gateway_url
    eva = colleagues["eva"]
    signed_in = AdminBrowser()
    try:
        link = card_action(stack, connected_portal.portal_id, eva["id"])["url"]
        assert open_login_link(signed_in, link, portal_id=connected_portal.portal_id,
                               user_id=eva["id"]).status_code == 200
        eva_cookie = signed_in.session_cookie
    finally:
        signed_in.close()
    assert eva_cookie and eva_cookie != connected_portal.login_cookie
    eva_context = context_for(browser, gateway, eva_cookie, 360)
    try:
        tabs = [open_log(admin_context, gateway, "?status=failed"), open_log(eva_context, gateway, "?status=failed")]
        for tab in tabs:
            tab.get_by_role("button", name="Replay failed runs…").click()
            tab.locator("[data-replay-box]").wait_for()
            assert tab.locator("#replay-question").inner_text().startswith("Replay 3 failed runs?")
        # Both press Confirm before either answer is back: the clicks only start the requests.
        for tab in tabs:
            tab.evaluate("document.querySelector('[data-replay-confirm]').click()")
        said = []
        for tab in tabs:
            tab.wait_for_function("""() => document.querySelector('[data-replay-box]').hidden
              ? !document.querySelector('[data-replay-status]').textContent.endsWith('…')
              : document.querySelector('#replay-question').textContent.startsWith('The count changed')""")
            box = tab.locator("[data-replay-box]")
            said.append(box.inner_text() if box.is_visible() else status_of(tab))
        queued = [int(m.group(1)) for text in said if (m := re.match(r"(\d+) failed runs? queued", text))]
        assert sum(queued) == 3, said
        # the other admin is told the failures were replayed already, or asked again with what is left
        assert any(("had been replayed already" in text and not text.startswith("3 failed"))
                   or "The count changed since you looked (it was 3)" in text for text in said), said
        each_replayed_once_with_one_invoice(stack, connected_portal, failed)
        assert all(tab.page_errors == [] for tab in tabs)
    finally:
        eva_context.close()


def test_a_job_that_spent_its_tries_is_retried_from_the_dead_letters_panel(stack, connected_portal, admin_context):
    portal = connected_portal.portal_id
    deal_id = Rep(stack, portal, connected_portal.hubspot_token).deal(name="Dead Letter Dalarna AB")
    assert stack.fortnox.post("/_sandbox/faults", json={"kind": "status", "method": "POST", "path": "/3/invoices",
                                                        "status": 503, "times": None}).status_code == 201
    try:
        enroll(stack, portal, deal_id)
        assert drain(stack)["dead_letter"] >= 1
    finally:
        stack.fortnox.delete("/_sandbox/faults")
    [failed] = portal_runs(stack, portal)
    assert failed.status == "failed" and failed.error_message and failed.run_id in dlq_jobs(stack)

    gateway = stack.running.gateway_url
    tab = open_log(admin_context, gateway)
    panel = tab.locator("#dead-letters")
    assert panel.locator("[data-dlq-summary]").inner_text() == "Dead letters: 1 job is waiting"
    entry = panel.locator(f'li[data-run-id="{failed.run_id}"]')
    told = entry.inner_text()
    assert failed.error_message in told and "Dead Letter Dalarna AB" in told and "Dead-lettered after" in told
    assert entry.get_by_role("link", name=f"Story of run {failed.run_id}").get_attribute("href") == (
        f"{gateway}/settings/log?run={failed.run_id}")
    assert tab.evaluate(OVERFLOWING) == []

    entry.get_by_role("button", name=f"Retry run {failed.run_id}").click()
    answer = entry.locator(".dlq-answer")
    tab.wait_for_function("!document.querySelector('.dlq-answer').textContent.endsWith('…')")
    [replay] = [run for run in portal_runs(stack, portal) if run.replay_of == failed.run_id]
    assert answer.inner_text() == f"The dead letter is off the queue. Its run was replayed as run {replay.run_id}."
    assert entry.get_by_role("button").count() == 0
    assert failed.run_id not in dlq_jobs(stack)
    # the log reloads with the replay in it
    tab.wait_for_function(f"!!document.querySelector('#log-list > li[data-run-id=\"{replay.run_id}\"]')")
    drain(stack)
    assert len(fortnox_invoices(stack, connected_portal.tenant_id, deal_id)) == 1

    tab.reload()
    tab.wait_for_function("!document.querySelector('[data-dlq-summary]').textContent.includes('loading')")
    assert panel.locator("[data-dlq-summary]").inner_text() == NOTHING_WAITS
    assert tab.page_errors == []


def test_a_superseded_failure_and_a_replayed_failure_offer_no_replay(stack, connected_portal, admin_context):
    portal = connected_portal.portal_id
    failed = failed_deals(stack, connected_portal, 3, fix=False)
    superseded_run, replayed_run, open_run = sorted(failed)
    rep = Rep(stack, portal, connected_portal.hubspot_token)
    rep.add_line_items(failed[superseded_run])
    enroll(stack, portal, failed[superseded_run])  # a later run makes the deal's invoice
    drain(stack)
    made = next(run.run_id for run in portal_runs(stack, portal) if run.status == "succeeded")
    headers = {"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}",
               "X-CSRF-Token": connected_portal.csrf_token()}
    only = {"status": "failed", "q": failed[replayed_run]}
    assert stack.gateway.post("/settings/api/runs/replay", json={**only, "expectedCount": 1},
                              headers=headers).status_code == 202
    [replay] = replays_of(stack, portal)[replayed_run]

    gateway = stack.running.gateway_url
    tab = open_log(admin_context, gateway)
    listed = set(row_ids(tab))
    assert {superseded_run, replayed_run, open_run} <= listed

    def actions(run_id: str) -> Any:
        return tab.locator(f'#log-list > li[data-run-id="{run_id}"] .row-actions')

    assert actions(superseded_run).inner_text().endswith(f"Superseded by run {made}")
    assert actions(replayed_run).inner_text().endswith(f"Replayed as run {replay}")
    for run_id in (superseded_run, replayed_run):
        assert actions(run_id).locator("a.replay").count() == 0, run_id
    assert actions(open_run).locator("a.replay").count() == 1  # a failure left alone still offers it

    tab.goto(f"{gateway}/settings/log?run={replayed_run}")
    story = tab.locator("#log-story")
    story.locator("ol.tries").wait_for()
    assert story.locator(".row-actions .replayed").inner_text() == f"Replayed as run {replay}"
    assert story.locator("a.replay").count() == 0
    assert tab.locator("#dead-letters").is_hidden()
    assert tab.evaluate(OVERFLOWING) == []
    assert tab.page_errors == []
    drain(stack)
