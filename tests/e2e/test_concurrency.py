"""Requests that overlap, as HubSpot sends them under load: each function answers each request with
its own event, one request at a time per container, as Lambda does, with new containers started
when every warm one is busy."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.hubspot_signing import signature_headers
from tests.support.workflows import Rep, portal_runs

pytestmark = pytest.mark.e2e

USER_ID = "5129385"


class SignedRequest:
    """A request HubSpot signs for hubnox's app: method, path with query, JSON body."""

    def __init__(self, stack: Any, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        self.stack = stack
        self.method = method
        self.path = path
        self.body = json.dumps(body, separators=(",", ":")) if body is not None else ""

    def send(self, client: httpx.Client) -> httpx.Response:
        uri = f"{self.stack.environment['PUBLIC_BASE_URL']}{self.path}"
        headers = signature_headers(self.stack.environment["HUBSPOT_CLIENT_SECRET"], self.method, uri, self.body,
                                    int(time.time() * 1000))
        if self.body:
            headers["Content-Type"] = "application/json"
        return client.request(self.method, self.path, content=self.body or None, headers=headers)


def execution(stack: Any, portal_id: str, deal_id: str, callback_id: str) -> SignedRequest:
    return SignedRequest(stack, "POST", "/hubspot/actions/create-document", {
        "callbackId": callback_id,
        "origin": {"portalId": int(portal_id), "actionDefinitionId": 10646377, "actionDefinitionVersion": 1},
        "context": {"source": "WORKFLOWS", "workflowId": 192814114},
        "object": {"objectId": int(deal_id), "objectType": "DEAL", "properties": {}},
        "inputFields": {"documentType": "invoice"}})


def options(stack: Any, portal_id: str) -> SignedRequest:
    return SignedRequest(stack, "POST", "/hubspot/actions/options", {
        "origin": {"portalId": int(portal_id), "actionDefinitionId": 10646377, "actionDefinitionVersion": 1},
        "objectTypeId": "0-3", "inputFieldName": "documentType", "inputFields": {},
        "fetchOptions": {"q": "", "after": ""}})


def card(stack: Any, portal_id: str, deal_id: str) -> SignedRequest:
    query = urlencode({"objectType": "0-3", "objectId": deal_id, "portalId": portal_id, "userId": USER_ID,
                       "userEmail": "rep@acme.se", "appId": stack.environment["HUBSPOT_APP_ID"]})
    return SignedRequest(stack, "GET", f"/hubspot/card?{query}")


def all_at_once(stack: Any, requests: list[SignedRequest]) -> list[httpx.Response]:
    """Send every request at the same moment, each on its own connection."""
    start = threading.Barrier(len(requests))

    def send(request: SignedRequest) -> httpx.Response:
        with httpx.Client(base_url=stack.running.gateway_url, timeout=30) as client:
            start.wait()
            return request.send(client)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_overlapping_signed_requests_to_several_functions_each_get_their_own_answer(stack, connected_portal):
    portal_id = connected_portal.portal_id
    rep = Rep(stack, portal_id, connected_portal.hubspot_token)
    deals = [rep.deal(name=f"Overlap {n}") for n in range(4)]
    callbacks = {deal_id: f"ap-{portal_id}-{uuid.uuid4().int % 10**11}-7-0" for deal_id in deals}
    executions = [execution(stack, portal_id, deal_id, callbacks[deal_id]) for deal_id in deals]
    cards = [card(stack, portal_id, deal_id) for deal_id in deals]
    choices = [options(stack, portal_id) for _ in range(3)]
    replays = [f"/replay/01JDQ7Z5M3X8R2K9V4T6W0B1C{n}?t=forged" for n in range(3)]

    for _ in range(3):  # a few rounds, so warm and newly started containers both take part
        requests = [*executions, *cards, *choices, *(SignedRequest(stack, "GET", path) for path in replays)]
        answers = all_at_once(stack, requests)

        executed, carded, offered, replayed = (answers[:4], answers[4:8], answers[8:11], answers[11:])
        for answer in executed:
            assert answer.status_code == 200, answer.text
            assert answer.json()["outputFields"]["hs_execution_state"] == "BLOCK"
        for deal_id, answer in zip(deals, carded, strict=True):
            assert answer.status_code == 200, answer.text
            assert deal_id in answer.text
        for answer in offered:
            assert answer.status_code == 200, answer.text
            assert [option["value"] for option in answer.json()["options"]]
        for answer in replayed:
            assert answer.status_code == 401, answer.text
            assert "This Replay link does not work" in answer.text

    runs = portal_runs(stack, portal_id)
    assert sorted((run.object_id, run.callback_id) for run in runs) == sorted(callbacks.items())


def test_a_function_starts_a_container_for_each_overlapping_request_and_reuses_warm_ones(stack, connected_portal):
    function = stack.running.aws.functions["crm_card"]
    rep = Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)
    deal_id = rep.deal()
    before = len(function.containers)

    all_at_once(stack, [card(stack, connected_portal.portal_id, deal_id) for _ in range(3)])
    started = len(function.containers)
    all_at_once(stack, [card(stack, connected_portal.portal_id, deal_id) for _ in range(started)])

    assert started >= max(before, 2)  # overlapping requests never share a container
    assert len(function.containers) == started  # as many at once as before: the warm ones took them
