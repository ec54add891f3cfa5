"""What the HubSpot and Fortnox clients share: the httpx client, tokens, retries, error translation.

Every outbound API call goes through `ApiCaller.call`, which

- takes a slot from the rate budget for each limit that applies to the call,
- sends the bearer token from a `TokenSource`, and on a 401 invalidates it and tries once more
  with a fresh one before giving up with `ConnectionBrokenError`,
- retries what is safe to retry (see `RetryPolicy.may_retry`), with exponential backoff, jitter
  and `Retry-After`,
- turns httpx exceptions and HTTP failures into the domain errors of `hubnox.errors`, so nothing
  upstream matches on status codes or message text.
"""

from __future__ import annotations

import email.utils
import enum
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from hubnox.errors import ConnectionBrokenError, HubnoxError, TransientError
from hubnox.observability import logger
from hubnox.rate_budget import RateBudget
from hubnox.signals import count_rate_limited

USER_AGENT = "hubnox/0.1 (+https://github.com/hubnox/hubnox)"
DEFAULT_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: Fortnox document actions with side effects. Several are GETs (print, email, einvoice, eprint,
#: printreminder set `Sent` or send mail) and the PUTs create or book documents, so none of them
#: is ever retried, whatever the caller declares.
SEND_ACTION_PATH = re.compile(
    r"^/3/(invoices|orders|offers)/[^/]+/"
    r"(print|email|einvoice|eprint|printreminder|externalprint|bookkeep|cancel|credit|createinvoice|warehouseready)/?$",
    re.IGNORECASE,
)


def build_http_client(
    base_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for one API: base URL, connect and read timeouts, no redirects followed."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


class TokenSource(Protocol):
    """Where a client gets its access token for one connection (a portal, a Fortnox tenant)."""

    def token(self) -> str:
        """A valid access token, refreshed first if it is about to expire."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget `token` after the API refused it; the next `token()` must refresh."""
        ...


@dataclass(frozen=True)
class RateLimit:
    """One sliding-window limit a call counts against, for `RateBudget.acquire`."""

    key: str
    limit: int
    window: float
    max_wait: float


class Outcome(enum.Enum):
    """What a failed attempt tells us about whether the server acted on the request."""

    NOT_SENT = "not sent"  # connect failure: the request never reached the server
    REFUSED = "refused"  # rate limited or locked: the server turned it away before acting
    UNKNOWN = "unknown"  # timeout while waiting, 5xx, unreadable answer: it may have acted


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry, and the one place that decides what is safe to retry.

    A request that did not reach the server, or that the server refused (429, and for HubSpot
    423 and 477), is retried whatever its method: nothing happened yet. A request whose outcome
    is unknown (a read timeout, a 5xx, a broken answer) is retried only when it is idempotent, so
    a POST that creates something and a Fortnox send action are never replayed blindly; the
    queue's retry and the look-up before every create take over from there.

    Waits longer than `max_delay` are not spent in process: the call raises `TransientError`
    with `retry_after` so the job goes back to the queue instead of holding a Lambda.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def may_retry(self, outcome: Outcome, *, idempotent: bool) -> bool:
        """Whether a request that failed this way may be sent again."""
        return outcome in (Outcome.NOT_SENT, Outcome.REFUSED) or idempotent

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try number `attempt + 1` (exponential, jittered, >= Retry-After)."""
        backoff = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        jittered = backoff * (0.5 + self.random() / 2)
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class Reply:
    """A successful (or explicitly accepted) answer, read in full."""

    status: int
    headers: httpx.Headers
    content: bytes
    data: Any = None


@dataclass(frozen=True)
class ApiProfile:
    """What differs between the APIs: their name, limits, extra refusal codes and error shapes."""

    system: str
    translate: Callable[[httpx.Response], HubnoxError]
    default_retry_after: float = 1.0
    refused_statuses: frozenset[int] = frozenset({429})
    limits: Sequence[RateLimit] = field(default_factory=tuple)


class UnreadableResponseError(Exception):
    """A 2xx answer whose body is not the JSON it should be."""


class ApiCaller:
    """Authenticated, rate-budgeted, retried calls to one API through one httpx client."""

    def __init__(
        self,
        http: httpx.Client,
        tokens: TokenSource,
        budget: RateBudget,
        profile: ApiProfile,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.budget = budget
        self.profile = profile
        self.retry = retry or RetryPolicy()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        extra_limits: Sequence[RateLimit] = (),
        accept: Iterable[int] = (),
        expect_json: bool = True,
    ) -> Reply:
        """Send one logical request, retrying what is safe, and answer its `Reply`.

        `accept` lists non-2xx statuses the caller handles itself (they come back as a `Reply`
        instead of an error). `idempotent` overrides the method's default, e.g. for a search
        sent as POST; Fortnox send actions are never idempotent.
        """
        method = method.upper()
        safe = is_idempotent(method, path, idempotent)
        accepted = frozenset(accept)
        content = encode_json(json_body) if json_body is not None else None
        base_headers = dict(headers or {})
        if content is not None:
            base_headers["Content-Type"] = "application/json"
        limits = (*self.profile.limits, *extra_limits)
        system = self.profile.system
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            for lim in limits:
                self.budget.acquire(lim.key, limit=lim.limit, window=lim.window, max_wait=lim.max_wait)
            token = self.tokens.token()
            try:
                response = self.http.request(
                    method, path, params=_query(params), content=content, data=data, files=files,
                    headers={**base_headers, "Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                self._retry_or_raise(attempt, transport_outcome(exc), safe, None,
                                     _transport_error(system, exc), method, path)
                continue

            status = response.status_code
            if status == 401:
                if refreshed:
                    raise ConnectionBrokenError(system, f"{system} refused the access token twice.")
                self.tokens.invalidate(token)
                refreshed = True
                attempt -= 1  # a fresh token is not a retry of a failure
                continue
            if status in accepted and not 200 <= status < 300:
                return Reply(status, response.headers, response.content, json_or_none(response))
            if 200 <= status < 300:
                try:
                    return Reply(status, response.headers, response.content,
                                 parse_json(response) if expect_json else None)
                except UnreadableResponseError:
                    unreadable = TransientError(f"{system} sent an unreadable answer.", code="UNREADABLE")
                    self._retry_or_raise(attempt, Outcome.UNKNOWN, safe, None, unreadable, method, path)
                    continue
            if status in self.profile.refused_statuses or status >= 500:
                outcome, failure = self._transient(response)
                self._retry_or_raise(attempt, outcome, safe, failure.retry_after, failure, method, path)
                continue
            raise self.profile.translate(response)

    def _transient(self, response: httpx.Response) -> tuple[Outcome, TransientError]:
        """What a 429, a refusal or a 5xx says about the request, and the error if we give up."""
        status = response.status_code
        if status == 429:
            count_rate_limited(self.profile.system)
        refused = status in self.profile.refused_statuses
        default = self.profile.default_retry_after if refused else None
        wait = retry_after_seconds(response.headers) or default
        failure = TransientError(
            f"{self.profile.system} answered {status}; try again later.",
            code="RATE_LIMITED" if status == 429 else "UPSTREAM_UNAVAILABLE",
            retry_after=wait,
        )
        return (Outcome.REFUSED if refused else Outcome.UNKNOWN), failure

    def _retry_or_raise(
        self,
        attempt: int,
        outcome: Outcome,
        safe: bool,
        retry_after: float | None,
        failure: HubnoxError,
        method: str,
        path: str,
    ) -> None:
        """Sleep before the next try, or raise `failure` if no retry is allowed or worth waiting for."""
        if attempt >= self.retry.attempts or not self.retry.may_retry(outcome, idempotent=safe):
            raise failure
        delay = self.retry.delay(attempt, retry_after)
        if delay > self.retry.max_delay:
            if isinstance(failure, TransientError):
                failure.retry_after = delay
            raise failure
        logger.info(
            "retrying API call",
            extra={"system": self.profile.system, "method": method, "path": path,
                   "outcome": outcome.value, "attempt": attempt, "delay": round(delay, 3)},
        )
        self.retry.sleep(delay)


def send_once(http: httpx.Client, method: str, url: str, *, system: str, **kwargs: Any) -> httpx.Response:
    """One request with no retry, for calls that must not be repeated (OAuth code and token grants).

    Transport failures, 429 and 5xx become `TransientError`; every other answer is returned.
    """
    try:
        response = http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise _transport_error(system, exc) from exc
    if response.status_code == 429:
        count_rate_limited(system)
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"{system} answered {response.status_code}; try again later.",
                             code="RATE_LIMITED" if response.status_code == 429 else "UPSTREAM_UNAVAILABLE",
                             retry_after=retry_after_seconds(response.headers))
    return response


def is_idempotent(method: str, path: str, declared: bool | None = None) -> bool:
    """Whether sending this request twice has the same effect as sending it once."""
    if SEND_ACTION_PATH.match(path):
        return False
    if declared is not None:
        return declared
    return method.upper() in IDEMPOTENT_METHODS


def transport_outcome(exc: httpx.TransportError) -> Outcome:
    """Whether an httpx failure happened before the request reached the server."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Outcome.NOT_SENT
    return Outcome.UNKNOWN


def _transport_error(system: str, exc: httpx.TransportError) -> TransientError:
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{system} did not answer in time.", code="TIMEOUT")
    return TransientError(f"{system} could not be reached ({type(exc).__name__}).", code="UNREACHABLE")


def retry_after_seconds(headers: httpx.Headers, *, now: Callable[[], float] = time.time) -> float | None:
    """The `Retry-After` header in seconds (delta-seconds or an HTTP date), if present and sane."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now()
    return max(0.0, seconds)


def parse_json(response: httpx.Response) -> Any:
    """The body as JSON with every decimal number as `Decimal` (never float); None when empty."""
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        raise UnreadableResponseError(str(exc)) from exc


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is empty or not JSON (for reading error bodies)."""
    try:
        return parse_json(response)
    except UnreadableResponseError:
        return None


def encode_json(value: Any) -> bytes:
    """JSON bytes with `Decimal` written as an exact JSON number, dates as ISO strings."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as a JSON number")
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | int | float | str):
        out.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as strings, dropping the ones that are None."""
    if params is None:
        return None
    return {key: _query_value(value) for key, value in params.items() if value is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
