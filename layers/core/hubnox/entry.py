"""A function's Lambda entry: the handler its `build` makes from the container Lambda's environment
describes, built on the first invocation and reused while the Lambda container lives.

Importing this module imports Powertools and `hubnox.observability` only: the container, its
configuration and every store and service are imported on the first invocation (a new Lambda
container pays the import of what its first request needs, not of every function's code).

Each `functions/<name>/app.py` defines `build(container) -> Handler` (its routes and Powertools
decorators over that container), keeps `entry = LambdaEntry(build)`, and its `lambda_handler` calls
`entry`. Tests call `build` with a container of their own; the local stack reaches `entry.container`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from hubnox.observability import logger, tracer

if TYPE_CHECKING:
    from hubnox.wiring import Container

#: what Lambda calls: (event, context) -> the response
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaEntry:
    """`build(container)` over this Lambda container's `Container`, each made once, on first use, so
    importing the function reads no configuration and builds no client."""

    def __init__(self, build: Callable[[Container], Handler]) -> None:
        self._build = build

    @cached_property
    def container(self) -> Container:
        """The container from Lambda's environment (`get_app_config`)."""
        from hubnox.config import get_app_config
        from hubnox.wiring import Container

        return Container(get_app_config())

    @cached_property
    def handler(self) -> Handler:
        return self._build(self.container)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.handler(event, context)


def http_handler(app: APIGatewayHttpResolver) -> Handler:
    """The handler of an HTTP function: `app` answering API Gateway HTTP API (payload 2.0) events, with
    the request's Lambda context in every log line, and a trace that never holds the response or an
    error (they can carry session cookies, sign-in and Replay links, and balances).

    The request is kept on `app` itself: Powertools keeps it on a class attribute that every
    resolver in the process shares, and `app`'s own attribute wins over it, so a request stays its
    container's even where several functions run in one process (the local stack)."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        app.current_event = APIGatewayProxyEventV2(event)
        app.lambda_context = context
        return app.resolve(event, context)

    return lambda_handler
