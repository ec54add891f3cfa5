"""The dead-letter queue made visible, and the bulk replay's routes: the settings function on moto,
under its role in template.yaml, with a real (moto) jobs queue and dead-letter queue."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from hubnox.dead_letter_queue import DeadLetterQueue
from hubnox.jobs import Job, submit, trigger_key
from hubnox.records import Run, RunRequest
from hubnox.web.session import SESSION_COOKIE, SESSION_TTL_SECONDS
from sandbox.gateway import read_template
from sandbox.iam import Request, role_policies
from tests.support.functions import SAMPLE_PORTAL, World, http_event, world_on_moto
from tests.unit.test_iam import world_intrinsics

CSRF = "csrf-of-the-admins-session"
OTHER_PORTAL = "7777777"


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


def request(world: World, method: str, path: str, *, body: Any = None, csrf: str = CSRF,
            portal: str = SAMPLE_PORTAL) -> tuple[int, Any]:
    """One request to the settings function as the page sends it, signed in to `portal`."""
    token = world.container.signer.sign("session", {"portal": portal, "user": "admin@acme.example", "csrf": CSRF,
                                                    "sid": "session-1", "gen": 0}, SESSION_TTL_SECONDS)
    event = http_event("settings_api_put.json", body=None if body is None else json.dumps(body),
                       headers={"x-csrf-token": csrf})
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.split("/", 3)[3]}
    event["cookies"] = [f"{SESSION_COOKIE}={token}"]
    response = world.invoke("settings", event)
    return response["statusCode"], json.loads(response["body"])


def failed_run(world: World, deal: str = "904", portal: str = SAMPLE_PORTAL) -> Run:
    run = submit(world.container.runs, world.container.jobs, RunRequest(
        portal_id=portal, kind="create_document", trigger="workflow", object_type="deal", object_id=deal,
        document_type="invoice", trigger_key=trigger_key("workflow", "invoice"), callback_id="ap-1-2-3"))
    world.jobs()  # its job, taken off the jobs queue: its tries are spent
    return world.container.runs.fail(portal, run.run_id, "FORTNOX_2000433", "Fortnox could not find customer 1042.")


def dead_letter(world: World, body: str) -> str:
    """A message moved to the dead-letter queue (as SQS does after maxReceiveCount); its message id."""
    url = world.container.config.jobs_dlq_url
    return str(world.sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"])


def dlq_bodies(world: World) -> list[str]:
    return [letter.body for letter in world.container.dead_letter_queue.peek(100)]


# -- the queue adapter -----------------------------------------------------------------------------


def test_a_peek_reads_every_message_once_and_leaves_them_all_visible(world):
    ids = {dead_letter(world, f'{{"n": {n}}}') for n in range(23)}
    queue = DeadLetterQueue(world.sqs, world.container.config.jobs_dlq_url)

    first, second = queue.peek(100), queue.peek(100)

    assert {letter.message_id for letter in first} == {letter.message_id for letter in second} == ids
    assert len(first) == 23 and queue.depth() == 23


def test_a_take_hides_only_the_message_wanted(world):
    wanted = dead_letter(world, "wanted")
    for n in range(5):
        dead_letter(world, f"other {n}")
    queue = DeadLetterQueue(world.sqs, world.container.config.jobs_dlq_url)

    taken = queue.take(lambda letter: letter.message_id == wanted, 100)

    assert taken is not None and taken.body == "wanted"
    assert sorted(letter.body for letter in queue.peek(100)) == [f"other {n}" for n in range(5)]
    assert queue.take(lambda letter: letter.message_id == wanted, 100) is None  # another retry does not see it


# -- listing ----------------------------------------------------------------------------------------


def test_the_list_shows_the_portals_jobs_with_their_runs_last_error_and_malformed_ones_by_id(world):
    run = failed_run(world)
    mine = dead_letter(world, Job.for_run(run).to_message())
    dead_letter(world, Job.for_run(failed_run(world, portal=OTHER_PORTAL)).to_message())
    garbage = dead_letter(world, '{"portal_id": "102670506", "kind": "make_coffee"}')

    status, body = request(world, "GET", "/settings/api/dead-letters")

    assert status == 200 and body["waiting"] == 3 and body["malformed"] == 1
    by_id = {letter["messageId"]: letter for letter in body["deadLetters"]}
    assert set(by_id) == {mine, garbage}  # the other portal's job is not shown
    assert by_id[mine] | {"sentAt": None} == by_id[mine] | {
        "runId": run.run_id, "kind": "create_document", "objectId": "904", "runStatus": "failed",
        "errorCode": "FORTNOX_2000433", "errorMessage": "Fortnox could not find customer 1042.",
        "malformed": False, "sentAt": None}
    # when it was dead-lettered: its last try's end (SQS keeps no time of the move)
    assert run.finished_at is not None and by_id[mine]["lastTriedAt"] == datetime.fromtimestamp(
        run.finished_at, UTC).isoformat(timespec="seconds")
    assert by_id[garbage]["malformed"] is True and "make_coffee" not in json.dumps(by_id[garbage])
    assert len(dlq_bodies(world)) == 3  # listing took nothing off the queue


def test_the_list_needs_the_session(world):
    event = http_event("settings_api_put.json", headers={})
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/settings/api/dead-letters"
    event["requestContext"]["http"]["method"] = "GET"
    event["cookies"] = []
    assert world.invoke("settings", event)["statusCode"] == 401


# -- retrying --------------------------------------------------------------------------------------


def test_retrying_a_failed_runs_dead_letter_replays_the_run_and_takes_the_message_off(world):
    run = failed_run(world)
    message = dead_letter(world, Job.for_run(run).to_message())

    status, body = request(world, "POST", f"/settings/api/dead-letters/{message}/retry")

    [job] = world.jobs()
    assert status == 200 and body["action"] == "replayed" and body["replayRunId"] == job.run_id
    assert (job.trigger, job.callback_id) == ("replay", None)
    assert world.container.runs.get(SAMPLE_PORTAL, job.run_id).replay_of == run.run_id
    assert dlq_bodies(world) == []
    again = request(world, "POST", f"/settings/api/dead-letters/{message}/retry")
    assert again[0] == 404 and again[1]["code"] == "DEAD_LETTER_NOT_FOUND"


def test_a_dead_letter_is_found_by_its_run_id_too_and_a_run_replayed_meanwhile_is_not_replayed_again(world):
    run = failed_run(world)
    dead_letter(world, Job.for_run(run).to_message())
    request(world, "POST", "/settings/api/runs/replay", body={"expectedCount": 1})
    [replay] = world.jobs()

    status, body = request(world, "POST", f"/settings/api/dead-letters/{run.run_id}/retry")

    assert status == 200 and body["action"] == "already_replayed" and body["replayRunId"] == replay.run_id
    assert world.jobs() == [] and dlq_bodies(world) == []


def test_a_run_that_never_finished_gets_its_job_sent_again(world):
    run = submit(world.container.runs, world.container.jobs, RunRequest(
        portal_id=SAMPLE_PORTAL, kind="sync_customer", trigger="card", object_type="company", object_id="31"))
    [job] = world.jobs()
    world.container.runs.mark_running(SAMPLE_PORTAL, run.run_id)  # and its worker died, every time
    message = dead_letter(world, job.to_message())

    status, body = request(world, "POST", f"/settings/api/dead-letters/{message}/retry")

    assert status == 200 and body["action"] == "resent"
    assert world.jobs() == [job]
    assert dlq_bodies(world) == []


def test_two_retries_at_once_retry_once(world):
    run = failed_run(world)
    message = dead_letter(world, Job.for_run(run).to_message())
    service = world.container.dead_letters

    def retry(_: int) -> str:
        try:
            return service.retry(SAMPLE_PORTAL, message).action
        except Exception as refused:
            return type(refused).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(retry, range(2)))

    assert len(world.jobs()) == 1
    assert "replayed" in outcomes and set(outcomes) <= {"replayed", "already_replayed", "NotFoundError"}


def test_another_portals_or_a_malformed_dead_letter_is_not_retried(world):
    other = dead_letter(world, Job.for_run(failed_run(world, portal=OTHER_PORTAL)).to_message())
    garbage = dead_letter(world, "not json")

    assert request(world, "POST", f"/settings/api/dead-letters/{other}/retry")[0] == 404
    status, body = request(world, "POST", f"/settings/api/dead-letters/{garbage}/retry")
    assert (status, body["code"]) == (400, "MALFORMED_DEAD_LETTER")
    assert world.jobs() == [] and len(dlq_bodies(world)) == 2


def test_a_retry_needs_the_csrf_token(world):
    message = dead_letter(world, Job.for_run(failed_run(world)).to_message())
    status, _ = request(world, "POST", f"/settings/api/dead-letters/{message}/retry", csrf="forged")
    assert status in (401, 403) and world.jobs() == [] and len(dlq_bodies(world)) == 1


# -- the bulk replay's routes ----------------------------------------------------------------------


def test_preview_then_replay_with_the_confirmed_count(world):
    runs = [failed_run(world, deal) for deal in ("1", "2", "3")]

    status, preview = request(world, "POST", "/settings/api/runs/replay/preview", body={"status": "failed"})
    assert (status, preview["count"], preview["remaining"]) == (200, 3, 0)
    assert world.jobs() == []

    status, done = request(world, "POST", "/settings/api/runs/replay",
                           body={"status": "failed", "expectedCount": 3})
    assert (status, done["queued"], done["alreadyReplayed"]) == (202, 3, 0)
    assert {world.container.runs.get(SAMPLE_PORTAL, job.run_id).replay_of for job in world.jobs()} \
        == {run.run_id for run in runs}


def test_a_count_that_changed_answers_409_with_the_new_count(world):
    failed_run(world, "1")
    failed_run(world, "2")

    status, body = request(world, "POST", "/settings/api/runs/replay", body={"expectedCount": 1})

    assert (status, body["code"], body["count"]) == (409, "COUNT_CHANGED", 2)
    assert world.jobs() == []


@pytest.mark.parametrize("body", [{}, {"expectedCount": "3"}, {"expectedCount": 1, "documentType": "receipt"},
                                  {"expectedCount": 1, "from": "last week"}])
def test_a_replay_without_a_count_or_with_a_wrong_filter_is_a_400(world, body):
    failed_run(world)
    status, answer = request(world, "POST", "/settings/api/runs/replay", body=body)
    assert status == 400 and answer["message"]
    assert world.jobs() == []


def test_the_bulk_replay_needs_the_csrf_token(world):
    failed_run(world)
    status, _ = request(world, "POST", "/settings/api/runs/replay", body={"expectedCount": 1}, csrf="forged")
    assert status in (401, 403) and world.jobs() == []


# -- the role --------------------------------------------------------------------------------------


def test_only_the_settings_function_may_read_and_delete_dead_letters_and_only_that(world):
    dlq = "arn:aws:sqs:eu-north-1:123456789012:hubnox-jobs-dlq"
    for function, role in world.roles.items():
        # An SQS event source (the worker's jobs queue, the poller's poll queue) brings AWS's
        # AWSLambdaSQSQueueExecutionRole, on every queue.
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
            allowed = role.refusal(Request(action, (dlq,), {})) is None
            assert allowed == (function in ("settings", "worker", "poller")), (function, action)
        allowed = role.refusal(Request("sqs:ChangeMessageVisibility", (dlq,), {})) is None
        assert allowed == (function == "settings"), function
    settings = world.roles["settings"]
    for action in ("sqs:SendMessage", "sqs:PurgeQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes"):
        assert settings.refusal(Request(action, (dlq,), {})) is not None, action


def test_without_its_grant_on_the_dlq_the_settings_function_cannot_list_dead_letters(world):
    template = copy.deepcopy(read_template())
    settings = template["Resources"]["SettingsFunction"]["Properties"]
    settings["Policies"] = [p for p in settings["Policies"] if not (isinstance(p, dict) and "Statement" in p)]
    world.roles["settings"] = role_policies(template, world_intrinsics(world, template).resolve)["settings"]
    dead_letter(world, Job.for_run(failed_run(world)).to_message())

    status, _ = request(world, "GET", "/settings/api/dead-letters")

    assert status >= 500  # AccessDenied, as on AWS: the grant in template.yaml is what makes it work
