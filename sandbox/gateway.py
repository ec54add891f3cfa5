"""A local API Gateway for hubnox: an HTTP API with Lambda proxy integrations, payload format 2.0.

It reads the HttpApi routes from `template.yaml`, selects a route for each request as API Gateway
does, builds the event API Gateway sends, calls the function's `lambda_handler` in this process
(loaded from `functions/<name>/app.py` by file path, with the layer package `hubnox` importable as
on Lambda), and turns what the handler returns into the HTTP response API Gateway would send.

Control endpoints for tests and the demo live under `/_sandbox/`: `GET /_sandbox/health`,
`GET /_sandbox/queues`, `GET /_sandbox/alarms`, `POST /_sandbox/worker/drain` and
`POST /_sandbox/poller/tick` (the schedule's dispatch, then the poll queue drained) and
`POST /_sandbox/poller/drain` (the poll queue only; all but the first need local AWS attached, see
`sandbox/aws.py`). A
drain skips the worker's backoff unless its JSON body (or query) says `respect_visibility: true`;
`timeout` (seconds) bounds it either way.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import logging
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote

import yaml
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from sandbox.common import json_response

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LAYER_PATH = REPO_ROOT / "layers" / "core"

#: The account, region and API id the local stack reports in events and ARNs.
ACCOUNT_ID = "123456789012"
REGION = "eu-north-1"
API_ID = "hubnoxlocal"

log = logging.getLogger("sandbox.gateway")

#: the longest drain a request may ask for: a job's every try with the worker's real backoff fits
MAX_DRAIN_SECONDS = 3600


# -- the template --------------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !Sub, !GetAtt ...) into their
    JSON forms ({"Ref": ...}, {"Fn::Sub": ...}, {"Fn::GetAtt": [resource, attribute]})."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{name}": value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def read_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as plain data, intrinsic functions in their JSON form."""
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=CloudFormationLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi route: method (or ANY) and path, as the template declares them, and its function."""

    method: str
    path: str
    function: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/")) if self.path != "/" else ()

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = self.segments
        params: dict[str, str] = {}
        fixed = pattern[:-1] if self.greedy else pattern
        if (len(segments) <= len(fixed)) if self.greedy else (len(segments) != len(pattern)):
            return None
        for expected, actual in zip(fixed, segments, strict=False):
            if _is_variable(expected):
                if not actual:
                    return None
                params[expected[1:-1]] = path_parameter_value(actual)
            elif expected != actual:
                return None
        if self.greedy:
            rest = segments[len(fixed):]
            if not "".join(rest):
                return None
            params[pattern[-1][1:-2]] = path_parameter_value("/".join(rest))
        return params

    def specificity(self) -> tuple[Any, ...]:
        """Sort key, most specific first: full matches before greedy ones, literal segments before
        variables (leftmost first), longer greedy prefixes first, a method before ANY."""
        kinds = tuple(1 if _is_variable(s) else 0 for s in self.segments[: -1 if self.greedy else None])
        return (self.greedy, -len(kinds) if self.greedy else 0, kinds, self.method == "ANY")


def _is_variable(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def path_parameter_value(raw: str) -> str:
    """A path parameter as the handler sees it. API Gateway HTTP APIs percent-decode path parameter
    values while `rawPath` keeps the request's encoding; the local gateway does the same."""
    return unquote(raw)


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the template: its folder under functions/, limits and HTTP routes."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    routes: tuple[HttpRoute, ...]
    events: Mapping[str, Any] = field(default_factory=dict)


def functions_from_template(template: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of the template, by folder name (`oauth`, `worker` ...)."""
    globals_ = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        code_uri = str(props["CodeUri"]).rstrip("/")
        name = Path(code_uri).name
        events = props.get("Events", {})
        routes = tuple(
            HttpRoute(str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"]), name)
            for e in events.values()
            if e.get("Type") == "HttpApi"
        )
        specs[name] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            code_dir=root / code_uri,
            handler=str(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            routes=routes,
            events=events,
        )
    return specs


# -- functions -----------------------------------------------------------------------------------


class LambdaContext:
    """The context object Lambda passes to a handler, for one invocation."""

    def __init__(self, spec: FunctionSpec, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.function_name = f"hubnox-{spec.name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._clock = clock
        self._deadline = clock() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


def ensure_layer_importable(layer_path: Path = LAYER_PATH) -> None:
    """Make `import hubnox` work as it does on Lambda, where the layer sits in /opt/python."""
    # Tests get this from pytest's pythonpath; `python -m sandbox` runs from the repository root.
    if str(layer_path) not in sys.path:
        sys.path.insert(0, str(layer_path))


class LocalContainer:
    """One Lambda container of a function: its own copy of the function's module (so its own
    `entry`, resolver and clients), used by one invocation at a time."""

    def __init__(self, spec: FunctionSpec, number: int) -> None:
        self.spec = spec
        self.number = number
        self.module: ModuleType | None = None
        self.invocations = 0

    def load(self) -> ModuleType:
        """Load the function's module for this container (its cold start), once."""
        if self.module is not None:
            return self.module
        ensure_layer_importable()
        file_stem = self.spec.handler.rpartition(".")[0]
        path = self.spec.code_dir / f"{file_stem}.py"
        # A unique module name per container: every function's file is called app.py.
        suffix = "" if self.number == 1 else f"_{self.number}"
        module_name = f"hubnox_function_{self.spec.name}{suffix}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        # A new container reads its environment anew, as Lambda's would.
        from hubnox.config import get_app_config

        get_app_config.cache_clear()
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
        self.module = module
        return module


class LocalFunction:
    """One function, as Lambda runs it: each container takes one event at a time, a warm container
    that is free takes the next event, and an event that finds every container busy starts a new one
    (a cold start). Its handler is loaded from the function's folder in each container, unless one
    is given."""

    def __init__(self, spec: FunctionSpec, handler: Callable[[Any, Any], Any] | None = None) -> None:
        self.spec = spec
        self._given = handler
        self._containers: list[LocalContainer] = []  # every container started, oldest first
        self._idle: list[LocalContainer] = []
        self._lock = threading.Lock()
        self._aws_client_hooks: list[Callable[[Any], None]] = []

    @property
    def module(self) -> ModuleType | None:
        """The first container's module once an invocation loaded it (a cold start), None before."""
        return self._containers[0].module if self._containers else None

    @property
    def containers(self) -> list[LocalContainer]:
        """Every container started so far, oldest first."""
        with self._lock:
            return list(self._containers)

    def watch_aws_clients(self, hook: Callable[[Any], None]) -> None:
        """Call `hook` with every boto3 client the function's containers build (see `sandbox.iam`)."""
        with self._lock:
            self._aws_client_hooks.append(hook)
            loaded = [c.module for c in self._containers if c.module is not None]
        for module in loaded:
            module.entry.container.watch_aws_clients(hook)

    def container(self) -> Any:
        """The `Container` the first container's `entry` (a `hubnox.entry.LambdaEntry`) builds its
        handler over."""
        assert self.module is not None, "the function is not loaded yet"
        return self.module.entry.container

    def _checkout(self) -> LocalContainer:
        with self._lock:
            if self._idle:
                return self._idle.pop(0)  # the oldest free container, so tests can find it
            container = LocalContainer(self.spec, len(self._containers) + 1)
            self._containers.append(container)
            return container

    def _checkin(self, container: LocalContainer) -> None:
        with self._lock:
            self._idle.append(container)
            self._idle.sort(key=lambda c: c.number)

    def _handler_in(self, container: LocalContainer) -> Callable[[Any, LambdaContext], Any]:
        if self._given is not None:
            return self._given
        if container.module is None:
            module = container.load()
            with self._lock:
                hooks = list(self._aws_client_hooks)
            for hook in hooks:
                module.entry.container.watch_aws_clients(hook)
        return getattr(container.module, self.spec.handler.rpartition(".")[2])

    def _handler(self) -> Callable[[Any, LambdaContext], Any]:
        """The first container's handler, loading it when cold."""
        container = self._checkout()
        try:
            return self._handler_in(container)
        finally:
            self._checkin(container)

    def invoke(self, event: Any) -> Any:
        """Call the handler with `event` and a fresh context in a free container (a new one when
        every container is busy); answers what the handler returns."""
        container = self._checkout()
        try:
            handler = self._handler_in(container)
            container.invocations += 1
            return handler(event, LambdaContext(self.spec))
        finally:
            self._checkin(container)


def load_functions(template: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, LocalFunction]:
    """A LocalFunction for every function of the template, by folder name."""
    return {name: LocalFunction(spec) for name, spec in functions_from_template(template, root).items()}


# -- events and responses ------------------------------------------------------------------------


TEXT_MEDIA_TYPES = ("application/json", "application/javascript", "application/xml")


def is_text_body(content_type: str | None) -> bool:
    """Whether API Gateway passes a request body as text rather than base64.

    HTTP APIs infer it from the content type: text/*, JSON, JavaScript and XML (also the +json and
    +xml suffixes) arrive as text; everything else, form posts and multipart included, arrives
    base64-encoded with `isBase64Encoded: true`. A body without a content type counts as text.
    """
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_MEDIA_TYPES or media.endswith(("+json", "+xml"))


def _request_id() -> str:
    # API Gateway's request ids look like "JKJaXmPLvHcESHA=": 14 characters of base64 and padding.
    return base64.b64encode(secrets.token_bytes(10)).decode().rstrip("=") + "="


def _raw_path(environ: Mapping[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    return quote(str(environ.get("PATH_INFO", "/")), safe="/:@!$&'()*+,;=-._~%")


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def build_http_event(
    request: Request,
    route: HttpRoute,
    path_parameters: Mapping[str, str],
    *,
    now: float | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway sends for `request` on `route`."""
    now = time.time() if now is None else now
    request_id = request_id or _request_id()
    raw_path = _raw_path(request.environ)
    raw_query = request.environ.get("QUERY_STRING", "")
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("latin-1")
    host = request.headers.get("Host", "localhost")
    source_ip = request.remote_addr or "127.0.0.1"

    cookies: list[str] = []
    header_pairs: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        if name.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            header_pairs.append((name.lower(), value))
    header_pairs += [
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", str(request.environ.get("SERVER_PORT", "80"))),
        ("x-forwarded-proto", request.scheme),
        ("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"),
    ]
    headers = _joined(header_pairs)

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        event["queryStringParameters"] = _joined(parse_qsl(raw_query, keep_blank_values=True))
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": source_ip,
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    body = request.get_data(cache=True)
    if body:
        if is_text_body(request.content_type):
            event["body"] = body.decode("utf-8", errors="replace")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


class MalformedLambdaResponse(ValueError):
    """A handler's answer that API Gateway cannot turn into an HTTP response."""


def http_response(result: Any) -> Response:
    """The HTTP response API Gateway (payload 2.0) makes of what a handler returned.

    A dict with `statusCode` is a full response (`headers`, `cookies` as Set-Cookie headers, `body`,
    `isBase64Encoded`). Anything else that is JSON, a dict without `statusCode` included, is the
    shorthand: 200, application/json, the value as the body. API Gateway ignores `multiValueHeaders`
    in payload 2.0 (a 1.0 field), and so does this gateway, with a warning.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        try:
            text = json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise MalformedLambdaResponse(f"the handler returned {type(result).__name__}, not JSON") from exc
        return Response(text, status=200, content_type="application/json")

    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedLambdaResponse(f"statusCode {status!r} is not an HTTP status")
    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        headers.add(str(name), value if isinstance(value, str) else json.dumps(value))
    if result.get("multiValueHeaders"):
        log.warning("multiValueHeaders is a payload 1.0 field: API Gateway ignores it in payload 2.0")
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", str(cookie))
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedLambdaResponse("isBase64Encoded is true but the body is not base64") from exc
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    typed = "Content-Type" in headers
    response = Response(data, status=status, headers=headers)
    if not typed:  # werkzeug would add text/plain; API Gateway adds no type of its own
        del response.headers["Content-Type"]
    return response


def api_error(status: int, message: str) -> Response:
    """An error API Gateway itself answers: {"message": ...}."""
    return json_response({"message": message}, status=status)


# -- the gateway ---------------------------------------------------------------------------------


class StackControls(Protocol):
    """What local AWS offers the gateway's control endpoints."""

    def drain(self, *, respect_visibility: bool = False, timeout: float | None = None) -> dict[str, Any]: ...

    def tick(self) -> dict[str, Any]: ...

    def drain_polls(self) -> dict[str, Any]: ...

    def queue_depths(self) -> dict[str, Any]: ...

    def alarms(self) -> dict[str, Any]: ...


class Gateway:
    """A WSGI app that plays API Gateway (HTTP API) in front of the template's functions."""

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        *,
        controls: StackControls | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.routes = sorted(
            (route for f in self.functions.values() for route in f.spec.routes), key=HttpRoute.specificity
        )
        self.controls = controls
        self.info = dict(info or {})

    @classmethod
    def from_template(cls, template_path: Path = TEMPLATE_PATH, **options: Any) -> Gateway:
        """A gateway for the functions of the template at `template_path` (its folder is the root)."""
        return cls(load_functions(read_template(template_path), template_path.parent), **options)

    def route_for(self, method: str, raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        """The route API Gateway selects for this request and its path parameters, or None."""
        segments = raw_path.strip("/").split("/") if raw_path.strip("/") else []
        if raw_path.endswith("/") and raw_path != "/":
            segments.append("")  # a trailing slash is a different path, as on API Gateway
        for route in self.routes:
            params = route.match(method, segments)
            if params is not None:
                return route, params
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._control(request) if request.path.startswith("/_sandbox/") else self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Answer one API request as API Gateway and the function behind the route would."""
        started = time.monotonic()
        found = self.route_for(request.method, _raw_path(request.environ))
        if found is None:
            response = api_error(404, "Not Found")
            response.headers["apigw-requestid"] = _request_id()
            return response
        route, params = found
        event = build_http_event(request, route, params)
        request_id = event["requestContext"]["requestId"]
        function = self.functions[route.function]
        try:
            result = function.invoke(event)
            response = http_response(result)
        except MalformedLambdaResponse as exc:
            log.error("%s: malformed Lambda proxy response: %s", route.route_key, exc)
            response = api_error(500, "Internal Server Error")
        except Exception:  # the handler's own error: API Gateway answers 500 and the trace is in its logs
            log.error("%s: the %s function failed:\n%s", route.route_key, function.spec.name,
                      traceback.format_exc())
            response = api_error(500, "Internal Server Error")
        elapsed = time.monotonic() - started
        if elapsed > function.spec.timeout:
            log.error("%s: the %s function ran %.1f s, past its %d s timeout", route.route_key,
                      function.spec.name, elapsed, function.spec.timeout)
            response = api_error(500, "Internal Server Error")
        response.headers["apigw-requestid"] = request_id
        log.info("%s %s -> %s (%s, %.0f ms)", request.method, request.full_path.rstrip("?"),
                 response.status_code, route.function, elapsed * 1000)
        return response

    def _control(self, request: Request) -> Response:
        endpoint = (request.method, request.path.rstrip("/"))
        if endpoint == ("GET", "/_sandbox/health"):
            return json_response({"ok": True, "name": "gateway", "routes": len(self.routes), **self.info})
        actions: dict[tuple[str, str], Callable[[StackControls], dict[str, Any]]] = {
            ("GET", "/_sandbox/queues"): lambda c: c.queue_depths(),
            ("GET", "/_sandbox/alarms"): lambda c: c.alarms(),
            ("POST", "/_sandbox/worker/drain"): lambda c: c.drain(**drain_options),
            ("POST", "/_sandbox/poller/tick"): lambda c: c.tick(),
            ("POST", "/_sandbox/poller/drain"): lambda c: c.drain_polls(),
        }
        action = actions.get(endpoint)
        if action is None:
            return api_error(404, "Not Found")
        try:
            drain_options = _drain_options(request) if endpoint[1] == "/_sandbox/worker/drain" else {}
        except ValueError as exc:
            return api_error(400, str(exc))
        if self.controls is None:
            return api_error(503, "Local AWS is not attached to this gateway.")
        return json_response(action(self.controls))


def _drain_options(request: Request) -> dict[str, Any]:
    """A drain's options from its JSON body or its query: `respect_visibility` and `timeout`; none
    given is the drain as it always was."""
    given: dict[str, Any] = dict(request.args.items())
    body = request.get_data(cache=True)
    if body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ValueError("The drain's body must be a JSON object.") from None
        if not isinstance(parsed, dict):
            raise ValueError("The drain's body must be a JSON object.")
        given.update(parsed)
    unknown = set(given) - {"respect_visibility", "timeout"}
    if unknown:
        raise ValueError(f"A drain takes respect_visibility and timeout, not {', '.join(sorted(unknown))}.")
    options: dict[str, Any] = {}
    if "respect_visibility" in given:
        flag = given["respect_visibility"]
        if isinstance(flag, str):
            flag = {"true": True, "1": True, "false": False, "0": False}.get(flag.lower(), flag)
        if not isinstance(flag, bool):
            raise ValueError("respect_visibility must be true or false.")
        options["respect_visibility"] = flag
    if "timeout" in given:
        try:
            timeout = float(given["timeout"])
        except (TypeError, ValueError):
            raise ValueError("timeout must be a number of seconds.") from None
        if not 0 < timeout <= MAX_DRAIN_SECONDS:
            raise ValueError(f"timeout must be more than 0 and at most {MAX_DRAIN_SECONDS} seconds.")
        options["timeout"] = timeout
    return options
