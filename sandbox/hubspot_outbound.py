"""HubSpot's side of the conversation: the requests HubSpot sends to an app.

- Workflow action executions (reference hubspot.md §5.2-§5.5): the signed POST to the action's
  `actionUrl`, how HubSpot reads the answer (BLOCK, SUCCESS, FAIL_CONTINUE, the HTTP status),
  and the callback that then waits for completion.
- App card fetches (§6): `hubspot.fetch()` calling the app's backend, signed with v3.

Nothing here holds the simulator's lock: outbound calls may call the simulator back.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.hubspot_signing import signature_headers
from sandbox.hubspot_store import iso_ms

USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/)"
DEFAULT_BLOCK_DURATION = "P1W"  # how long a BLOCKed action waits for its callback unless told

# Decisions on points HubSpot leaves open (reference hubspot.md §5.5, §6, §11), kept in one place.
# The action request itself times out after the simulator's `http_timeout` (15 s by default).
RETRY_AFTER_IS_MILLISECONDS = True  # "Retry-After ... in workflows is in milliseconds" [HS-ERR]
CARD_FETCH_TIMEOUT_SECONDS = 15.0  # the older pages' cap; the newer one allows up to 120 s
CARD_FETCH_MAX_BYTES = 1_000_000  # 1 MB per request and per response
# hubspot.fetch appends these query parameters, in this order; only portalId is documented.
CARD_FETCH_QUERY_PARAMETERS = ("portalId", "userId", "userEmail", "appId")

# The states a workflow action execution goes through in the simulator.
PENDING, BLOCKED, COMPLETED, FAILED, RETRY_SCHEDULED, EXPIRED = (
    "PENDING",
    "BLOCKED",
    "COMPLETED",
    "FAILED",
    "RETRY_SCHEDULED",
    "EXPIRED",
)


@dataclass
class Delivery:
    """One attempt at delivering an execution request to the app."""

    attempt: int
    at_ms: int
    status: int | None
    body: Any
    error: str | None
    elapsed_ms: int
    retry_after: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "at": iso_ms(self.at_ms),
            "status": self.status,
            "body": self.body,
            "error": self.error,
            "elapsedMs": self.elapsed_ms,
            "retryAfter": self.retry_after,
        }


@dataclass
class Execution:
    """One workflow action execution, identified by its callbackId, and its callback's fate."""

    callback_id: str
    portal_id: int
    app_id: int
    client_id: str
    action_url: str
    payload: dict[str, Any]
    state: str = PENDING
    execution_state: str | None = None
    output_fields: dict[str, Any] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    expires_at_ms: int | None = None
    next_attempt_ms: int | None = None
    completed_at_ms: int | None = None
    completed_by: str | None = None

    def refresh(self, now_ms: int) -> None:
        """A BLOCKed callback nobody completed in time moves on, as the workflow does."""
        if self.state == BLOCKED and self.expires_at_ms is not None and now_ms >= self.expires_at_ms:
            self.state = EXPIRED

    def as_json(self) -> dict[str, Any]:
        return {
            "callbackId": self.callback_id,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "actionUrl": self.action_url,
            "state": self.state,
            "executionState": self.execution_state,
            "outputFields": self.output_fields,
            "request": self.payload,
            "deliveries": [d.as_json() for d in self.deliveries],
            "completions": self.completions,
            "expiresAt": iso_ms(self.expires_at_ms) if self.expires_at_ms is not None else None,
            "nextAttemptAt": iso_ms(self.next_attempt_ms) if self.next_attempt_ms is not None else None,
            "completedAt": iso_ms(self.completed_at_ms) if self.completed_at_ms is not None else None,
            "completedBy": self.completed_by,
        }


def execution_payload(
    *,
    callback_id: str,
    portal_id: int,
    action_definition_id: int,
    workflow_id: int,
    object_type: str,
    object_id: str,
    properties: dict[str, str],
    input_fields: dict[str, Any],
) -> dict[str, Any]:
    """The body HubSpot POSTs to an action's URL (reference hubspot.md §5.2): ids are numbers,
    input field values strings."""
    return {
        "callbackId": callback_id,
        "origin": {
            "portalId": portal_id,
            "actionDefinitionId": action_definition_id,
            "actionDefinitionVersion": 1,
            "extensionDefinitionId": action_definition_id,
            "extensionDefinitionVersionId": 1,
        },
        "context": {"source": "WORKFLOWS", "workflowId": workflow_id},
        "object": {"objectId": int(object_id), "properties": properties, "objectType": object_type},
        "inputFields": {name: _input_value(value) for name, value in input_fields.items()},
    }


def _input_value(value: Any) -> str:
    """Input field values reach the app as strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def deliver(
    execution: Execution, *, secret: str, now_ms: int, timeout: float, transport: httpx.BaseTransport | None
) -> Delivery:
    """POST the execution request to the app, signed with v2 and v3, and record the attempt."""
    body = json.dumps(execution.payload, separators=(",", ":"), ensure_ascii=False)
    url = str(httpx.URL(execution.action_url))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secret, "POST", url, body, now_ms),
    }
    attempt = len(execution.deliveries) + 1
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, content=body.encode(), headers=headers)
        delivery = Delivery(
            attempt,
            now_ms,
            response.status_code,
            _body(response),
            None,
            _elapsed(started),
            response.headers.get("Retry-After"),
        )
    except httpx.TimeoutException:
        delivery = Delivery(attempt, now_ms, None, None, "timeout", _elapsed(started))
    except httpx.TransportError as exc:
        delivery = Delivery(attempt, now_ms, None, None, f"connection: {exc}", _elapsed(started))
    execution.deliveries.append(delivery)
    return delivery


def read_outcome(execution: Execution, delivery: Delivery, now_ms: int) -> None:
    """Move the execution on the way HubSpot reads an action's answer (reference §5.3-§5.5).

    2xx: `hs_execution_state` decides (BLOCK/ASYNC wait for the callback until
    `hs_expiration_duration`, default one week; SUCCESS and FAIL_CONTINUE complete; none means
    success). 429 waits for Retry-After; 5xx, timeouts and connection failures are retried;
    any other 4xx fails the action.
    """
    execution.next_attempt_ms = None
    if delivery.error is not None or (delivery.status is not None and delivery.status >= 500):
        execution.state = RETRY_SCHEDULED
        execution.next_attempt_ms = now_ms
        return
    assert delivery.status is not None
    if delivery.status == 429:
        execution.state = RETRY_SCHEDULED
        execution.next_attempt_ms = now_ms + retry_after_ms(delivery.retry_after)
        return
    if delivery.status >= 400:
        execution.state = FAILED
        return
    outputs = delivery.body.get("outputFields") if isinstance(delivery.body, dict) else None
    outputs = outputs if isinstance(outputs, dict) else {}
    state = outputs.get("hs_execution_state")
    execution.output_fields = {
        k: v for k, v in outputs.items() if k not in ("hs_execution_state", "hs_expiration_duration")
    }
    execution.execution_state = state or "SUCCESS"
    if state in ("BLOCK", "ASYNC"):
        execution.state = BLOCKED
        duration = outputs.get("hs_expiration_duration") or DEFAULT_BLOCK_DURATION
        execution.expires_at_ms = now_ms + (duration_ms(str(duration)) or duration_ms(DEFAULT_BLOCK_DURATION) or 0)
    elif state in (None, "SUCCESS", "FAIL_CONTINUE"):
        execution.state = COMPLETED
        execution.completed_at_ms = now_ms
        execution.completed_by = "ACTION_RESPONSE"
    else:
        execution.state = FAILED


def retry_after_ms(header: str | None) -> int:
    """Milliseconds to wait before retrying after a 429 (0 when the app gave no Retry-After)."""
    if not header:
        return 0
    try:
        amount = float(header)
    except ValueError:
        return 0
    return int(amount if RETRY_AFTER_IS_MILLISECONDS else amount * 1000)


_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def duration_ms(text: str) -> int | None:
    """An ISO-8601 duration (`P1WT1H`) in milliseconds; None when it is not one."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        return None
    years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total_days = years * 365 + months * 30 + weeks * 7 + days
    return int(((total_days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000)


# -- app cards -------------------------------------------------------------------------------------


def card_url(url: str, params: dict[str, Any]) -> str:
    """The URL hubspot.fetch calls: the app's URL with HubSpot's query parameters appended."""
    extra = urlencode(
        [(name, params[name]) for name in CARD_FETCH_QUERY_PARAMETERS if params.get(name) not in (None, "")]
    )
    if not extra:
        return str(httpx.URL(url))
    return str(httpx.URL(url + ("&" if "?" in url else "?") + extra))


def card_fetch(
    *,
    url: str,
    method: str,
    body: Any,
    secret: str,
    now_ms: int,
    timeout: float,
    transport: httpx.BaseTransport | None,
) -> dict[str, Any]:
    """Call an app card's backend as hubspot.fetch does: v3-signed, within the timeout and the
    1 MB limits, retried once on a connection failure or a 5xx."""
    text = "" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > CARD_FETCH_MAX_BYTES:
        return {"status": None, "body": None, "elapsedMs": 0, "attempts": 0, "error": "REQUEST_TOO_LARGE"}
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        **signature_headers(secret, method, url, text, now_ms, versions=("v3",)),
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    started = time.monotonic()
    result: dict[str, Any] = {}
    for attempt in (1, 2):
        result = _fetch_once(url, method, text, headers, timeout, transport)
        result["attempts"] = attempt
        status = result.get("status")
        retry = result.get("error") == "CONNECTION_FAILED" or (status is not None and status >= 500)
        if not retry:
            break
    result["elapsedMs"] = _elapsed(started)
    return result


def _fetch_once(
    url: str,
    method: str,
    text: str,
    headers: dict[str, str],
    timeout: float,
    transport: httpx.BaseTransport | None,
) -> dict[str, Any]:
    try:
        with (
            httpx.Client(timeout=timeout, transport=transport) as client,
            client.stream(method, url, content=text.encode() if text else None, headers=headers) as response,
        ):
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > CARD_FETCH_MAX_BYTES:
                    return {"status": response.status_code, "body": None, "error": "RESPONSE_TOO_LARGE"}
            return {
                "status": response.status_code,
                "body": _parse(data),
                "error": None,
            }
    except httpx.TimeoutException:
        return {"status": None, "body": None, "error": "TIMEOUT"}
    except httpx.TransportError:
        return {"status": None, "body": None, "error": "CONNECTION_FAILED"}


def _body(response: httpx.Response) -> Any:
    return _parse(response.content)


def _parse(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace")


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
