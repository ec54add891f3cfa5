"""The settings API's actions on failed work: the bulk replay of the sync log's failures, and the
dead-letter queue. Included by the settings function beside `hubnox.services.settings_page`.

    POST /settings/api/runs/replay/preview      body: the log's filter {status, trigger, documentType,
                                                from, to, q} -> {"count", "remaining", "spreadSeconds",
                                                "message"}: how many failed runs a replay would queue now
    POST /settings/api/runs/replay              body: the filter and {"expectedCount"} (the previewed count)
                                                -> 202 {"queued", "runIds", "alreadyReplayed", "notQueued",
                                                "remaining", "spreadSeconds", "message"} (503 when the queue
                                                took none); 409 COUNT_CHANGED with the new
                                                "count" (and "remaining") when it is no longer the confirmed one
    GET  /settings/api/dead-letters             {"deadLetters": [...], "malformed", "waiting", "listedAtMost"}:
                                                the portal's jobs in the dead-letter queue, with their runs' errors
    POST /settings/api/dead-letters/{id}/retry  id: a dead letter's message id or its run id -> {"messageId",
                                                "runId", "action", "replayRunId", "message"}; 404 when it is
                                                not (or no longer) there

Every route needs the settings session; the POSTs its CSRF token and hubnox's own origin, like the
other settings API routes (`hubnox.web.session`).
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hubnox.config import AppConfig
from hubnox.errors import BadRequestError
from hubnox.services.bulk_replay import BulkReplay, CountChanged, Preview
from hubnox.services.dead_letters import DeadLetters, Retried
from hubnox.services.sync_log import read_run_filter
from hubnox.signing import Signer
from hubnox.store.sessions import SessionStore
from hubnox.web.responses import body_text, json_object, json_response
from hubnox.web.session import RequestSessions

PREFIX = "/settings/api"


class RunActionsPorts(Protocol):
    """What these routes need (`hubnox.wiring.Container` provides it)."""

    config: AppConfig

    @property
    def signer(self) -> Signer: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def bulk_replay(self) -> BulkReplay: ...

    @property
    def dead_letters(self) -> DeadLetters: ...


def preview_body(preview: Preview) -> dict[str, Any]:
    """The count the admin confirms, in numbers and in words."""
    more = f" ({preview.remaining} more after these: replay again for them)" if preview.remaining else ""
    spread = f", spread over {preview.spread_seconds} seconds to stay inside Fortnox's rate limit" \
        if preview.spread_seconds else ""
    message = (f"Replay {preview.count} failed run{'s' if preview.count != 1 else ''}{more}{spread}?"
               if preview.count else "No failed run of this filter is left to replay.")
    return {"count": preview.count, "remaining": preview.remaining, "spreadSeconds": preview.spread_seconds,
            "message": message}


def expected_count(body: dict[str, Any]) -> int:
    """The confirmed count out of a replay body; 400 without one."""
    value = body.get("expectedCount")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequestError("expectedCount must be the count the preview answered (a whole number).",
                              code="INVALID")
    return value


RETRY_WORDS = {"replayed": "Its run was replayed as run {replay}.",
               "already_replayed": "Its run was already replayed as run {replay}.",
               "resent": "Its run had not finished: its job was sent to the queue again.",
               "nothing_to_do": "Its run has succeeded since: there was nothing left to retry."}


def retried_body(done: Retried) -> dict[str, Any]:
    return {"messageId": done.message_id, "runId": done.run_id, "action": done.action,
            "replayRunId": done.replay_run_id,
            "message": "The dead letter is off the queue. "
                       + RETRY_WORDS[done.action].format(replay=done.replay_run_id)}


def run_actions_router(ports: RunActionsPorts) -> APIGatewayHttpRouter:
    """The routes above, for `app.include_router` in the settings function."""
    router = APIGatewayHttpRouter()

    requests = RequestSessions(ports.signer, ports.sessions, router, ports.config.public_base)
    session, writer = requests.read, requests.write

    @router.post(f"{PREFIX}/runs/replay/preview")
    def replay_preview() -> Response:
        current = writer()
        run_filter = read_run_filter(json_object(body_text(router.current_event)))
        return json_response(preview_body(ports.bulk_replay.preview(current.portal_id, run_filter)))

    @router.post(f"{PREFIX}/runs/replay")
    def replay_failed() -> Response:
        current = writer()
        body = json_object(body_text(router.current_event))
        run_filter, expected = read_run_filter(body), expected_count(body)
        try:
            done = ports.bulk_replay.replay(current.portal_id, run_filter, expected)
        except CountChanged as changed:
            return json_response({"code": changed.code, "message": changed.message,
                                  **preview_body(changed.preview), "expectedCount": changed.expected}, status=409)
        words = f"{len(done.queued)} failed run{'s' if len(done.queued) != 1 else ''} queued again"
        if done.already_replayed:
            words += f"; {done.already_replayed} had been replayed already"
        if done.not_queued:
            words += f"; {done.not_queued} could not be queued just now: replay again in a minute for them"
        if done.remaining:
            words += f"; {done.remaining} more remain: replay again for them"
        return json_response({"queued": len(done.queued), "runIds": done.queued,
                              "alreadyReplayed": done.already_replayed, "notQueued": done.not_queued,
                              "remaining": done.remaining,
                              "spreadSeconds": done.spread_seconds, "message": words + "."}, status=202)

    @router.get(f"{PREFIX}/dead-letters")
    def dead_letters() -> Response:
        return json_response(ports.dead_letters.list(session().portal_id))

    @router.post(f"{PREFIX}/dead-letters/<key>/retry")
    def retry_dead_letter(key: str) -> Response:
        current = writer()
        return json_response(retried_body(ports.dead_letters.retry(current.portal_id, key)))

    return router
