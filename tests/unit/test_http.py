"""The shared HTTP layer: tokens, rate budget, what is retried and what is never replayed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from hubnox.api_http import (
    ApiCaller,
    ApiProfile,
    Outcome,
    RateLimit,
    RetryPolicy,
    build_http_client,
    encode_json,
    is_idempotent,
    parse_json,
    retry_after_seconds,
    send_once,
)
from hubnox.errors import BadRequestError, ConnectionBrokenError, HubnoxError, TransientError


class Tokens:
    """A token source that hands out token-1, then token-2 after an invalidation, and so on."""

    def __init__(self) -> None:
        self.generation = 1
        self.invalidated: list[str] = []

    def token(self) -> str:
        return f"token-{self.generation}"

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        self.generation += 1


class Budget:
    def __init__(self) -> None:
        self.taken: list[tuple[str, int, float, float]] = []

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        self.taken.append((key, limit, window, max_wait))


class Script:
    """A MockTransport handler answering from a list of responses (or exceptions), recording requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def translate(response: httpx.Response) -> HubnoxError:
    return BadRequestError(f"refused with {response.status_code}", code=f"TEST_{response.status_code}")


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def caller(
    script: Script,
    *,
    sleeps: Sleeps | None = None,
    tokens: Tokens | None = None,
    budget: Budget | None = None,
    attempts: int = 3,
) -> ApiCaller:
    http = build_http_client("https://api.example.test", transport=httpx.MockTransport(script))
    profile = ApiProfile(
        system="Example",
        translate=translate,
        default_retry_after=1.0,
        limits=(RateLimit("example:1", 10, 5.0, 2.0),),
    )
    retry = RetryPolicy(
        attempts=attempts, base_delay=0.5, max_delay=8.0, sleep=sleeps or Sleeps(), random=lambda: 1.0
    )
    return ApiCaller(http, tokens or Tokens(), budget or Budget(), profile, retry=retry)


def ok(body: object = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"ok": True}, headers=headers)


def fail(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"message": "no"}, headers=headers)


# -- the client ---------------------------------------------------------------------------------------


def test_clients_time_out_and_do_not_follow_redirects() -> None:
    client = build_http_client("https://api.example.test/", timeout=12.0)
    assert client.timeout.read == 12.0
    assert client.timeout.connect == 5.0
    assert client.follow_redirects is False
    assert str(client.base_url) == "https://api.example.test"


# -- JSON and money -----------------------------------------------------------------------------------


def test_decimals_are_sent_as_exact_json_numbers() -> None:
    body = encode_json(
        {
            "Price": Decimal("1499.995"),
            "Big": Decimal("12345678901234567890.123456"),
            "Qty": Decimal("1E+2"),
            "Text": "Smörgås",
            "Rows": [1, True, None],
        }
    )
    assert body.decode() == (
        '{"Price":1499.995,"Big":12345678901234567890.123456,"Qty":100,"Text":"Smörgås","Rows":[1,true,null]}'
    )


def test_a_not_a_number_is_never_sent() -> None:
    with pytest.raises(ValueError):
        encode_json({"Price": Decimal("NaN")})


def test_answers_are_read_with_decimals_never_floats() -> None:
    data = parse_json(httpx.Response(200, content=b'{"Total": 1698.23, "Count": 3}'))
    assert data == {"Total": Decimal("1698.23"), "Count": 3}
    assert isinstance(data["Total"], Decimal)


# -- calls: token and budget --------------------------------------------------------------------------


def test_a_call_takes_a_budget_slot_and_sends_the_bearer_token() -> None:
    script, budget = Script(ok({"id": "1"})), Budget()
    reply = caller(script, budget=budget).call(
        "GET",
        "/things/1",
        params={"properties": ["a", "b"], "skip": None},
        extra_limits=(RateLimit("example-search:1", 5, 1.0, 2.0),),
    )

    assert reply.data == {"id": "1"}
    assert script.requests[0].headers["Authorization"] == "Bearer token-1"
    assert script.requests[0].url.query == b"properties=a%2Cb"
    assert [taken[0] for taken in budget.taken] == ["example:1", "example-search:1"]


def test_a_refused_token_is_invalidated_and_the_call_repeated_once_with_a_fresh_one() -> None:
    script, tokens = Script(fail(401), ok()), Tokens()
    caller(script, tokens=tokens).call("POST", "/notes", json_body={"a": 1})

    assert tokens.invalidated == ["token-1"]
    assert [r.headers["Authorization"] for r in script.requests] == ["Bearer token-1", "Bearer token-2"]


def test_a_second_refused_token_means_the_connection_is_broken() -> None:
    script = Script(fail(401), fail(401))
    with pytest.raises(ConnectionBrokenError) as caught:
        caller(script).call("GET", "/things")
    assert caught.value.system == "Example"
    assert len(script.requests) == 2


# -- calls: what is retried ---------------------------------------------------------------------------


def test_a_read_is_retried_after_a_server_error_with_backoff() -> None:
    script, sleeps = Script(fail(503), fail(502), ok()), Sleeps()
    reply = caller(script, sleeps=sleeps).call("GET", "/things")

    assert reply.status == 200
    assert sleeps.calls == [0.5, 1.0]


def test_retry_after_is_honoured() -> None:
    script, sleeps = Script(fail(429, **{"Retry-After": "3"}), ok()), Sleeps()
    caller(script, sleeps=sleeps).call("GET", "/things")
    assert sleeps.calls == [3.0]


def test_a_rate_limited_post_is_retried_because_nothing_happened_yet() -> None:
    script, sleeps = Script(fail(429), ok(status=201)), Sleeps()
    reply = caller(script, sleeps=sleeps).call("POST", "/invoices", json_body={"x": 1})
    assert reply.status == 201
    assert sleeps.calls == [1.0]  # the profile's default wait when no Retry-After comes


def test_a_post_that_failed_with_a_server_error_is_never_replayed() -> None:
    script = Script(fail(500), ok(status=201))
    with pytest.raises(TransientError) as caught:
        caller(script).call("POST", "/invoices", json_body={"x": 1})
    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert len(script.requests) == 1


def test_a_post_that_timed_out_waiting_is_never_replayed() -> None:
    script = Script(httpx.ReadTimeout("slow"), ok(status=201))
    with pytest.raises(TransientError) as caught:
        caller(script).call("POST", "/invoices", json_body={"x": 1})
    assert caught.value.code == "TIMEOUT"
    assert len(script.requests) == 1


def test_a_post_that_never_connected_is_sent_again() -> None:
    script = Script(httpx.ConnectError("refused"), ok(status=201))
    assert caller(script).call("POST", "/invoices", json_body={"x": 1}).status == 201
    assert len(script.requests) == 2


def test_a_read_that_timed_out_is_retried() -> None:
    script = Script(httpx.ReadTimeout("slow"), ok())
    assert caller(script).call("GET", "/things").status == 200


def test_a_search_sent_as_post_is_retried_when_declared_idempotent() -> None:
    script = Script(fail(500), ok())
    assert caller(script).call("POST", "/search", json_body={}, idempotent=True).status == 200


def test_a_fortnox_send_action_is_never_retried_even_if_called_idempotent() -> None:
    script = Script(fail(503), ok())
    with pytest.raises(TransientError):
        caller(script).call("GET", "/3/invoices/1001/email", idempotent=True)
    assert len(script.requests) == 1


def test_retries_stop_after_the_last_attempt() -> None:
    script = Script(fail(503), fail(503), fail(503), ok())
    with pytest.raises(TransientError):
        caller(script, attempts=3).call("GET", "/things")
    assert len(script.requests) == 3


def test_a_long_retry_after_goes_back_to_the_queue_instead_of_sleeping() -> None:
    script, sleeps = Script(fail(429, **{"Retry-After": "3600"}), ok()), Sleeps()
    with pytest.raises(TransientError) as caught:
        caller(script, sleeps=sleeps).call("GET", "/things")
    assert caught.value.retry_after == 3600.0
    assert sleeps.calls == []


def test_an_unreadable_answer_to_a_read_is_fetched_again() -> None:
    script = Script(httpx.Response(200, content=b'{"trunc'), ok({"id": "1"}))
    assert caller(script).call("GET", "/things/1").data == {"id": "1"}


def test_an_unreadable_answer_to_a_create_is_not_repeated() -> None:
    script = Script(httpx.Response(201, content=b'{"trunc'), ok(status=201))
    with pytest.raises(TransientError) as caught:
        caller(script).call("POST", "/invoices", json_body={})
    assert caught.value.code == "UNREADABLE"
    assert len(script.requests) == 1


# -- calls: errors ------------------------------------------------------------------------------------


def test_client_errors_are_translated_by_the_api_profile() -> None:
    with pytest.raises(BadRequestError) as caught:
        caller(Script(fail(400))).call("POST", "/invoices", json_body={})
    assert caught.value.code == "TEST_400"


def test_statuses_the_caller_accepts_come_back_as_replies() -> None:
    reply = caller(Script(fail(404))).call("GET", "/articles/A1", accept=(404,))
    assert reply.status == 404
    assert reply.data == {"message": "no"}


# -- the policy in one place --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "declared", "expected"),
    [
        ("GET", "/crm/objects/2026-03/0-3/1", None, True),
        ("PUT", "/3/prices/A/1/0", None, True),
        ("POST", "/3/invoices", None, False),
        ("PATCH", "/crm/objects/2026-03/0-3/1", None, False),
        ("POST", "/crm/objects/2026-03/0-3/search", True, True),
        ("GET", "/3/invoices/1/preview", None, True),
        ("GET", "/3/invoices/1/print", None, False),
        ("GET", "/3/invoices/1/email", True, False),
        ("GET", "/3/invoices/1/einvoice", None, False),
        ("GET", "/3/invoices/1/eprint", None, False),
        ("GET", "/3/orders/7/print", None, False),
        ("PUT", "/3/invoices/1/credit", None, False),
        ("PUT", "/3/orders/7/createinvoice", True, False),
    ],
)
def test_which_requests_count_as_idempotent(
    method: str, path: str, declared: bool | None, expected: bool
) -> None:
    assert is_idempotent(method, path, declared) is expected


def test_unknown_outcomes_are_retried_only_for_idempotent_requests() -> None:
    policy = RetryPolicy()
    assert policy.may_retry(Outcome.NOT_SENT, idempotent=False)
    assert policy.may_retry(Outcome.REFUSED, idempotent=False)
    assert not policy.may_retry(Outcome.UNKNOWN, idempotent=False)
    assert policy.may_retry(Outcome.UNKNOWN, idempotent=True)


def test_backoff_grows_with_jitter_and_never_undercuts_retry_after() -> None:
    low = RetryPolicy(base_delay=1.0, max_delay=8.0, random=lambda: 0.0)
    high = RetryPolicy(base_delay=1.0, max_delay=8.0, random=lambda: 1.0)
    assert [high.delay(n, None) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert [low.delay(n, None) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert low.delay(1, 5.0) == 5.0


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    when = format_datetime(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(httpx.Headers({"Retry-After": when}), now=lambda: now) == 30.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers()) is None


def test_send_once_turns_failures_into_transient_errors_and_returns_other_answers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("down")
        if request.url.path == "/busy":
            return httpx.Response(503)
        return httpx.Response(400, json={"error": "invalid_grant"})

    http = build_http_client("https://auth.example.test", transport=httpx.MockTransport(handler))
    with pytest.raises(TransientError):
        send_once(http, "POST", "/down", system="Example")
    with pytest.raises(TransientError):
        send_once(http, "POST", "/busy", system="Example")
    assert send_once(http, "POST", "/token", system="Example").status_code == 400
