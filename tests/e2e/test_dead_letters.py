"""The dead-letter queue, end to end: a job that fails every try (Fortnox answering 503 to every new
invoice) goes to the DLQ after the jobs queue's maxReceiveCount; the settings API lists it with its
run's last error, and its retry replays the run, which makes the invoice once Fortnox is back, and
takes the message off the DLQ."""

from __future__ import annotations

from typing import Any

import pytest

from hubnox.jobs import Job
from hubnox.web.session import SESSION_COOKIE
from tests.support.workflows import Rep, drain, enroll, fortnox_invoices, portal_runs

pytestmark = pytest.mark.e2e


def dlq_jobs(stack: Any) -> dict[str, str]:
    """The DLQ's messages as the local stack's SQS holds them: run id -> message id (others' too)."""
    sqs, url = stack.aws("sqs"), stack.environment["JOBS_DLQ_URL"]
    found: dict[str, str] = {}
    receipts = []
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       WaitTimeSeconds=0).get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            receipts.append(message["ReceiptHandle"])
            try:
                found[Job.from_message(message["Body"]).run_id] = message["MessageId"]
            except ValueError:
                continue
    for receipt in receipts:  # give them back, as they were
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return found


def test_a_job_that_failed_every_try_is_listed_from_the_dlq_with_its_error_and_its_retry_replays_it(
        stack, connected_portal):
    portal = connected_portal.portal_id
    headers = {"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}",
               "X-CSRF-Token": connected_portal.csrf_token()}
    rep = Rep(stack, portal, connected_portal.hubspot_token)
    deal_id = rep.deal()
    assert stack.fortnox.post("/_sandbox/faults", json={"kind": "status", "method": "POST", "path": "/3/invoices",
                                                        "status": 503, "times": None}).status_code == 201
    try:
        enroll(stack, portal, deal_id)
        drained = drain(stack)  # failed tries come back at once: past maxReceiveCount, to the DLQ
    finally:
        stack.fortnox.delete("/_sandbox/faults")
    [failed] = portal_runs(stack, portal)
    assert failed.status == "failed" and failed.error_code, failed
    # every try counts on the run, whichever lane received it (the stack's own feeder or the drain)
    assert failed.attempts >= 4 and drained["dead_letter"] >= 1, (failed, drained)

    message_id = dlq_jobs(stack)[failed.run_id]  # it waits in the DLQ, as SQS moved it
    listed = stack.gateway.get("/settings/api/dead-letters", headers=headers)
    assert listed.status_code == 200, listed.text
    [letter] = [item for item in listed.json()["deadLetters"] if item.get("runId") == failed.run_id]
    assert letter["messageId"] == message_id and letter["runStatus"] == "failed"
    assert (letter["errorCode"], letter["errorMessage"]) == (failed.error_code, failed.error_message)
    assert message_id in dlq_jobs(stack).values()  # listing took nothing off the DLQ

    retried = stack.gateway.post(f"/settings/api/dead-letters/{message_id}/retry", headers=headers)
    assert retried.status_code == 200, retried.text
    answer = retried.json()
    assert answer["action"] == "replayed"

    assert failed.run_id not in dlq_jobs(stack)
    replay = next(run for run in portal_runs(stack, portal) if run.run_id == answer["replayRunId"])
    assert (replay.trigger, replay.replay_of) == ("replay", failed.run_id)  # queued (the feeder may have it already)
    again = stack.gateway.post(f"/settings/api/dead-letters/{message_id}/retry", headers=headers)
    assert again.status_code == 404

    drain(stack)
    assert next(run for run in portal_runs(stack, portal) if run.run_id == replay.run_id).status == "succeeded"
    assert len(fortnox_invoices(stack, connected_portal.tenant_id, deal_id)) == 1
    assert len(portal_runs(stack, portal)) == 2
