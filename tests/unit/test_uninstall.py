"""An app uninstall, end to end on moto: handled in one place (`UninstallService`), whether HubSpot's
uninstall event or a refused refresh token reports it; the portal leaves the poller's set and its
jobs stop without calling HubSpot or Fortnox, nothing retried or dead-lettered; its data is kept for
the retention period and then purged by the poller's schedule, through the same deletion as the
settings page's; a reinstall picks it up again.

The worker, poller and settings functions run as Lambda would, each under its role in template.yaml.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hubnox.errors import ConnectionBrokenError
from hubnox.jobs import MAX_ATTEMPTS, Job
from hubnox.records import HubSpotConnection, RunRequest
from hubnox.store.table import uninstalled_key
from hubnox.sync.delivery import gave_up
from hubnox.web.session import SESSION_COOKIE, start_session
from tests.support.functions import SAMPLE_PORTAL, World, http_event, sample_event, world_on_moto

OTHER = "20002"
THIRD = "30003"
DAY = 24 * 3600
CODE = "HUBSPOT_UNINSTALLED"


class HubSpotApi:
    """HubSpot as the worker meets it: every request written down; the token endpoint refuses the
    refresh token (the app was uninstalled), everything else answers 500 (and must not be asked)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.startswith("/oauth/") and request.url.path.endswith("/token"):
            return httpx.Response(400, json={"status": "BAD_REFRESH_TOKEN",
                                             "message": "missing or unknown refresh token"})
        return httpx.Response(500, json={"message": "not expected in this test"})

    def calls(self) -> list[str]:
        return [request.url.path for request in self.requests]


@pytest.fixture
def hubspot() -> HubSpotApi:
    return HubSpotApi()


@pytest.fixture
def world(aws_clients, hubspot):
    with world_on_moto(aws_clients, hubspot_transport=httpx.MockTransport(hubspot),
                       fortnox_transport=httpx.MockTransport(hubspot)) as world:
        world.install()
        world.connect_fortnox()
        yield world


def keep_data(world: World, portal: str) -> None:
    """Settings, a run, a deal link and a poller cursor of the portal: what a reinstall must find again."""
    container = world.container
    container.portal_settings.put(portal, {"default_document_type": "order"}, 0)
    run = container.runs.create(RunRequest(portal_id=portal, kind="sync_products", trigger="settings"))
    container.deal_links.claim(portal, "904", "stage:won", run.run_id)
    container.cursors.put(portal, "deals", "1700000000000")


def document_job(world: World, portal: str = SAMPLE_PORTAL) -> Job:
    """A document job submitted as the poller submits it, taken off the queue."""
    world.container.submit(RunRequest(portal_id=portal, kind="create_document", trigger="poller",
                                      object_type="deal", object_id="904", document_type="invoice",
                                      trigger_key="stage:won"))
    [job] = world.jobs()
    return job


def worker_event(world: World, job: Job, receive_count: int = 1) -> dict[str, Any]:
    """The event Lambda's event source sends for the job, really on the moto queue."""
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=job.to_message())
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=1)["Messages"]
    record = json.loads(json.dumps(sample_event("worker_sqs.json")["Records"][0]))
    record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    world.sqs.delete_message(QueueUrl=world.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return {"Records": [record]}


def settings_api(world: World, cookie: str, csrf: str, method: str, path: str, body: Any = None,
                 ) -> tuple[int, dict[str, Any]]:
    event = http_event("settings_api_put.json", headers={"x-csrf-token": csrf},
                       body=json.dumps(body) if body is not None else "")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/settings/api/")}
    event["cookies"] = [cookie]
    answer = world.invoke("settings", event)
    return answer["statusCode"], json.loads(answer["body"] or "{}")


def settings_page(world: World, cookie: str) -> dict[str, Any]:
    event = http_event("settings_page.json", raw_query="")
    event["cookies"] = [cookie]
    return world.invoke("settings", event)


def sign_in(world: World, portal: str = SAMPLE_PORTAL) -> tuple[str, str]:
    session, cookie = start_session(world.container.signer, world.container.sessions, portal, "admin@acme.example")
    return f"{SESSION_COOKIE}={cookie.value}", session.csrf


def portal_items(world: World, portal: str) -> list[dict[str, Any]]:
    return world.items(f"PORTAL#{portal}")


# -- one place ---------------------------------------------------------------------------------------


def test_an_uninstall_stops_polling_keeps_the_data_and_records_when(world):
    keep_data(world, SAMPLE_PORTAL)
    world.install(OTHER)
    connections = world.container.connections
    assert sorted(connections.list_portals()) == sorted([SAMPLE_PORTAL, OTHER])
    when = world.clock()

    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")

    stored = connections.get_hubspot(SAMPLE_PORTAL)
    assert (stored.status, stored.uninstalled_at, stored.uninstall_reason) == (
        "uninstalled", when, "HubSpot sent app_uninstall")
    assert stored.access_token.get_secret_value() == ""
    assert connections.list_portals() == [OTHER]
    assert connections.uninstalled_portals() == {SAMPLE_PORTAL: when}
    assert connections.get_fortnox(SAMPLE_PORTAL).tenant_id == "1234567"
    assert world.container.portal_settings.get(SAMPLE_PORTAL)[0] == {"default_document_type": "order"}
    assert world.container.deal_links.get(SAMPLE_PORTAL, "904", "stage:won") is not None


def test_a_repeated_uninstall_changes_nothing_and_is_counted_once(world, caplog):
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "first")
    first = world.container.connections.get_hubspot(SAMPLE_PORTAL)
    world.clock.advance(3600)

    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "again")
    world.container.uninstalls.uninstalled("404", "a portal hubnox never knew")

    again = world.container.connections.get_hubspot(SAMPLE_PORTAL)
    assert (again.uninstalled_at, again.uninstall_reason, again.version) == (
        first.uninstalled_at, "first", first.version)
    assert world.container.connections.uninstalled_portals() == {SAMPLE_PORTAL: first.uninstalled_at}
    assert world.container.connections.hubspot_status("404") is None
    assert [r.getMessage() for r in caplog.records].count(
        "hubspot uninstalled: polling and jobs stop, the data is kept") == 1


def test_the_poller_polls_no_uninstalled_portal(world, hubspot):
    world.container.portal_settings.put(SAMPLE_PORTAL, {"trigger_stages": [
        {"stage_id": "closedwon", "document_type": "invoice"}]}, 0)
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")

    world.invoke("poller", sample_event("poller_schedule.json"))

    assert hubspot.calls() == []
    assert world.jobs() == []


def test_an_uninstall_ends_the_portals_settings_sessions(world):
    cookie, csrf = sign_in(world)
    assert settings_api(world, cookie, csrf, "GET", "/settings/api/settings")[0] == 200

    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")

    status, answer = settings_api(world, cookie, csrf, "GET", "/settings/api/settings")
    assert (status, answer["code"]) == (401, "SESSION_ENDED")


def test_the_settings_page_of_an_uninstalled_portal_says_so_and_how_to_get_back(world):
    cookie, _ = sign_in(world)
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")

    answer = settings_page(world, cookie)

    assert answer["statusCode"] == 401
    text = answer["body"]
    assert f"hubnox was uninstalled from HubSpot portal {SAMPLE_PORTAL}" in text
    assert "kept until 2026-12-27, then it is deleted" in text  # the default 30 days after the uninstall
    assert "/oauth/hubspot/install" in text


def test_the_settings_page_of_an_installed_portal_still_says_the_session_ended(world):
    cookie, _ = sign_in(world)
    world.container.sessions.end_all(SAMPLE_PORTAL)

    answer = settings_page(world, cookie)

    assert answer["statusCode"] == 401
    assert "uninstalled" not in answer["body"]
    assert "session has ended" in answer["body"]


def test_a_refused_refresh_token_ends_in_the_same_place(world, hubspot):
    world.container.connections.put_hubspot(HubSpotConnection(
        portal_id=SAMPLE_PORTAL, access_token="expired", refresh_token="spent",
        access_expires_at=world.clock() - 60, installed_at=world.clock()))
    cookie, csrf = sign_in(world)

    with pytest.raises(ConnectionBrokenError):
        world.container.hubspot_tokens(SAMPLE_PORTAL).token()

    stored = world.container.connections.get_hubspot(SAMPLE_PORTAL)
    assert stored.status == "uninstalled"
    assert "no longer accepts the refresh token" in (stored.uninstall_reason or "")
    assert world.container.connections.uninstalled_portals() == {SAMPLE_PORTAL: world.clock()}
    assert world.container.connections.list_portals() == []
    assert settings_api(world, cookie, csrf, "GET", "/settings/api/settings")[1]["code"] == "SESSION_ENDED"


# -- its jobs stop -----------------------------------------------------------------------------------


@pytest.mark.parametrize("receive_count", [1, MAX_ATTEMPTS - 1, MAX_ATTEMPTS])
def test_a_job_queued_before_the_uninstall_ends_cleanly_without_calling_hubspot(world, hubspot, receive_count):
    job = document_job(world)
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")

    answer = world.invoke("worker", worker_event(world, job, receive_count))

    assert answer == {"batchItemFailures": []}  # not retried, never to the dead-letter queue
    run = world.container.runs.get(SAMPLE_PORTAL, job.run_id)
    assert (run.status, run.error_code, run.delivery) == ("failed", CODE, "gave_up")
    assert "uninstalled from this HubSpot portal" in (run.error_message or "")
    assert run.progress[gave_up("outcome")] == CODE
    assert hubspot.calls() == []
    assert world.jobs() == []  # no follow-up


def test_a_token_refused_during_the_job_stops_it_the_same_way(world, hubspot):
    job = document_job(world)
    world.container.connections.put_hubspot(HubSpotConnection(
        portal_id=SAMPLE_PORTAL, access_token="expired", refresh_token="spent",
        access_expires_at=world.clock() - 60, installed_at=world.clock()))

    answer = world.invoke("worker", worker_event(world, job, receive_count=MAX_ATTEMPTS - 1))

    assert answer == {"batchItemFailures": []}
    run = world.container.runs.get(SAMPLE_PORTAL, job.run_id)
    assert (run.status, run.error_code, run.delivery) == ("failed", CODE, "gave_up")
    assert [path.rsplit("/", 1)[-1] for path in hubspot.calls()] == ["token"]  # the refusal, nothing after it
    assert world.container.connections.hubspot_status(SAMPLE_PORTAL) == "uninstalled"
    assert world.jobs() == []


def test_a_delivery_follow_up_of_an_uninstalled_portal_gives_its_untold_steps_up(world, hubspot):
    runs = world.container.runs
    run = runs.create(RunRequest(portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow",
                                 object_type="deal", object_id="904", document_type="invoice",
                                 trigger_key="workflow:invoice", callback_id="cb-1"))
    runs.mark_running(SAMPLE_PORTAL, run.run_id)
    runs.succeed(SAMPLE_PORTAL, run.run_id, {"document_number": "17"}, {
        "note": {"object_type": "deal", "object_id": "904", "body": "<p>Invoice 17</p>"},
        "updates": [{"name": "properties", "object_type": "deals", "object_id": "904",
                     "properties": {"fortnox_document_number": "17"}}],
        "callback": {"callback_id": "cb-1", "outputs": {"hs_execution_state": "SUCCESS"}}})
    runs.record_delivery(SAMPLE_PORTAL, run.run_id, {"told:note": "note-1"}, "pending")
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")
    follow_up = Job.for_run(runs.get(SAMPLE_PORTAL, run.run_id)).model_copy(update={"delivery_round": 2})

    answer = world.invoke("worker", worker_event(world, follow_up))

    assert answer == {"batchItemFailures": []}
    stored = runs.get(SAMPLE_PORTAL, run.run_id)
    assert (stored.status, stored.delivery) == ("succeeded", "gave_up")  # the document was made: it stays so
    assert stored.progress == {"told:note": "note-1", gave_up("properties"): CODE, gave_up("callback"): CODE}
    assert hubspot.calls() == []
    assert world.jobs() == []


# -- retention ---------------------------------------------------------------------------------------


def test_the_purge_deletes_only_portals_uninstalled_longer_than_the_retention(world, hubspot):
    for portal in (OTHER, THIRD):
        world.install(portal)
        world.connect_fortnox(portal, tenant_id=f"t-{portal}")
    for portal in (SAMPLE_PORTAL, OTHER, THIRD):
        keep_data(world, portal)
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "long ago")
    world.clock.advance(25 * DAY)
    world.container.uninstalls.uninstalled(OTHER, "lately")
    # An active portal with a stale mark (a reinstall that stopped half way) is never purged.
    world.container.table.put({**uninstalled_key(THIRD), "portal_id": THIRD, "uninstalled_at": 0.0})
    world.clock.advance(5 * DAY + 1)

    world.invoke("poller", sample_event("poller_schedule.json"))

    assert portal_items(world, SAMPLE_PORTAL) == []
    assert world.container.connections.fortnox_company_holder("1234567") is None  # the company is free again
    assert world.container.connections.uninstalled_portals() == {OTHER: world.clock() - 5 * DAY - 1}
    assert len(portal_items(world, OTHER)) == len(portal_items(world, THIRD)) > 4
    assert world.container.connections.hubspot_status(THIRD) == "active"
    assert sorted(world.container.connections.list_portals()) == [THIRD]
    assert hubspot.calls() == []


def test_a_retention_of_zero_keeps_the_data_until_an_admin_deletes_it(aws_clients, hubspot):
    with world_on_moto(aws_clients, hubspot_transport=httpx.MockTransport(hubspot),
                       uninstalled_data_retention_days=0) as world:
        world.install()
        keep_data(world, SAMPLE_PORTAL)
        world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "long ago")
        world.clock.advance(3650 * DAY)

        assert world.container.uninstalled_data_purge.purge() == []
        assert len(portal_items(world, SAMPLE_PORTAL)) > 4


def test_the_settings_pages_delete_and_the_purge_delete_the_same_things(aws_clients, hubspot):
    left: list[list[str]] = []
    for by_admin in (True, False):
        with world_on_moto(aws_clients, hubspot_transport=httpx.MockTransport(hubspot),
                           fortnox_transport=httpx.MockTransport(hubspot)) as world:
            world.install()
            world.connect_fortnox()
            keep_data(world, SAMPLE_PORTAL)
            if by_admin:
                cookie, csrf = sign_in(world)
                status, _ = settings_api(world, cookie, csrf, "DELETE", "/settings/api/portal",
                                         {"confirm": SAMPLE_PORTAL})
                assert status == 200
            else:
                world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "long ago")
                world.clock.advance(31 * DAY)
                assert world.container.uninstalled_data_purge.purge() == [SAMPLE_PORTAL]
            scan = world.container.dynamodb.scan(TableName=world.container.config.table_name)["Items"]
            left.append(sorted(f"{item['pk']['S']}|{item['sk']['S']}" for item in scan
                               if SAMPLE_PORTAL in item["pk"]["S"] + item["sk"]["S"]
                               and not item["pk"]["S"].startswith("SESSIONS#")))
    assert left[0] == left[1] == []


# -- reinstall ---------------------------------------------------------------------------------------


def test_a_reinstall_within_the_retention_picks_everything_up_again(world):
    keep_data(world, SAMPLE_PORTAL)
    world.container.uninstalls.uninstalled(SAMPLE_PORTAL, "HubSpot sent app_uninstall")
    world.clock.advance(10 * DAY)

    world.install()  # what the OAuth callback stores (`ConnectionService.finish_hubspot_install`)

    stored = world.container.connections.get_hubspot(SAMPLE_PORTAL)
    assert (stored.status, stored.uninstalled_at, stored.uninstall_reason) == ("active", None, None)
    assert world.container.connections.list_portals() == [SAMPLE_PORTAL]
    assert world.container.connections.uninstalled_portals() == {}
    assert world.container.connections.get_fortnox(SAMPLE_PORTAL).status == "active"
    assert world.container.portal_settings.get(SAMPLE_PORTAL)[0] == {"default_document_type": "order"}
    world.clock.advance(60 * DAY)
    assert world.container.uninstalled_data_purge.purge() == []
    assert len(portal_items(world, SAMPLE_PORTAL)) > 4
