"""The sync log through the settings function (moto): filters and search as query parameters, pages
with a cursor, each run's story, superseded failures without Replay, and 4xx for what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubnox.jobs import submit, trigger_key
from hubnox.records import RunRequest
from hubnox.services.sync_log import read_log_query
from tests.support.functions import SAMPLE_PORTAL, World, world_on_moto
from tests.unit.test_settings_page import answer, request


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        yield world


DEAL_RUN = dict(portal_id=SAMPLE_PORTAL, kind="create_document", object_type="deal", document_type="invoice")


def document_run(world: World, deal: str, *, trigger: str = "workflow", fail: bool = False,
                 name: str | None = None, number: str | None = None) -> str:
    runs, jobs = world.container.runs, world.container.jobs
    world.clock.advance(1)
    run = submit(runs, jobs, RunRequest(**DEAL_RUN, trigger=trigger, object_id=deal,  # type: ignore[arg-type]
                                        trigger_key=trigger_key("workflow", "invoice")))
    runs.mark_running(SAMPLE_PORTAL, run.run_id)
    result = {"record_name": name or f"Deal {deal}", "document_type": "invoice"}
    if fail:
        runs.fail(SAMPLE_PORTAL, run.run_id, "NO_LINE_ITEMS", f"Deal {deal} has no line items.", result)
    else:
        runs.succeed(SAMPLE_PORTAL, run.run_id, {**result, "document_number": number or f"10{deal}",
                                                 "customer_number": "7", "customer_name": "Kund AB",
                                                 "warning_messages": ["Line 2 had no SKU."]},
                     {"note": {"object_type": "deal", "object_id": deal, "body": "<p>Invoice made</p>"}})
        runs.record_delivery(SAMPLE_PORTAL, run.run_id, {"told:note": "555"}, "delivered")
    return run.run_id


def log(world: World, query: str = "") -> tuple[int, Any]:
    return answer(request(world, "GET", "/settings/api/runs", query=query))


def ids(body: dict[str, Any]) -> list[str]:
    return [run["runId"] for run in body["runs"]]


def test_the_log_filters_and_searches_by_query_parameters(world):
    lost = document_run(world, "901", fail=True, name="Ölkällaren AB")
    made = document_run(world, "902", trigger="poller", name="Acme rollout", number="4711")
    today = datetime.fromtimestamp(world.clock.now, UTC).date()

    status, body = log(world)
    assert status == 200 and ids(body) == [made, lost] and body["nextCursor"] is None
    assert ids(log(world, "status=failed")[1]) == [lost]
    assert ids(log(world, "trigger=poller")[1]) == [made]
    assert ids(log(world, "documentType=order")[1]) == []
    assert ids(log(world, "q=olkall")[1]) == [lost]
    assert ids(log(world, "q=4711")[1]) == [made]
    assert ids(log(world, "q=902")[1]) == [made]
    assert ids(log(world, f"from={today}&to={today}")[1]) == [made, lost]
    assert ids(log(world, f"to={today - timedelta(days=1)}")[1]) == []
    assert ids(log(world, f"from={today + timedelta(days=1)}")[1]) == []

    row = log(world, "q=4711")[1]["runs"][0]
    assert (row["recordName"], row["documentNumber"], row["triggerLabel"]) == ("Acme rollout", "4711", "Deal stage")
    assert row["recordUrl"].endswith(f"/contacts/{SAMPLE_PORTAL}/record/0-3/902")
    assert row["customer"] == {"number": "7", "name": "Kund AB"}
    assert [attempt["status"] for attempt in row["history"]] == ["succeeded"]


def test_pages_carry_a_cursor_and_a_bad_one_is_a_400(world):
    made = [document_run(world, str(300 + n)) for n in range(5)]

    first = log(world, "limit=2")[1]
    second = log(world, f"limit=2&cursor={first['nextCursor']}")[1]
    third = log(world, f"limit=2&cursor={second['nextCursor']}")[1]
    assert ids(first) + ids(second) + ids(third) == list(reversed(made))
    assert third["nextCursor"] is None
    status, refused = log(world, "cursor=not-a-cursor")
    assert status == 400 and refused["code"] == "INVALID_CURSOR"


def test_wrong_filters_are_400_with_the_reason(world):
    for query, words in (("status=lost", "status must be one of"), ("trigger=fax", "trigger must be one of"),
                         ("documentType=offer", "documentType must be one of"),
                         ("from=27-11-2026", "from must be a day"), ("to=2026-02-30", "to must be a day"),
                         ("from=2026-11-28&to=2026-11-27", "from must be on or before to"),
                         ("limit=many", "limit must be a whole number"), (f"q={'x' * 101}", "at most 100")):
        status, body = log(world, query)
        assert status == 400, query
        assert words in body["message"], query


def test_a_superseded_failure_names_its_run_and_offers_no_replay_on_any_page(world):
    lost = document_run(world, "777", fail=True)
    others = [document_run(world, str(800 + n)) for n in range(3)]
    made = document_run(world, "777")
    fresh = document_run(world, "778", fail=True)

    rows = {row["runId"]: row for row in log(world, "status=failed")[1]["runs"]}  # `made` is not on this page
    assert (rows[lost]["superseded"], rows[lost]["supersededBy"], rows[lost]["replayUrl"]) == (True, made, None)
    assert rows[fresh]["superseded"] is False and rows[fresh]["replayUrl"]
    assert others  # runs between the failure and its remedy


def test_a_replayed_failure_names_its_replay_in_its_row_and_its_story_and_offers_no_second_replay(world):
    replayed = document_run(world, "781", fail=True)
    left = document_run(world, "782", fail=True)
    runs = world.container.runs
    replay = runs.create(RunRequest(**DEAL_RUN, trigger="replay", object_id="781"),  # type: ignore[arg-type]
                         replay_of=replayed)
    assert runs.claim_replay(SAMPLE_PORTAL, replayed, replay.run_id) == replay.run_id

    rows = {row["runId"]: row for row in log(world, "status=failed")[1]["runs"]}
    assert (rows[replayed]["replayedBy"], rows[left]["replayedBy"]) == (replay.run_id, None)
    assert rows[replayed]["replayUrl"] is None and rows[left]["replayUrl"]
    story = answer(request(world, "GET", f"/settings/api/runs/{replayed}"))[1]
    assert story["run"]["replayedBy"] == replay.run_id


def test_a_runs_story_tells_every_try_the_note_and_what_was_told(world):
    runs, jobs = world.container.runs, world.container.jobs
    run = submit(runs, jobs, RunRequest(**DEAL_RUN, trigger="card", object_id="55",  # type: ignore[arg-type]
                                        trigger_key=trigger_key("card", "invoice")))
    runs.mark_running(SAMPLE_PORTAL, run.run_id)
    runs.fail(SAMPLE_PORTAL, run.run_id, "FORTNOX_DOWN", "Fortnox did not answer.")
    world.clock.advance(30)
    runs.mark_running(SAMPLE_PORTAL, run.run_id)
    world.clock.advance(2)
    runs.succeed(SAMPLE_PORTAL, run.run_id, {"record_name": "Kafé Ängen", "document_type": "invoice",
                                             "document_number": "88", "warning_messages": ["Line 2 had no SKU."]},
                 {"note": {"object_type": "deal", "object_id": "55", "body": "<p>Invoice 88</p>"},
                  "callback": {"callback_id": "cb-1", "outputs": {}}})
    runs.record_delivery(SAMPLE_PORTAL, run.run_id, {"told:note": "9001", "gave_up:callback": "NOT_FOUND"}, "gave_up")
    replay = runs.create(RunRequest(**DEAL_RUN, trigger="replay", object_id="55"),  # type: ignore[arg-type]
                         replay_of=run.run_id)

    status, story = answer(request(world, "GET", f"/settings/api/runs/{run.run_id}"))

    assert status == 200
    assert story["run"]["recordName"] == "Kafé Ängen"
    tries = story["attempts"]
    assert [(t["attempt"], t["status"], t["errorCode"]) for t in tries] == [(1, "failed", "FORTNOX_DOWN"),
                                                                          (2, "succeeded", None)]
    assert tries[0]["startedAt"] and tries[0]["endedAt"] and tries[1]["endedAt"] > tries[1]["startedAt"]
    assert story["warnings"] == ["Line 2 had no SKU."]
    assert story["note"]["html"] == "<p>Invoice 88</p>" and story["note"]["noteId"] == "9001"
    assert {step["step"]: step["state"] for step in story["delivery"]["steps"]} == {"note": "told",
                                                                                     "callback": "gave_up"}
    assert [other["runId"] for other in story["replays"]] == [replay.run_id]
    replayed = answer(request(world, "GET", f"/settings/api/runs/{replay.run_id}"))[1]
    assert replayed["replayOf"] == run.run_id


def test_a_story_of_another_portal_or_unknown_run_is_404_and_needs_the_session(world):
    mine = document_run(world, "66")

    assert answer(request(world, "GET", f"/settings/api/runs/{mine}", signed_in="999"))[0] == 404
    assert answer(request(world, "GET", "/settings/api/runs/01KZZZZZZZZZZZZZZZZZZZZZZZ"))[0] == 404
    assert answer(request(world, "GET", "/settings/api/runs/not-a-run"))[0] == 400
    assert answer(request(world, "GET", f"/settings/api/runs/{mine}", signed_in=None))[0] == 401
    assert log(world, "")[0] == 200
    assert answer(request(world, "GET", "/settings/api/runs", signed_in=None))[0] == 401


def test_the_log_page_needs_the_session_and_leaves_room_for_actions(world):
    page = request(world, "GET", "/settings/log")
    assert page["statusCode"] == 200
    assert 'id="log-actions"' in page["body"] and "synclog.js" in page["body"]
    assert "logactions.js" in page["body"] and 'id="dead-letters"' in page["body"]
    # api.js first: both scripts call the API through it (deferred scripts run in document order)
    body = page["body"]
    assert -1 < body.find("/js/api.js") < body.find("/js/synclog.js") < body.find("/js/logactions.js")
    assert "<script>" not in page["body"]  # scripts are files only
    assert request(world, "GET", "/settings/log", signed_in=None)["statusCode"] == 401
    assert request(world, "GET", "/settings/static/js/synclog.js")["statusCode"] == 200
    assert request(world, "GET", "/settings/static/js/logactions.js")["statusCode"] == 200
    assert request(world, "GET", "/settings/static/js/api.js")["statusCode"] == 200


def test_to_includes_its_whole_day():
    run_filter, limit, cursor = read_log_query({"from": "2026-11-27", "to": "2026-11-27", "limit": "500"})
    assert run_filter.created_to is not None and run_filter.created_from is not None
    assert run_filter.created_to - run_filter.created_from == 86_400
    assert (limit, cursor) == (100, None)
