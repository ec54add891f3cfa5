"""The status sync fanned out: the tick sends one status message per portal connected to Fortnox, ten a
batch, on the poll queue; the poller function tells status messages from poll messages by their `kind`
and hands each to its own sync."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hubnox.hubspot.app_properties import stamp_version
from hubnox.sync.poll_fanout import PollMessage
from hubnox.sync.status_fanout import StatusMessage, dispatch_status, is_status_body
from hubnox.sync.status_sync import StatusOutcome
from sandbox.aws import sqs_record
from tests.support.fake_api import FakeApi
from tests.support.fakes import Connections, installed
from tests.support.functions import SAMPLE_PORTAL, sample_event, world_on_moto


class SentBatches:
    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def send_batch(self, messages: list[Any]) -> None:
        self.batches.append(list(messages))

    def send(self, message: Any) -> None:
        self.batches.append([message])


def test_the_tick_sends_one_status_message_per_connected_portal_ten_a_batch():
    connected = {f"p{index}" for index in range(23) if index % 4}
    queue = SentBatches()

    report = dispatch_status((f"p{index}" for index in range(23)), connected.__contains__, queue)

    assert [len(batch) for batch in queue.batches] == [10, 7]
    assert {message.portal_id for batch in queue.batches for message in batch} == connected
    assert (report.portals, report.sent, report.not_connected, report.batches) == (23, 17, 6, 2)


def test_a_status_message_reads_back_what_it_carries_and_is_never_taken_for_a_poll():
    message = StatusMessage("4242", (("invoice", "1001"), ("order", "5")))
    body = message.to_body()

    assert StatusMessage.from_body(body) == message
    assert StatusMessage("4242").to_body() == '{"kind":"fortnox_status","portal_id":"4242"}'
    assert is_status_body(body) and not is_status_body(PollMessage("4242").to_body()) and not is_status_body("{")
    with pytest.raises(ValueError, match="not a poll message"):
        PollMessage.from_body(body)


@pytest.mark.parametrize("body", [
    '{"portal_id":"4242"}',
    '{"kind":"fortnox_status"}',
    '{"kind":"fortnox_status","portal_id":""}',
    '{"kind":"fortnox_status","portal_id":"4242","hint":[["offer","1"]]}',
    '{"kind":"fortnox_status","portal_id":"4242","hint":[["invoice"," "]]}',
    '{"kind":"fortnox_status","portal_id":"4242","hint":"1001"}',
])
def test_a_body_that_is_not_a_status_message_is_refused(body):
    with pytest.raises(ValueError):
        StatusMessage.from_body(body)


class RecordingStatusSync:
    def __init__(self) -> None:
        self.synced: list[StatusMessage] = []

    def run(self, message: StatusMessage, owner: str, time_left: Any) -> StatusOutcome:
        self.synced.append(message)
        outcome = StatusOutcome(message.portal_id, deals_updated=3)
        if message.portal_id == "long":
            outcome.continuation = StatusMessage("long")
        return outcome


def test_the_poller_routes_status_records_to_the_status_sync_and_poll_records_to_the_poll(aws_clients):
    with world_on_moto(aws_clients) as moto:
        container = moto.container
        queue_url = container.config.poll_queue_url
        for message in (StatusMessage("4242"), StatusMessage("long"), PollMessage("777")):
            container.poll_queue.send(message)
        messages = moto.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=0)["Messages"]
        status = vars(container)["status_sync"] = RecordingStatusSync()
        polled: list[str] = []

        class RecordingPoll:
            def run(self, message: PollMessage, owner: str, time_left: Any) -> Any:
                polled.append(message.portal_id)
                return type("Outcome", (), {"continuation": None, "report": type("R", (), {"enqueued": []})()})()

        vars(container)["portal_poll"] = RecordingPoll()

        answer = moto.invoke("poller", {"Records": [sqs_record(m, "arn:poll") for m in messages]})

        assert sorted(m.portal_id for m in status.synced) == ["4242", "long"]
        assert polled == ["777"]
        assert answer["batchItemFailures"] == [] and answer["deals_updated"] == 6
        continued = moto.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
        assert [StatusMessage.from_body(m["Body"]) for m in continued] == [StatusMessage("long")]


def test_the_tick_dispatches_status_messages_for_portals_with_a_working_fortnox_connection(aws_clients):
    with world_on_moto(aws_clients) as moto:
        container = moto.container
        connections = Connections()
        installed(connections, "1")
        installed(connections, "2", fortnox=False)
        installed(connections, "3")
        connections.mark_broken("3", "fortnox", "refresh token refused")
        vars(container)["connections"] = connections
        queue = vars(container)["poll_queue"] = SentBatches()

        answer = moto.invoke("poller", sample_event("poller_schedule.json"))

        assert answer["status_dispatched"] == 1
        assert [message for batch in queue.batches for message in batch] == [StatusMessage("1")]


def test_a_status_record_syncs_the_portal_under_the_pollers_role_and_a_second_one_writes_nothing(aws_clients):
    fortnox, hubspot = FakeApi(), FakeApi()
    fortnox.on("GET", "/3/orders", httpx.Response(200, json={"Orders": []}))
    fortnox.on("GET", "/3/invoicepayments", httpx.Response(403, json={"message": "Missing scope"}))
    fortnox.on("GET", "/3/invoices", lambda request, match: httpx.Response(200, json={"Invoices": []})
               if request.url.params.get("filter") else httpx.Response(200, json={"Invoices": [{
                   "DocumentNumber": "1001", "CustomerNumber": "C1", "ExternalInvoiceReference1": "904",
                   "Booked": True, "Sent": True, "Total": 1000, "Balance": 0, "FinalPayDate": "2026-12-07",
                   "Currency": "SEK"}]}))
    hubspot.on("POST", r"/crm/objects/[^/]+/0-3/batch/update", lambda request, match: httpx.Response(
        200, json={"status": "COMPLETE", "results": [
            {"id": item["id"], "properties": item["properties"]} for item in json.loads(request.content)["inputs"]]}))
    hubspot.on("POST", r"/crm/objects/[^/]+/(companies|contacts)/search",
               httpx.Response(200, json={"total": 0, "results": []}))
    with world_on_moto(aws_clients, fortnox_transport=httpx.MockTransport(fortnox),
                       hubspot_transport=httpx.MockTransport(hubspot)) as moto:
        moto.install()
        moto.connect_fortnox()
        container = moto.container
        stamp_version(container.cursors, SAMPLE_PORTAL)  # installed with the current properties
        container.deal_links.claim(SAMPLE_PORTAL, "904", "stage:won", "run-1")
        container.deal_links.set_document(SAMPLE_PORTAL, "904", "stage:won", "invoice", "1001")

        def status_tick() -> dict[str, Any]:
            container.poll_queue.send(StatusMessage(SAMPLE_PORTAL))
            [message] = moto.sqs.receive_message(QueueUrl=container.config.poll_queue_url,
                                                 WaitTimeSeconds=0)["Messages"]
            moto.sqs.delete_message(QueueUrl=container.config.poll_queue_url, ReceiptHandle=message["ReceiptHandle"])
            return moto.invoke("poller", {"Records": [sqs_record(message, "arn:poll")]})

        first = status_tick()
        [update] = hubspot.requests("POST", "batch/update")
        assert first == {"batchItemFailures": [], "enqueued": 0, "deals_updated": 1}
        [written] = json.loads(update.content)["inputs"]
        properties = written["properties"]
        assert (properties["fortnox_document_status"], properties["fortnox_document_final_pay_date"]) == (
            "paid", "2026-12-07")

        moto.clock.advance(120)
        assert status_tick()["deals_updated"] == 0
        assert len(hubspot.requests("POST", "batch/update")) == 1  # nothing changed: nothing written
