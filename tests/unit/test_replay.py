"""Replay links: opening one shows what would be replayed and changes nothing; only the page's POST
enqueues the run again, once per link, with the run's own trigger key."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from hubnox.errors import TransientError
from hubnox.jobs import submit, trigger_key
from hubnox.links import replay_url
from hubnox.records import RunRequest
from hubnox.services.replay_claim import CLAIM_GRACE_SECONDS
from hubnox.store.table import run_key
from tests.support.functions import SAMPLE_PORTAL, World, http_event, sample_event, world_on_moto


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


def failed_run(world: World, **changes: Any) -> Any:
    values = {"object_type": "deal", "object_id": "904", "document_type": "invoice",
              "trigger_key": trigger_key("workflow", "invoice"), "callback_id": "ap-102670506-1-1-0"}
    run = submit(world.container.runs, world.container.jobs,
                 RunRequest(portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow", **(values | changes)))
    world.jobs()  # the original job, already run
    return world.container.runs.fail(SAMPLE_PORTAL, run.run_id, "FORTNOX_2000433",
                                     "Fortnox could not find customer 1042.")


def link(world: World, run_id: str, **kwargs: Any) -> tuple[str, str]:
    """The path and token of a Replay link for the run."""
    url = urlsplit(replay_url(world.container.signer, world.container.config.public_base, SAMPLE_PORTAL, run_id,
                              **kwargs))
    return url.path, parse_qs(url.query)["t"][0]


def open_link(world: World, path: str, token: str | None) -> dict[str, Any]:
    query = urlencode({"t": token}) if token is not None else ""
    event = http_event("replay_confirm.json", raw_query=query)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"runId": path.rsplit("/", 1)[1]}
    return world.invoke("replay", event)


def press_replay(world: World, path: str, token: str) -> dict[str, Any]:
    event = sample_event("replay_submit.json")
    form = urlencode({"t": token})
    event["body"] = base64.b64encode(form.encode()).decode()
    event["headers"]["content-length"] = str(len(form))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"runId": path.rsplit("/", 1)[1]}
    return world.invoke("replay", event)


def text(response: dict[str, Any]) -> str:
    return re.sub(r"\s+", " ", response["body"])


def all_runs(world: World) -> list[Any]:
    return world.container.runs.list_recent(SAMPLE_PORTAL)


# -- the confirmation page -------------------------------------------------------------------------


def test_opening_a_link_shows_what_would_be_replayed_and_a_form_carrying_the_token(world):
    run = failed_run(world)
    path, token = link(world, run.run_id)

    page = open_link(world, path, token)

    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    body = text(page)
    assert "the Fortnox invoice" in body and "deal 904" in body
    assert "Failed" in body and "Fortnox could not find customer 1042." in body
    assert "a HubSpot workflow" in body
    assert f'action="https://hubnox.example.com/replay/{run.run_id}"' in body
    assert f'name="t" value="{token}"' in body


def test_opening_a_link_changes_nothing_however_often_it_is_opened(world):
    run = failed_run(world)
    path, token = link(world, run.run_id)
    before = (all_runs(world), world.items("NONCE#"))

    for _ in range(3):
        assert open_link(world, path, token)["statusCode"] == 200

    assert (all_runs(world), world.items("NONCE#")) == before
    assert world.jobs() == []
    assert press_replay(world, path, token)["statusCode"] == 200


def test_the_page_for_a_succeeded_run_says_the_existing_document_is_reported(world):
    run = failed_run(world)
    world.container.runs.succeed(SAMPLE_PORTAL, run.run_id, {"document_type": "invoice", "document_number": "1042"})
    path, token = link(world, run.run_id)

    body = text(open_link(world, path, token))

    assert "Succeeded" in body and "invoice 1042" in body
    assert "makes no second document" in body


# -- replaying --------------------------------------------------------------------------------------


def test_pressing_replay_enqueues_a_new_run_with_the_same_trigger_key_and_no_callback(world):
    run = failed_run(world)
    path, token = link(world, run.run_id)

    page = press_replay(world, path, token)

    assert page["statusCode"] == 200
    [job] = world.jobs()
    assert (job.kind, job.trigger, job.object_type, job.object_id) == ("create_document", "replay", "deal", "904")
    assert (job.trigger_key, job.document_type, job.callback_id) == ("workflow:invoice", "invoice", None)
    again = world.container.runs.get(SAMPLE_PORTAL, job.run_id)
    assert again.replay_of == run.run_id and again.status == "queued"
    assert "Replay queued" in text(page) and job.run_id in text(page)


def test_a_replay_of_a_succeeded_run_passes_the_same_trigger_key_so_the_worker_reports_the_document(world):
    run = failed_run(world, trigger_key=trigger_key("stage:closedwon", "order"), document_type="order",
                     callback_id=None)
    world.container.runs.succeed(SAMPLE_PORTAL, run.run_id, {"document_type": "order", "document_number": "77"})
    press_replay(world, *link(world, run.run_id))
    [job] = world.jobs()
    assert (job.trigger_key, job.document_type) == ("stage:closedwon:order", "order")


def test_a_customer_sync_is_replayed_as_a_customer_sync(world):
    run = submit(world.container.runs, world.container.jobs,
                 RunRequest(portal_id=SAMPLE_PORTAL, kind="sync_customer", trigger="card", object_type="company",
                            object_id="5101"))
    world.jobs()
    press_replay(world, *link(world, run.run_id))
    [job] = world.jobs()
    assert (job.kind, job.object_type, job.object_id, job.trigger_key) == ("sync_customer", "company", "5101", None)


def test_a_link_replays_once_and_a_second_press_names_the_replay(world):
    path, token = link(world, failed_run(world).run_id)

    first = press_replay(world, path, token)
    second = press_replay(world, path, token)

    [job] = world.jobs()
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert f"already replayed as run {job.run_id}" in text(second)


def test_each_replay_queued_is_counted_once_for_the_operator(world, capsys):
    path, token = link(world, failed_run(world).run_id)
    capsys.readouterr()

    press_replay(world, path, token)
    press_replay(world, path, token)  # the used link queues nothing

    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = [json.loads(line) for line in lines if '"RunsReplayed"' in line]
    assert [datum["RunsReplayed"] for datum in counted] == [[1.0]]


def test_a_fresh_link_for_a_run_already_replayed_names_its_replay_and_queues_nothing(world):
    run = failed_run(world)
    press_replay(world, *link(world, run.run_id))
    again = press_replay(world, *link(world, run.run_id))

    [job] = world.jobs()
    assert again["statusCode"] == 200 and f"already replayed as run {job.run_id}" in text(again)
    assert world.container.runs.get(SAMPLE_PORTAL, run.run_id).replayed_by == job.run_id


def test_a_used_link_of_a_run_whose_replay_is_gone_still_says_it_was_used(world):
    run = failed_run(world)
    path, token = link(world, run.run_id)
    press_replay(world, path, token)
    [job] = world.jobs()
    world.container.table.delete(run_key(SAMPLE_PORTAL, job.run_id))  # its replay run is gone
    world.clock.advance(CLAIM_GRACE_SECONDS + 1)

    assert press_replay(world, path, token)["statusCode"] == 409
    assert world.jobs() == []  # nothing queued since


def test_when_the_queue_is_down_the_page_says_try_again_and_the_link_still_works(world, monkeypatch):
    path, token = link(world, failed_run(world).run_id)

    def down(job, **_):
        raise TransientError("SQS is unavailable")

    monkeypatch.setattr(world.container.jobs, "send", down)
    refused = press_replay(world, path, token)
    monkeypatch.undo()

    assert refused["statusCode"] == 503
    assert press_replay(world, path, token)["statusCode"] == 200
    assert len(world.jobs()) == 1


# -- links that do not work -----------------------------------------------------------------------------


def test_a_link_without_its_token_gets_a_400_page_that_says_so(world):
    path, _ = link(world, failed_run(world).run_id)
    page = open_link(world, path, None)
    assert page["statusCode"] == 400
    assert "incomplete" in text(page)


@pytest.mark.parametrize("damage", ["tampered", "truncated", "other run"])
def test_a_damaged_link_gets_a_401_page_and_nothing_happens(world, damage):
    run = failed_run(world)
    other = failed_run(world, object_id="905")
    path, token = link(world, run.run_id)
    token = {"tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
             "truncated": token.split(".")[0],
             "other run": link(world, other.run_id)[1]}[damage]

    for response in (open_link(world, path, token), press_replay(world, path, token)):
        assert response["statusCode"] == 401
        assert "This Replay link does not work" in text(response)
    assert world.jobs() == []


def test_an_expired_link_gets_a_401_page_that_says_it_expired(world):
    path, token = link(world, failed_run(world).run_id, ttl_seconds=60)
    world.clock.advance(61)
    page = open_link(world, path, token)
    assert page["statusCode"] == 401
    assert "expired" in text(page)
    assert press_replay(world, path, token)["statusCode"] == 401
    assert world.jobs() == []


def test_a_link_to_a_run_that_no_longer_exists_gets_a_404_page(world):
    run = failed_run(world)
    world.container.table.delete(run_key(SAMPLE_PORTAL, run.run_id))
    page = open_link(world, *link(world, run.run_id))
    assert page["statusCode"] == 404
    assert "no longer exists" in text(page)


def test_a_link_from_a_portal_that_uninstalled_hubnox_says_so(world):
    path, token = link(world, failed_run(world).run_id)
    world.container.connections.mark_uninstalled(SAMPLE_PORTAL)
    assert press_replay(world, path, token)["statusCode"] == 409
    assert world.jobs() == []


def test_the_sample_events_open_and_replay_the_sample_run(world):
    # The sample link (events/README.md) names run 01JDQ7Z5M3X8R2K9V4T6W0B1C7 of portal 102670506.
    run = failed_run(world)
    item = world.container.table.get(run_key(SAMPLE_PORTAL, run.run_id))
    sample_id = sample_event("replay_confirm.json")["pathParameters"]["runId"]
    world.container.table.put({**item, **run_key(SAMPLE_PORTAL, sample_id), "run_id": sample_id})

    assert world.invoke("replay", sample_event("replay_confirm.json"))["statusCode"] == 200
    assert world.invoke("replay", sample_event("replay_submit.json"))["statusCode"] == 200
    [job] = world.jobs()
    assert world.container.runs.get(SAMPLE_PORTAL, job.run_id).replay_of == sample_id


def test_a_failures_replay_link_answers_with_the_document_a_later_run_made_instead_of_replaying():
    from hubnox.records import Run
    from hubnox.services.replay import ReplayPages
    from tests.support.clock import FakeClock
    from tests.support.fakes import DealLinks

    clock = FakeClock()
    links = DealLinks(clock)
    failed = Run(run_id="01KFAILED", portal_id="42", kind="create_document", trigger="workflow", object_type="deal",
                 object_id="904", trigger_key="workflow:invoice", status="failed", created_at=1.0)
    pages = ReplayPages(signer=None, runs=None, connections=None, nonces=None, submit=None,  # type: ignore[arg-type]
                        public_base="https://hubnox.example", deal_links=links)
    assert pages.superseded(failed) is None  # nothing made yet: Replay stays

    links.claim("42", "904", "workflow:invoice", "01KLATER")
    links.set_document("42", "904", "workflow:invoice", "invoice", "17")

    answer = pages.superseded(failed)
    assert answer is not None and answer.status_code == 200
    assert "invoice 17" in answer.body and "nothing left to replay" in answer.body
