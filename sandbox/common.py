"""What both simulators share: a small WSGI app with routing, a request log, fault injection,
a sliding-window rate limiter and a threaded server.

The simulators are plain WSGI apps, so tests can drive them in process
(`httpx.Client(transport=httpx.WSGITransport(app=sim))`) or over HTTP (`serve(sim)`).
Everything under `/_sandbox/` is control surface for tests and the demo; everything else mimics
the real API.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

Handler = Callable[..., Response]
Clock = Callable[[], float]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response as the real APIs send it (UTF-8, no ASCII escaping)."""
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        headers=headers,
        content_type="application/json;charset=UTF-8",
    )


@dataclass
class LoggedRequest:
    """One request the simulator received, as tests read it back."""

    id: int
    at: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    status: int = 0
    tenant: str | None = None
    #: when the answer was ready (the simulator's clock; None until then): `at` is arrival, so a
    #: create's effect is visible from `done_at`, after any injected latency
    done_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "done_at": self.done_at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "tenant": self.tenant,
        }


class RequestLog:
    """Every API request (not the `/_sandbox/` ones), newest last, bounded."""

    def __init__(self, limit: int = 5000) -> None:
        self._items: deque[LoggedRequest] = deque(maxlen=limit)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, request: Request, clock: Clock) -> LoggedRequest:
        body = request.get_data(cache=True)
        entry = LoggedRequest(
            id=next(self._ids),
            at=clock(),
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            body=body.decode("utf-8", errors="replace") if len(body) < 100_000 else f"<{len(body)} bytes>",
        )
        with self._lock:
            self._items.append(entry)
        return entry

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Fault:
    """A fault to inject into matching requests.

    kind:
      - "status": answer `status` with `body` instead of handling the request
      - "latency": sleep `seconds`, then handle the request normally
      - "timeout_after": handle the request (its effect happens), then sleep `seconds` before
        answering, so the client times out although the server acted
      - "malformed": handle the request, then answer a truncated, unparseable body
      - "revoke": answer 401 as for a revoked token (each simulator shapes the body)
    `times` is how many matching requests it hits (None: until cleared).
    """

    kind: str
    method: str = "*"
    path: str = ".*"
    status: int = 500
    body: Any = None
    seconds: float = 0.0
    times: int | None = 1
    hits: int = 0
    id: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method in ("*", method)) and re.fullmatch(self.path, path) is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "body": self.body,
            "seconds": self.seconds,
            "times": self.times,
            "hits": self.hits,
        }


FAULT_KINDS = ("status", "latency", "timeout_after", "malformed", "revoke")


class Faults:
    """The faults switched on, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        allowed = {"kind", "method", "path", "status", "body", "seconds", "times"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        fault = Fault(**spec)
        fault.method = fault.method.upper()
        re.compile(fault.path)
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault matching this request, counted as hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class SlidingWindowLimiter:
    """At most `limit` requests per `window` seconds per key, over a sliding window."""

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.enabled = True
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """Count a request for `key`; answers (allowed, seconds until a slot frees)."""
        if not self.enabled:
            return True, 0.0
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return True, 0.0

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class Route:
    rule: str
    methods: tuple[str, ...]
    handler: Handler
    control: bool = False


class SimulatorApp:
    """A WSGI app with a route table, a request log, faults and a rate limiter.

    Subclasses register routes with `self.add(rule, methods, handler)`, shape errors in
    `error_body`, name the rate-limit key in `tenant_of`, and shape a 429 in `rate_limited`.
    """

    name = "simulator"

    def __init__(self, *, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.log = RequestLog()
        self.faults = Faults()
        self.limiter = SlidingWindowLimiter(limit, window, clock=clock)
        #: seconds every API request waits before it is handled (`PUT /_sandbox/latency`); unlike a
        #: "latency" fault it never shadows the faults, so both compose
        self.latency = 0.0
        self._routes: list[Route] = []
        self._map: Map | None = None
        self.lock = threading.RLock()  # guards the simulated data
        self.add("/_sandbox/requests", ("GET",), self._control_requests, control=True)
        self.add("/_sandbox/requests", ("DELETE",), self._control_clear_requests, control=True)
        self.add("/_sandbox/faults", ("GET",), self._control_faults, control=True)
        self.add("/_sandbox/faults", ("POST",), self._control_add_fault, control=True)
        self.add("/_sandbox/faults", ("DELETE",), self._control_clear_faults, control=True)
        self.add("/_sandbox/ratelimit", ("PUT",), self._control_ratelimit, control=True)
        self.add("/_sandbox/latency", ("GET",), self._control_latency, control=True)
        self.add("/_sandbox/latency", ("PUT",), self._control_set_latency, control=True)
        self.add("/_sandbox/health", ("GET",), lambda request: json_response({"ok": True, "name": self.name}),
                 control=True)

    # -- routing -------------------------------------------------------------------------------

    def add(self, rule: str, methods: Iterable[str], handler: Handler, *, control: bool = False) -> None:
        self._routes.append(Route(rule, tuple(m.upper() for m in methods), handler, control))
        self._map = None

    def _url_map(self) -> Map:
        if self._map is None:
            self._map = Map(
                [Rule(r.rule, methods=list(r.methods), endpoint=i) for i, r in enumerate(self._routes)],
                strict_slashes=False,
                merge_slashes=False,
            )
        return self._map

    # -- hooks for subclasses ------------------------------------------------------------------

    def tenant_of(self, request: Request) -> str | None:
        """The rate-limit key of an API request (token's tenant or portal); None: not limited."""
        return None

    def error_body(self, status: int, message: str, request: Request) -> Any:
        return {"message": message}

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return json_response({"message": "Too many requests"}, status=429)

    def revoked(self, request: Request) -> Response:
        return json_response(self.error_body(401, "unauthorized", request), status=401)

    def error(self, request: Request, status: int, message: str, headers: dict[str, str] | None = None
              ) -> Response:
        return json_response(self.error_body(status, message, request), status=status, headers=headers)

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self._url_map().bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            if not request.path.startswith("/_sandbox/"):
                self.log.add(request, self.clock).status = 404
            return self.error(request, 404, f"No route for {request.method} {request.path}")
        except MethodNotAllowed:
            return self.error(request, 405, f"Method {request.method} not allowed on {request.path}")
        except HTTPException as exc:  # e.g. a redirect for slashes
            return exc.get_response(request.environ)  # type: ignore[return-value]
        route = self._routes[endpoint]
        if route.control:
            return self._call(route, request, args)

        entry = self.log.add(request, self.clock)
        entry.tenant = self.tenant_of(request)
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            body = fault.body if fault.body is not None else self.error_body(
                fault.status, "Injected fault", request)
            response = json_response(body, status=fault.status)
        elif fault is not None and fault.kind == "revoke":
            response = self.revoked(request)
        else:
            allowed, wait = (True, 0.0) if entry.tenant is None else self.limiter.allow(entry.tenant)
            response = self._call(route, request, args) if allowed else self.rate_limited(request, wait)
            if fault is not None and fault.kind == "timeout_after":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "malformed":
                data = response.get_data()
                response = Response(data[: max(1, len(data) // 2)], status=response.status_code,
                                    content_type=response.content_type)
        entry.status = response.status_code
        entry.done_at = self.clock()
        return response

    def _call(self, route: Route, request: Request, args: dict[str, Any]) -> Response:
        try:
            return route.handler(request, **args)
        except SandboxError as exc:
            return self.error(request, exc.status, exc.message)

    # -- control endpoints ---------------------------------------------------------------------

    def _control_requests(self, request: Request) -> Response:
        items = self.log.entries()
        since = request.args.get("since", type=int)
        if since is not None:
            items = [e for e in items if e.id > since]
        return json_response({"requests": [e.as_json() for e in items]})

    def _control_clear_requests(self, request: Request) -> Response:
        self.log.clear()
        return Response(status=204)

    def _control_faults(self, request: Request) -> Response:
        return json_response({"faults": [f.as_json() for f in self.faults.all()]})

    def _control_add_fault(self, request: Request) -> Response:
        spec = read_json(request)
        try:
            fault = self.faults.add(spec)
        except (TypeError, ValueError, re.error) as exc:
            return json_response({"message": str(exc)}, status=400)
        return json_response(fault.as_json(), status=201)

    def _control_clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(status=204)

    def _control_ratelimit(self, request: Request) -> Response:
        spec = read_json(request)
        if "enabled" in spec:
            self.limiter.enabled = bool(spec["enabled"])
        if "limit" in spec:
            self.limiter.limit = int(spec["limit"])
        if "window" in spec:
            self.limiter.window = float(spec["window"])
        self.limiter.reset()
        return json_response({"enabled": self.limiter.enabled, "limit": self.limiter.limit,
                              "window": self.limiter.window})


    def _control_latency(self, request: Request) -> Response:
        return json_response({"seconds": self.latency})

    def _control_set_latency(self, request: Request) -> Response:
        spec = read_json(request)
        seconds = spec.get("seconds") if isinstance(spec, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 60:
            return json_response({"message": "seconds must be a number from 0 to 60"}, status=400)
        self.latency = float(seconds)
        return json_response({"seconds": self.latency})


class SandboxError(Exception):
    """Raised by handlers to answer an error in the simulator's own error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 in the simulator's error shape."""
    data = request.get_data(cache=True)
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SandboxError(400, f"Malformed JSON body: {exc}") from exc


@dataclass
class RunningServer:
    """A simulator (or the gateway) served on a port in a background thread."""

    server: BaseWSGIServer
    thread: threading.Thread
    url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a WSGI app on host:port (0: any free port) in a daemon thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread, url=f"http://{host}:{server.server_port}")
