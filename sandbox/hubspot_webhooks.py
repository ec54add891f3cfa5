"""HubSpot's webhooks as the simulator sends them: the app's settings and subscriptions (the
webhooks API a developer uses, `webhooks.json`), the events CRM changes make in portals where the
app is installed, and their delivery (batched, signed, limited in concurrency, retried).

Decisions on points HubSpot leaves open, kept in one place (the constants below):
- Delivery is at least once. A batch holds up to 100 events of one app (from any of its portals):
  it collects events from its first until it is sent, `batch_window_ms` (200 ms) later at the
  earliest; HubSpot says it batches events that occur close together without naming the window.
- HubSpot retries a failed request (any non-2xx, a timeout past 5 s, a connection failure) up to
  10 times over about 24 hours with randomised delays; the simulator retries the whole batch
  (every event's `attemptNumber` goes up by one, 0 on the first try) on the schedule
  `RETRY_DELAYS_SECONDS` with +-25% jitter, and gives up after the 11th try. Whether HubSpot
  retries a 4xx is not documented clearly: the simulator does, the stricter choice for an app.
- `changeSource` is `CRM_UI` (with `sourceId` `userId:<id>`) for the `/_sandbox/` controls that
  stand in for a person, and `INTEGRATION` (with `sourceId` the writing app's id) for writes
  through the CRM API by an app, as property histories show them. A property change fires only
  when the value actually changes.
- Requests are signed with v1 (`X-HubSpot-Signature` + `X-HubSpot-Signature-Version: v1`, the
  webhooks API's version) and v3, both with the app's client secret.
- The webhooks API authenticates with the developer API key (`?hapikey=`), which
  `POST /_sandbox/apps {developerApiKey}` sets; the spec's developer OAuth scopes are not modelled.
- Uninstalling drops the portal's queued and retrying events. HubSpot's push webhooks carry no
  uninstall event: the app uninstall event the specs name (`eventTypeId` 4-1916193) belongs to the
  webhooks journal of the new developer platform, which the simulator does not model, so no
  uninstall event is sent (unknown whether HubSpot pushes one to the target URL: it is not
  documented for the webhooks API).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from sandbox.hubspot_outbound import USER_AGENT
from sandbox.hubspot_signing import signature_headers
from sandbox.hubspot_store import iso_ms

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_store import CrmObject

MAX_BATCH = 100  # events per request
DEFAULT_MAX_CONCURRENT = 10  # the settings' throttling.maxConcurrentRequests default
DELIVERY_TIMEOUT_SECONDS = 5.0
DEFAULT_BATCH_WINDOW_MS = 200
MAX_RETRIES = 10  # after the first try
#: the wait before retry n (1-based), about 24 hours in all; each gets +-25% jitter
RETRY_DELAYS_SECONDS = (60, 120, 300, 600, 1800, 3600, 7200, 14400, 21600, 36000)
SIGNATURE_VERSIONS = ("v1", "v3")
#: the event types the simulator raises (others may be subscribed to but never fire)
OBJECT_EVENT_KINDS = ("creation", "propertyChange", "deletion")
#: `changeFlag` of creations (as in HubSpot's v1 signature example) and deletions
CHANGE_FLAGS = {"creation": "NEW", "deletion": "DELETED"}

# Delivery states of a batch.
QUEUED, IN_FLIGHT, DELIVERED, RETRY_SCHEDULED, GAVE_UP, DROPPED = (
    "QUEUED", "IN_FLIGHT", "DELIVERED", "RETRY_SCHEDULED", "GAVE_UP", "DROPPED")


@dataclass
class Subscription:
    id: int
    event_type: str
    active: bool
    created_ms: int
    updated_ms: int
    property_name: str | None = None
    object_type_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": str(self.id), "eventType": self.event_type, "active": self.active,
                                "createdAt": iso_ms(self.created_ms), "updatedAt": iso_ms(self.updated_ms)}
        if self.property_name:
            body["propertyName"] = self.property_name
        if self.object_type_id:
            body["objectTypeId"] = self.object_type_id
        return body


@dataclass
class AppWebhooks:
    """One app's webhook settings and subscriptions."""

    target_url: str | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    created_ms: int | None = None
    updated_ms: int | None = None
    subscriptions: dict[int, Subscription] = field(default_factory=dict)

    def settings_json(self) -> dict[str, Any]:
        return {"targetUrl": self.target_url, "throttling": {"maxConcurrentRequests": self.max_concurrent},
                "createdAt": iso_ms(self.created_ms or 0), "updatedAt": iso_ms(self.updated_ms or 0)}


@dataclass
class Attempt:
    """One POST of a batch to the app."""

    attempt_number: int
    at_ms: int
    status: int | None
    error: str | None
    elapsed_ms: int
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"attemptNumber": self.attempt_number, "at": iso_ms(self.at_ms), "status": self.status,
                "error": self.error, "elapsedMs": self.elapsed_ms, "duplicate": self.duplicate}


@dataclass
class Batch:
    """Events of one app going to its target URL together, and what became of them."""

    id: int
    app_id: int
    client_id: str
    events: list[dict[str, Any]]
    state: str = QUEUED
    due_ms: int = 0
    attempts: list[Attempt] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "appId": self.app_id, "state": self.state, "eventCount": len(self.events),
                "eventIds": [e["eventId"] for e in self.events],
                "portalIds": sorted({e["portalId"] for e in self.events}),
                "nextAttemptAt": iso_ms(self.due_ms) if self.state == RETRY_SCHEDULED else None,
                "attempts": [a.as_json() for a in self.attempts], "events": self.events}


class WebhookDispatcher:
    """Queues events and delivers them; `pump` sends what is due, `start` runs it in the background.

    Its own lock guards the queue; HTTP is sent outside every lock, so the app may call the
    simulator back while its webhook is being answered.
    """

    def __init__(self, sim: HubSpotSimulator) -> None:
        self.sim = sim
        self.lock = threading.RLock()
        self.apps: dict[int, AppWebhooks] = {}
        self.batches: dict[int, Batch] = {}
        self.open: dict[int, Batch] = {}  # app id -> the batch still collecting events
        self.paused = False
        self.batch_window_ms = DEFAULT_BATCH_WINDOW_MS
        self.retry_backoff_ms: int | None = None  # a fixed wait for tests; None: HubSpot's schedule
        self.timeout = DELIVERY_TIMEOUT_SECONDS
        self.fail_next = 0
        self.fail_status = 500
        self.duplicate_next = 0
        self._event_ids = itertools.count(1_000_000_001)
        self._batch_ids = itertools.count(1)
        self._subscription_ids = itertools.count(4_100_001)
        self._in_flight: dict[int, int] = {}  # app id -> requests on the wire
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hubspot-webhooks")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    # -- settings and subscriptions ----------------------------------------------------------------

    def app(self, app_id: int) -> AppWebhooks:
        with self.lock:
            return self.apps.setdefault(app_id, AppWebhooks())

    def new_subscription_id(self) -> int:
        return next(self._subscription_ids)

    # -- events --------------------------------------------------------------------------------

    def record(self, *, app_id: int, client_id: str, portal_id: int, object_type_id: str, singular: str,
               kind: str, object_id: str, change_source: str, source_id: str | None,
               changes: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
        """Queue the events a change makes for one app's subscriptions; answers them."""
        now = self.sim.now_ms()
        made: list[dict[str, Any]] = []
        with self.lock:
            hooks = self.apps.get(app_id)
            if hooks is None or not hooks.target_url:
                return made
            for sub in hooks.subscriptions.values():
                if not sub.active:
                    continue
                generic = sub.event_type == f"object.{kind}" and sub.object_type_id == object_type_id
                if sub.event_type != f"{singular}.{kind}" and not generic:
                    continue
                properties = [sub.property_name] if kind == "propertyChange" else [None]
                for name in properties:
                    if kind == "propertyChange" and (changes is None or name not in changes):
                        continue
                    event: dict[str, Any] = {
                        "eventId": next(self._event_ids), "subscriptionId": sub.id, "portalId": portal_id,
                        "appId": app_id, "occurredAt": now, "subscriptionType": sub.event_type,
                        "attemptNumber": 0, "objectId": int(object_id), "changeSource": change_source}
                    if generic:
                        event["objectTypeId"] = object_type_id
                    if name is not None and changes is not None:
                        event.update(propertyName=name, propertyValue=changes[name] or "")
                    if kind in CHANGE_FLAGS:
                        event["changeFlag"] = CHANGE_FLAGS[kind]
                    if source_id:
                        event["sourceId"] = source_id
                    self._enqueue(app_id, client_id, event, now)
                    made.append(event)
        return made

    def _enqueue(self, app_id: int, client_id: str, event: dict[str, Any], now: int) -> None:
        batch = self.open.get(app_id)
        if batch is None or len(batch.events) >= MAX_BATCH:
            batch = Batch(next(self._batch_ids), app_id, client_id, [], due_ms=now + self.batch_window_ms)
            self.batches[batch.id] = batch
            self.open[app_id] = batch
        batch.events.append(event)
        if len(batch.events) >= MAX_BATCH:
            batch.due_ms = now
            self.open.pop(app_id, None)

    def drop_portal(self, portal_id: int, client_id: str) -> int:
        """Forget the queued and retrying events of an uninstalled portal; answers how many."""
        dropped = 0
        with self.lock:
            for batch in self.batches.values():
                if batch.client_id != client_id or batch.state not in (QUEUED, RETRY_SCHEDULED):
                    continue
                kept = [e for e in batch.events if e["portalId"] != portal_id]
                dropped += len(batch.events) - len(kept)
                batch.events = kept
                if not kept:
                    batch.state = DROPPED
                    if self.open.get(batch.app_id) is batch:
                        self.open.pop(batch.app_id)
        return dropped

    # -- delivery ------------------------------------------------------------------------------

    def _is_due(self, batch: Batch, now: int, ignore_window: bool) -> bool:
        if batch.state not in (QUEUED, RETRY_SCHEDULED) or not batch.events:
            return False
        fresh = batch.state == QUEUED and not batch.attempts
        return batch.due_ms <= now or (ignore_window and fresh)

    def _due(self, now: int, *, ignore_window: bool, only: set[int] | None = None) -> list[Batch]:
        """Claim the batches due now (of `only`, if given), within each app's concurrency limit."""
        claimed: list[Batch] = []
        for batch in sorted(self.batches.values(), key=lambda b: b.id):
            if (only is not None and batch.id not in only) or not self._is_due(batch, now, ignore_window):
                continue
            hooks = self.apps.get(batch.app_id)
            if hooks is None or not hooks.target_url:
                continue  # settings deleted: subscriptions pause until a target is set again
            if self._in_flight.get(batch.app_id, 0) >= max(1, hooks.max_concurrent):
                continue
            if self.open.get(batch.app_id) is batch:
                self.open.pop(batch.app_id)
            batch.state = IN_FLIGHT
            self._in_flight[batch.app_id] = self._in_flight.get(batch.app_id, 0) + 1
            claimed.append(batch)
        return claimed

    def pump(self, *, ignore_window: bool = False) -> list[Future[None]]:
        """Start delivering every due batch (unless paused); answers the deliveries under way."""
        with self.lock:
            if self.paused and not ignore_window:
                return []
            batches = self._due(self.sim.now_ms(), ignore_window=ignore_window)
        return [self._pool.submit(self._deliver, batch) for batch in batches]

    def flush(self) -> list[Batch]:
        """Deliver everything due now (the batching window ignored, paused or not) and wait for
        the answers, those of requests already on the wire included. Each batch is tried once by
        the flush: a retry it schedules waits for the next flush (or the background thread), so
        tests can watch attempts one by one."""
        with self.lock:
            now = self.sim.now_ms()
            wanted = {b.id for b in self.batches.values() if b.state == IN_FLIGHT or self._is_due(b, now, True)}
        sent: set[int] = set()
        delivered: list[Batch] = []
        while wanted:
            with self.lock:
                batches = self._due(self.sim.now_ms(), ignore_window=True, only=wanted - sent)
            if batches:
                for future in [self._pool.submit(self._deliver, b) for b in batches]:
                    future.result()
                delivered += batches
                sent |= {b.id for b in batches}
                wanted -= sent
                continue
            time.sleep(0.01)  # requests the background thread has on the wire, or a full concurrency limit
            with self.lock:
                now = self.sim.now_ms()
                wanted = {i for i in wanted - sent
                          if self.batches[i].state == IN_FLIGHT or self._is_due(self.batches[i], now, True)}
        return delivered

    def _deliver(self, batch: Batch) -> None:
        try:
            self._post(batch)
        finally:
            with self.lock:
                self._in_flight[batch.app_id] -= 1

    def _post(self, batch: Batch) -> None:
        with self.lock:
            hooks = self.apps[batch.app_id]
            url = str(httpx.URL(hooks.target_url or ""))
            attempt_number = sum(1 for a in batch.attempts if not a.duplicate)
            for event in batch.events:
                event["attemptNumber"] = attempt_number
            body = json.dumps(batch.events, separators=(",", ":"), ensure_ascii=False)
            inject_failure = self.fail_next > 0
            self.fail_next -= 1 if inject_failure else 0
            duplicate = self.duplicate_next > 0 and not inject_failure
            self.duplicate_next -= 1 if duplicate else 0
        with self.sim.lock:
            app = self.sim.apps.get(batch.client_id)
            secret = app.client_secret if app is not None else None
        now = self.sim.now_ms()
        started = time.monotonic()
        status: int | None
        if inject_failure:
            status, error = self.fail_status, "injected failure: the app was not called"
        elif not secret:
            status, error = None, "the app has no client secret to sign with"
        else:
            status, error = self._send(url, body, secret, now)
        attempts = [Attempt(attempt_number, now, status, error, int((time.monotonic() - started) * 1000))]
        if duplicate and secret:  # HubSpot sometimes delivers a request twice: the app sees it again
            again = time.monotonic()
            dup_status, dup_error = self._send(url, body, secret, self.sim.now_ms())
            attempts.append(Attempt(attempt_number, self.sim.now_ms(), dup_status, dup_error,
                                    int((time.monotonic() - again) * 1000), duplicate=True))
        with self.lock:
            batch.attempts += attempts
            if status is not None and 200 <= status < 300:
                batch.state = DELIVERED
            elif attempt_number >= MAX_RETRIES:
                batch.state = GAVE_UP
            elif batch.state == IN_FLIGHT:
                batch.state = RETRY_SCHEDULED
                batch.due_ms = self.sim.now_ms() + self._backoff_ms(attempt_number + 1)

    def _send(self, url: str, body: str, secret: str, now: int) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   **signature_headers(secret, "POST", url, body, now, versions=SIGNATURE_VERSIONS)}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.sim.outbound_transport) as client:
                response = client.post(url, content=body.encode(), headers=headers)
            return response.status_code, None
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.TransportError as exc:
            return None, f"connection: {exc}"

    def _backoff_ms(self, retry: int) -> int:
        if self.retry_backoff_ms is not None:
            return self.retry_backoff_ms
        base = RETRY_DELAYS_SECONDS[min(retry, len(RETRY_DELAYS_SECONDS)) - 1] * 1000
        return int(base * self._random.uniform(0.75, 1.25))

    # -- the background thread -----------------------------------------------------------------

    def start(self, interval: float = 0.05) -> None:
        """Deliver due batches in the background, as HubSpot does, until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.pump()
                except Exception:  # one bad round must not end deliveries
                    continue

        self._thread = threading.Thread(target=run, name="hubspot-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- what the controls show ----------------------------------------------------------------

    def state_json(self, portal_id: int | None = None, state: str | None = None) -> dict[str, Any]:
        with self.lock:
            batches = [b for b in self.batches.values()
                       if (portal_id is None or any(e["portalId"] == portal_id for e in b.events))
                       and (state is None or b.state == state)]
            return {
                "paused": self.paused,
                "batchWindowMs": self.batch_window_ms,
                "retryBackoffMs": self.retry_backoff_ms,
                "timeoutSeconds": self.timeout,
                "failNext": self.fail_next,
                "failStatus": self.fail_status,
                "duplicateNext": self.duplicate_next,
                "apps": {str(app_id): {**hooks.settings_json(),
                                       "subscriptions": [s.as_json() for s in hooks.subscriptions.values()]}
                         for app_id, hooks in self.apps.items()},
                "deliveries": [b.as_json() for b in batches],
            }


def changed(before: dict[str, str | None], record: CrmObject) -> dict[str, str | None]:
    """The properties a write changed, with their new values."""
    return {name: value for name, value in record.properties.items() if before.get(name) != value}
