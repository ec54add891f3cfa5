"""Fuzzing every HTTP route of template.yaml: whatever a client sends, hubnox answers without a 5xx
and without a traceback, and a request that is neither signed by HubSpot nor made in a settings
session changes nothing: no job is queued, nothing but single-use and rate bookkeeping is written,
and neither HubSpot nor Fortnox is called.

The handlers run in process on moto (tests/support/functions.py), HubSpot and Fortnox behind
transports that record every call. Signed requests are signed the way HubSpot signs (v3, with the
test secret), so the fuzz also reaches the parsing behind the signature check. Hypothesis runs
derandomized and without a database, so every run tries the same examples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings

from sandbox.gateway import HttpRoute, read_template
from tests.fuzz.requests import ROUTES, FuzzRequest, known_hostile, requests
from tests.support.clock import FakeClock
from tests.support.functions import World, signed_by_hubspot, world_on_moto

#: random examples per route and kind (signed or not), after the known hostile ones: about a minute for
#: the whole suite on two cores
EXAMPLES = 60
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
#: what only bookkeeping writes: single-use claims (OAuth state, login links) and rate budgets
BOOKKEEPING = ("NONCE#", "RATE#")
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "site-packages")


class Recorder(httpx.BaseTransport):
    """An API that knows nothing (404 to everything, which no client retries) and remembers who called it."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return httpx.Response(404, json={"status": "error", "message": "Not found in the fuzz",
                                         "category": "OBJECT_NOT_FOUND"})


@pytest.fixture(scope="module")
def apis() -> tuple[Recorder, Recorder]:
    return Recorder(), Recorder()


@pytest.fixture(scope="module")
def world(aws_clients, apis) -> Iterator[World]:
    hubspot, fortnox = apis
    # The card route checks signatures against the wall clock, so the world's clock follows it.
    with world_on_moto(aws_clients, clock=FakeClock(time.time()), hubspot_transport=hubspot,
                       fortnox_transport=fortnox) as world:
        world.install()
        world.connect_fortnox()
        yield world


def with_known_hostile(route: HttpRoute, *, signed: bool) -> Callable[[Any], Any]:
    """Hypothesis examples of every kind the security review found, tried before the random ones."""

    def decorate(test: Any) -> Any:
        for request in reversed(known_hostile(route, signed=signed)):
            test = example(request=request)(test)
        return test

    return decorate


def send(world: World, request: FuzzRequest) -> dict[str, Any]:
    """The request answered by the function behind its route, as Lambda would run it."""
    world.clock.now = time.time()
    event = request.event()
    if request.signed:
        signed_by_hubspot(event, world.clock.ms)
    return world.invoke(request.route.function, event)


def table_keys(world: World) -> set[tuple[str, str]]:
    items = world.container.dynamodb.scan(TableName=world.container.config.table_name)["Items"]
    return {(item["pk"]["S"], item["sk"]["S"]) for item in items}


def assert_answered_cleanly(request: FuzzRequest, response: dict[str, Any]) -> None:
    status = response["statusCode"]
    body = response.get("body") or ""
    if not isinstance(body, str):
        body = json.dumps(body)
    assert status < 500, f"{request.method} {request.raw_path} -> {status}: {body[:500]}"
    for mark in TRACEBACK_MARKS:
        assert mark not in body, f"{request.method} {request.raw_path} answered a traceback: {body[:500]}"


@pytest.mark.parametrize("route", ROUTES, ids=[route.route_key for route in ROUTES])
def test_an_unsigned_request_is_answered_cleanly_and_changes_nothing(world, apis, route):
    @FUZZ
    @with_known_hostile(route, signed=False)
    @given(request=requests(route, signed=False))
    def check(request: FuzzRequest) -> None:
        before = table_keys(world)
        calls_before = [len(api.calls) for api in apis]
        response = send(world, request)
        assert_answered_cleanly(request, response)
        assert world.jobs() == [], f"{request.method} {request.raw_path} queued a job without a signature"
        written = {key for key in table_keys(world) - before if not key[0].startswith(BOOKKEEPING)}
        assert not written, f"{request.method} {request.raw_path} wrote {sorted(written)[:3]}"
        assert [len(api.calls) for api in apis] == calls_before, (
            f"{request.method} {request.raw_path} called HubSpot or Fortnox without a signature or session")

    check()


@pytest.mark.parametrize("route", ROUTES, ids=[route.route_key for route in ROUTES])
def test_a_request_signed_by_hubspot_is_answered_cleanly_whatever_it_holds(world, route):
    @FUZZ
    @with_known_hostile(route, signed=True)
    @given(request=requests(route, signed=True))
    def check(request: FuzzRequest) -> None:
        assert_answered_cleanly(request, send(world, request))
        world.jobs()

    check()


def test_the_fuzz_covers_every_http_route_of_the_template():
    declared = [event for resource in read_template()["Resources"].values()
                for event in (resource.get("Properties", {}).get("Events") or {}).values()
                if event.get("Type") == "HttpApi"]
    assert len(ROUTES) == len(declared) > 0
    assert {route.function for route in ROUTES} == {"oauth", "workflow_action", "webhooks", "crm_card", "replay",
                                                   "settings"}


