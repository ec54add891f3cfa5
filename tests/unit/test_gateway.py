"""The local API Gateway selects routes, builds payload-2.0 events and answers as API Gateway does."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import hubnox.web.static as static_files
from sandbox.common import serve
from sandbox.gateway import (
    REPO_ROOT,
    FunctionSpec,
    Gateway,
    HttpRoute,
    LocalFunction,
    build_http_event,
    http_response,
    is_text_body,
)

EVENTS = REPO_ROOT / "events"
ROUTES = [
    ("GET", "/items", "items"),
    ("GET", "/items/special", "items"),
    ("GET", "/items/{itemId}", "items"),
    ("POST", "/items/{itemId}/notes/{noteId}", "items"),
    ("GET", "/files/{proxy+}", "files"),
    ("ANY", "/files/{proxy+}", "files"),
    ("GET", "/files/exact", "files"),
    ("ANY", "/echo", "echo"),
]


class Recorder:
    """A handler that keeps the events and contexts it got and answers what the test sets."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.answer: Callable[[dict[str, Any]], Any] = lambda event: {"statusCode": 200, "body": "ok"}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        return self.answer(event)

    @property
    def event(self) -> dict[str, Any]:
        return self.events[-1]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def fake_gateway(recorder: Recorder) -> Gateway:
    functions = {}
    for name in {function for _, _, function in ROUTES}:
        routes = tuple(HttpRoute(method, path, name) for method, path, function in ROUTES if function == name)
        spec = FunctionSpec(logical_id=f"{name.title()}Function", name=name, code_dir=Path("/nowhere"),
                            handler="app.lambda_handler", timeout=29, memory=512, routes=routes)
        functions[name] = LocalFunction(spec, handler=recorder)
    return Gateway(functions)


@pytest.fixture
def client(recorder: Recorder) -> httpx.Client:
    """The gateway in process (WSGI): what a client sends, minus raw paths and repeated headers."""
    transport = httpx.WSGITransport(app=fake_gateway(recorder))
    return httpx.Client(transport=transport, base_url="http://127.0.0.1:8000")


@pytest.fixture
def served(recorder: Recorder) -> Iterator[httpx.Client]:
    """The gateway on a port, for what only a real HTTP server passes on."""
    server = serve(fake_gateway(recorder))
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http
    server.stop()


def shape(event: dict[str, Any]) -> dict[str, Any]:
    """The keys of an event at each level that payload 2.0 defines."""
    return {
        "top": sorted(event),
        "requestContext": sorted(event["requestContext"]),
        "http": sorted(event["requestContext"]["http"]),
    }


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


# -- the event ---------------------------------------------------------------------------------------


def test_a_get_with_query_and_cookies_makes_the_event_shape_of_the_sample(client, recorder):
    client.get("/items/42?code=abc&state=xyz", headers={"Cookie": "hubnox_session=s1"})
    assert shape(recorder.event) == shape(sample("oauth_fortnox_callback.json")) | {
        "top": sorted([*sample("oauth_fortnox_callback.json"), "pathParameters"])}


def test_a_json_post_makes_the_event_shape_of_the_workflow_action_sample(client, recorder):
    client.post("/echo", json={"callbackId": "ap-1"})
    assert shape(recorder.event) == shape(sample("workflow_action_create_document.json"))
    assert recorder.event["body"] == '{"callbackId":"ap-1"}'
    assert recorder.event["isBase64Encoded"] is False


def test_a_greedy_route_makes_the_event_shape_of_the_static_file_sample(client, recorder):
    client.get("/files/css/app.css", headers={"Cookie": "a=1"})
    assert shape(recorder.event) == shape(sample("settings_static.json"))


def test_the_event_names_the_route_the_request_and_the_stage(client, recorder):
    client.get("/items/42?b=2&a=1&a=3", headers={"User-Agent": "curl/8.5.0", "X-Custom": "v"})
    event = recorder.event
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /items/{itemId}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["http"] == {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "curl/8.5.0"}
    assert context["domainName"] == "127.0.0.1:8000"
    assert context["accountId"] == "123456789012"
    assert isinstance(context["timeEpoch"], int)
    assert context["time"].endswith(" +0000")
    assert "queryStringParameters" in event and "body" not in event


def test_headers_are_lower_cased_and_repeated_ones_joined_with_commas(served, recorder):
    served.get("/items", headers=[("X-Thing", "one"), ("X-Thing", "two"), ("Accept", "text/html")])
    headers = recorder.event["headers"]
    assert headers["x-thing"] == "one,two"
    assert headers["accept"] == "text/html"
    assert all(name == name.lower() for name in headers)
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_a_request_without_a_query_has_no_query_parameters(client, recorder):
    client.get("/items")
    assert recorder.event["rawQueryString"] == ""
    assert "queryStringParameters" not in recorder.event
    assert "pathParameters" not in recorder.event


def test_cookies_leave_the_headers_for_the_cookies_list(client, recorder):
    client.get("/items", headers={"Cookie": "session=abc; theme=dark"})
    assert recorder.event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in recorder.event["headers"]


# -- route selection ---------------------------------------------------------------------------------


def test_path_parameters_are_decoded_while_the_raw_path_keeps_its_encoding(served, recorder):
    served.get("/items/a%20b%2Fc")
    assert recorder.event["pathParameters"] == {"itemId": "a b/c"}
    assert recorder.event["rawPath"] == "/items/a%20b%2Fc"


def test_several_path_parameters_are_all_passed(client, recorder):
    client.post("/items/7/notes/9")
    assert recorder.event["pathParameters"] == {"itemId": "7", "noteId": "9"}


def test_a_literal_route_wins_over_a_path_parameter(client, recorder):
    client.get("/items/special")
    assert recorder.event["routeKey"] == "GET /items/special"
    assert "pathParameters" not in recorder.event


def test_a_greedy_parameter_takes_the_rest_of_the_path(client, recorder):
    client.get("/files/css/deep/app.css")
    assert recorder.event["routeKey"] == "GET /files/{proxy+}"
    assert recorder.event["pathParameters"] == {"proxy": "css/deep/app.css"}


def test_a_full_match_wins_over_a_greedy_one_and_a_method_over_any(client, recorder):
    client.get("/files/exact")
    assert recorder.event["routeKey"] == "GET /files/exact"
    client.delete("/files/exact")
    assert recorder.event["routeKey"] == "ANY /files/{proxy+}"
    client.get("/files/other")
    assert recorder.event["routeKey"] == "GET /files/{proxy+}"


def test_any_takes_every_method(client, recorder):
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        client.request(method, "/echo")
        assert recorder.event["requestContext"]["http"]["method"] == method


@pytest.mark.parametrize("path", ["/nope", "/items/42/extra", "/files", "/files/", "/items/"])
def test_unknown_paths_get_api_gateways_not_found(client, recorder, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert recorder.events == []


def test_a_known_path_with_another_method_is_not_found_either(client, recorder):
    response = client.delete("/items/42")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    assert recorder.events == []


# -- bodies ------------------------------------------------------------------------------------------


def test_binary_and_form_bodies_arrive_base64_encoded(client, recorder):
    png = bytes(range(256))
    client.post("/echo", content=png, headers={"Content-Type": "image/png"})
    assert recorder.event["isBase64Encoded"] is True
    assert base64.b64decode(recorder.event["body"]) == png
    client.post("/echo", data={"a": "1", "b": "två"})
    assert recorder.event["isBase64Encoded"] is True
    assert base64.b64decode(recorder.event["body"]) == b"a=1&b=tv%C3%A5"


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "application/json", "application/xml",
                                          "application/vnd.api+json", None])
def test_text_bodies_arrive_as_text(content_type):
    assert is_text_body(content_type)


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/pdf"])
def test_other_bodies_count_as_binary(content_type):
    assert not is_text_body(content_type)


# -- responses ---------------------------------------------------------------------------------------


def test_a_full_response_keeps_status_headers_and_body(client, recorder):
    recorder.answer = lambda event: {"statusCode": 201, "body": "<p>created</p>", "isBase64Encoded": False,
                                     "headers": {"Content-Type": "text/html", "X-Run": "r1"}}
    response = client.get("/items")
    assert response.status_code == 201
    assert response.headers["content-type"] == "text/html"
    assert response.headers["x-run"] == "r1"
    assert response.text == "<p>created</p>"
    assert response.headers["apigw-requestid"] == recorder.event["requestContext"]["requestId"]


def test_cookies_become_one_set_cookie_header_each(client, recorder):
    recorder.answer = lambda event: {"statusCode": 302, "headers": {"Location": "/settings"},
                                     "cookies": ["session=abc; HttpOnly; Secure", "theme=dark"]}
    response = client.get("/items")
    assert response.status_code == 302
    assert response.headers.get_list("set-cookie") == ["session=abc; HttpOnly; Secure", "theme=dark"]


def test_a_base64_body_is_sent_as_bytes(client, recorder):
    pdf = b"%PDF-1.7\n\x00\xff binary"
    recorder.answer = lambda event: {"statusCode": 200, "headers": {"Content-Type": "application/pdf"},
                                     "body": base64.b64encode(pdf).decode(), "isBase64Encoded": True}
    response = client.get("/items")
    assert response.content == pdf
    assert response.headers["content-type"] == "application/pdf"


def test_a_dict_without_status_code_is_the_shorthand_for_a_json_200(client, recorder):
    recorder.answer = lambda event: {"ok": True, "items": [1, 2]}
    response = client.get("/items")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True, "items": [1, 2]}


def test_a_plain_string_is_returned_as_its_json_text(client, recorder):
    recorder.answer = lambda event: "hello"
    response = client.get("/items")
    assert (response.status_code, response.text) == (200, '"hello"')


def test_multi_value_headers_are_ignored_as_api_gateway_does_in_payload_2(client, recorder, caplog):
    many = {"X-Many": ["a", "b"]}
    recorder.answer = lambda event: {"statusCode": 200, "body": "", "multiValueHeaders": many}
    response = client.get("/items")
    assert "x-many" not in response.headers
    assert "multiValueHeaders" in caplog.text


def test_a_handler_that_raises_gets_an_internal_server_error(client, recorder):
    def fail(event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    recorder.answer = fail
    response = client.get("/items")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})


@pytest.mark.parametrize("answer", [{"statusCode": "200"}, {"statusCode": 999}, {"statusCode": 200,
                                    "body": "%%%", "isBase64Encoded": True}, {1, 2}])
def test_a_malformed_answer_gets_an_internal_server_error(client, recorder, answer):
    recorder.answer = lambda event: answer
    response = client.get("/items")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})


def test_http_response_without_a_content_type_sends_none():
    assert "Content-Type" not in http_response({"statusCode": 204}).headers


# -- the Lambda side ---------------------------------------------------------------------------------


def test_the_handler_gets_a_lambda_context(client, recorder):
    client.get("/items")
    context = recorder.contexts[-1]
    assert context.function_name == "hubnox-items"
    assert context.memory_limit_in_mb == 512
    assert context.invoked_function_arn == "arn:aws:lambda:eu-north-1:123456789012:function:hubnox-items"
    assert len(context.aws_request_id) == 36
    assert 0 < context.get_remaining_time_in_millis() <= 29_000


def test_control_endpoints_need_local_aws_but_health_does_not(client):
    assert client.get("/_sandbox/health").json()["ok"] is True
    assert client.post("/_sandbox/worker/drain").status_code == 503
    assert client.get("/_sandbox/queues").status_code == 503
    assert client.get("/_sandbox/nothing").status_code == 404


def test_control_endpoints_drive_local_aws():
    drains: list[dict[str, Any]] = []

    class Controls:
        def drain(self, **options: Any) -> dict[str, Any]:
            drains.append(options)
            return {"received": 3}

        def alarms(self) -> dict[str, Any]:
            return {"JobsDLQAlarm": {"state": "ALARM", "value": 1.0}}

        def tick(self) -> dict[str, Any]:
            return {"result": {"enqueued": 0}}

        def drain_polls(self) -> dict[str, Any]:
            return {"received": 2, "enqueued": 1}

        def queue_depths(self) -> dict[str, Any]:
            return {"jobs": 0, "jobs_in_flight": 0, "dead_letter": 1}

    gateway = Gateway({}, controls=Controls(), info={"aws": "http://127.0.0.1:1"})
    client = httpx.Client(transport=httpx.WSGITransport(app=gateway), base_url="http://127.0.0.1:8000")
    assert client.post("/_sandbox/worker/drain").json() == {"received": 3}
    assert client.post("/_sandbox/poller/tick").json() == {"result": {"enqueued": 0}}
    assert client.post("/_sandbox/poller/drain").json() == {"received": 2, "enqueued": 1}
    assert client.get("/_sandbox/queues").json()["dead_letter"] == 1
    assert client.get("/_sandbox/health").json()["aws"] == "http://127.0.0.1:1"
    assert client.get("/_sandbox/alarms").json()["JobsDLQAlarm"]["state"] == "ALARM"
    # A drain keeps the visibility timeouts, and may wait longer, when asked in its body or query.
    assert client.post("/_sandbox/worker/drain", json={"respect_visibility": True, "timeout": 600}).status_code == 200
    assert client.post("/_sandbox/worker/drain?respect_visibility=true").status_code == 200
    assert drains == [{}, {"respect_visibility": True, "timeout": 600.0}, {"respect_visibility": True}]
    for bad in ({"respect_visibility": "sometimes"}, {"timeout": -1}, {"timeout": 86400}, {"fast": True}, [1]):
        answer = client.post("/_sandbox/worker/drain", json=bad)
        assert answer.status_code == 400, bad
    assert len(drains) == 3


# -- the real template and functions -----------------------------------------------------------------


#: what a deployment gives every function (no AWS call is made by the requests below)
FUNCTION_ENVIRONMENT = {"SIGNING_KEY": "test-signing-key-of-32-characters", "AWS_DEFAULT_REGION": "eu-north-1",
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@pytest.fixture(scope="module")
def hubnox() -> Iterator[httpx.Client]:
    saved = {name: os.environ.get(name) for name in FUNCTION_ENVIRONMENT}
    os.environ.update(FUNCTION_ENVIRONMENT)
    gateway = Gateway.from_template(REPO_ROOT / "template.yaml")
    try:
        yield httpx.Client(transport=httpx.WSGITransport(app=gateway), base_url="http://127.0.0.1:8000")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


TEMPLATE_ROUTES = sorted(route.route_key for route in Gateway.from_template(REPO_ROOT / "template.yaml").routes)


@pytest.mark.parametrize("route_key", TEMPLATE_ROUTES)
def test_every_template_route_reaches_its_function_and_answers_cleanly(hubnox, route_key):
    # Unsigned, unauthenticated and without a body: every route must refuse or redirect in words,
    # never fail inside (5xx).
    method, path = route_key.split(" ")
    path = (path.replace("{proxy+}", "a/b.css").replace("{action}", "sync")
            .replace("{runId}", "01JDQ7Z5M3X8R2K9V4T6W0B1C7"))
    response = hubnox.request("POST" if method == "ANY" else method, path, params={"portalId": "102670506"})
    assert response.status_code < 500, response.text[:500]
    if path.startswith("/settings/static/"):
        assert response.status_code == 404  # no such static file
    elif path.startswith("/settings/api/"):
        # no such API route: the function answers so itself (the gateway's own 404 has no code)
        assert response.status_code != 404 or response.json()["code"] == "NOT_FOUND"
    else:
        assert response.status_code != 404
    assert response.headers["apigw-requestid"]
    if response.status_code < 300 or response.status_code >= 400:
        assert response.text.strip()


def test_settings_serves_static_files_from_the_layer(hubnox, tmp_path, monkeypatch):
    hubnox.get("/settings/static/none.css")  # loads the settings function
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "settings.css").write_text("body { margin: 0 }")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01")
    monkeypatch.setattr(static_files, "STATIC_ROOT", tmp_path)

    css = hubnox.get("/settings/static/css/settings.css")
    assert (css.status_code, css.text) == (200, "body { margin: 0 }")
    assert css.headers["content-type"].startswith("text/css")
    assert "max-age" in css.headers["cache-control"]
    assert hubnox.get("/settings/static/logo.png").content == b"\x89PNG\r\n\x1a\n\x00\x01"
    assert hubnox.get("/settings/static/missing.js").status_code == 404


@pytest.mark.parametrize("path", ["%2e%2e/config.py", "css/%2e%2e/%2e%2e/x", ".hidden", "css//settings.css"])
def test_static_paths_cannot_leave_the_static_folder(hubnox, path):
    response = hubnox.get(f"/settings/static/{path}")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_the_event_the_gateway_builds_is_what_the_handlers_parse():
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    builder = EnvironBuilder(path="/replay/r1", query_string="sig=x", method="POST", data=b"{}",
                             content_type="application/json", headers={"Cookie": "s=1"})
    request = Request(builder.get_environ())
    event = APIGatewayProxyEventV2(build_http_event(request, HttpRoute("POST", "/replay/{runId}", "replay"),
                                                    {"runId": "r1"}))
    assert (event.path_parameters, event.query_string_parameters) == ({"runId": "r1"}, {"sig": "x"})
    assert (event.cookies, event.json_body, event.request_context.stage) == (["s=1"], {}, "$default")


HTTP_SAMPLES = sorted(path.name for path in EVENTS.glob("*.json")
                      if json.loads(path.read_text(encoding="utf-8")).get("version") == "2.0")


@pytest.mark.parametrize("name", HTTP_SAMPLES)
def test_each_sample_event_is_what_the_gateway_makes_of_its_request(name):
    event = sample(name)
    gateway = Gateway.from_template(REPO_ROOT / "template.yaml")
    found = gateway.route_for(event["requestContext"]["http"]["method"], event["rawPath"])
    assert found is not None
    route, params = found
    assert event["routeKey"] == event["requestContext"]["routeKey"] == route.route_key
    assert event.get("pathParameters", {}) == params
    assert event["requestContext"]["http"]["path"] == event["rawPath"]
    assert set(event.get("queryStringParameters", {})) == {
        pair.split("=")[0] for pair in event["rawQueryString"].split("&") if pair}
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]


def test_there_is_a_sample_event_for_every_http_function():
    gateway = Gateway.from_template(REPO_ROOT / "template.yaml")
    functions = set()
    for name in HTTP_SAMPLES:
        event = sample(name)
        found = gateway.route_for(event["requestContext"]["http"]["method"], event["rawPath"])
        assert found is not None
        functions.add(found[0].function)
    assert functions == {"oauth", "workflow_action", "webhooks", "crm_card", "replay", "settings"}


# -- containers ----------------------------------------------------------------------------------


def test_each_container_takes_one_event_at_a_time_and_a_busy_function_starts_another():
    spec = FunctionSpec(logical_id="ReplayFunction", name="replay", code_dir=Path("/nowhere"),
                        handler="app.lambda_handler", timeout=10, memory=512, routes=())
    inside = threading.Barrier(3)
    running: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        running.append(event["n"])
        if event.get("together"):
            inside.wait(timeout=5)  # all three are in the handler at once, so in three containers
        return {"n": event["n"]}

    function = LocalFunction(spec, handler=handler)
    assert function.invoke({"n": 0}) == {"n": 0}
    assert len(function.containers) == 1  # the cold start
    assert function.invoke({"n": 1}) == {"n": 1}
    assert len(function.containers) == 1  # the warm container took it

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(function.invoke, [{"n": n, "together": True} for n in (2, 3, 4)]))

    assert answers == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert len(function.containers) == 3
    assert function.containers[0].invocations >= 2
    assert sum(c.invocations for c in function.containers) == 5
