"""Bulk replay, end to end through the gateway: the admin counts the failed runs, confirms the count,
and each failed run is replayed once; a Replay link of a run the bulk replay took names its replay,
and a count that changed meanwhile is refused with the new count."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.links import replay_url
from hubnox.signing import Signer
from hubnox.web.session import SESSION_COOKIE
from tests.support.workflows import Rep, drain, enroll, portal_runs

pytestmark = pytest.mark.e2e


def test_failed_runs_are_counted_then_replayed_once_each(stack, connected_portal):
    portal = connected_portal.portal_id
    headers = {"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}",
               "X-CSRF-Token": connected_portal.csrf_token()}
    rep = Rep(stack, portal, connected_portal.hubspot_token)
    deals = [rep.deal(line_items=False) for _ in range(2)]  # a deal without line items fails at once
    for deal_id in deals:
        enroll(stack, portal, deal_id)
    drain(stack)
    failed = {run.run_id for run in portal_runs(stack, portal) if run.status == "failed"}
    assert len(failed) == 2

    preview = stack.gateway.post("/settings/api/runs/replay/preview", json={"status": "failed"}, headers=headers)
    assert preview.status_code == 200, preview.text
    assert (preview.json()["count"], preview.json()["remaining"]) == (2, 0)

    enroll(stack, portal, rep.deal(line_items=False))  # a third failure after the admin saw 2
    drain(stack)
    stale = stack.gateway.post("/settings/api/runs/replay", json={"status": "failed", "expectedCount": 2},
                               headers=headers)
    assert stale.status_code == 409 and stale.json()["count"] == 3, stale.text

    done = stack.gateway.post("/settings/api/runs/replay", json={"status": "failed", "expectedCount": 3},
                              headers=headers)
    assert done.status_code == 202, done.text
    assert (done.json()["queued"], done.json()["alreadyReplayed"]) == (3, 0)
    again = stack.gateway.post("/settings/api/runs/replay/preview", json={"status": "failed"}, headers=headers)
    assert again.json()["count"] == 0

    # A Replay link of one of them now names the replay the bulk replay made.
    some = sorted(failed)[0]
    link = replay_url(Signer(stack.environment["SIGNING_KEY"]), stack.running.gateway_url, portal, some)
    with httpx.Client(timeout=15) as browser:
        token = parse_qs(urlsplit(link).query)["t"][0]
        pressed = browser.post(link.split("?")[0], data={"t": token})
    replay = next(run for run in portal_runs(stack, portal) if run.replay_of == some)
    assert pressed.status_code == 200 and f"already replayed as run {replay.run_id}" in pressed.text
    drain(stack)
    replays = [run for run in portal_runs(stack, portal) if run.trigger == "replay"]
    assert len(replays) == 3 and len({run.replay_of for run in replays}) == 3
