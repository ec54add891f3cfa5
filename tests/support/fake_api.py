"""An API as a client under test sees it: canned answers per route, every exchange kept.

Used as an `httpx.MockTransport` handler: `httpx.MockTransport(fake)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

Responder = Callable[[httpx.Request, re.Match[str]], httpx.Response]


class FakeApi:
    """Routes (method + path pattern) to responders; the newest route for a path wins."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Responder]] = []
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def on(self, method: str, pattern: str, responder: Responder | httpx.Response) -> None:
        handler = responder if callable(responder) else (lambda request, match, r=responder: r)
        self.routes.insert(0, (method, re.compile(f"^{pattern}$"), handler))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        for method, pattern, responder in self.routes:
            match = pattern.match(request.url.path)
            if method == request.method and match:
                response = responder(request, match)
                self.exchanges.append((request, response))
                return response
        raise AssertionError(f"the fake has no route for {request.method} {request.url.path}")

    def requests(self, method: str | None = None, contains: str = "") -> list[httpx.Request]:
        return [
            request
            for request, _ in self.exchanges
            if (method is None or request.method == method) and contains in request.url.path
        ]


class RecordingBudget:
    """A rate budget that grants every slot and records which limits were asked for."""

    def __init__(self) -> None:
        self.taken: list[str] = []

    def acquire(self, key: str, *, limit: int, window: float, max_wait: float) -> None:
        self.taken.append(f"{key}={limit}/{window:g}")
