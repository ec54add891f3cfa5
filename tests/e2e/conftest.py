"""The whole local stack, started once for the end-to-end tests, in this process on free ports.

`stack` is the same wiring as `python -m sandbox up` (`sandbox.stack.start_stack`): moto, both
simulators and the gateway, with hubnox's functions running behind the gateway. End-to-end tests
run after every other test, so the environment the stack gives hubnox (and moto's process-wide
state) cannot leak into tests that do not expect it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.admin import ConnectedPortal, install_and_connect, seeder_token
from sandbox.stack import Stack, start_stack

#: Variables that would point the stack elsewhere than its own simulators and moto.
STEERING = ("HUBSPOT_API_URL", "HUBSPOT_AUTH_URL", "FORTNOX_API_URL", "FORTNOX_AUTH_URL", "PUBLIC_BASE_URL",
            "HUBNOX_DYNAMODB")
HTTP_TIMEOUT = 10.0


@dataclass
class LocalStack:
    """The running stack as tests use it: URLs, the app's environment, and a client per service."""

    running: Stack
    gateway: httpx.Client
    hubspot: httpx.Client
    fortnox: httpx.Client

    @property
    def urls(self) -> dict[str, str]:
        return self.running.urls()

    @property
    def environment(self) -> dict[str, str]:
        return self.running.environment

    def aws(self, service: str) -> Any:
        """A boto3 client on the stack's local AWS."""
        return self.running.aws.client(service)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    items.sort(key=lambda item: here in Path(str(item.path)).parents)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    saved = {name: os.environ.pop(name) for name in STEERING if name in os.environ}
    # The poller's schedule stays out of the way: tests tick it through the gateway.
    running = start_stack(0, poll_interval=24 * 3600)
    clients = [httpx.Client(base_url=url, timeout=HTTP_TIMEOUT, follow_redirects=False)
               for url in (running.gateway_url, running.hubspot_api_url, running.fortnox_api_url)]
    try:
        yield LocalStack(running, *clients)
    finally:
        for client in clients:
            client.close()
        running.stop()
        os.environ.update(saved)


def _connected(stack: LocalStack) -> Iterator[ConnectedPortal]:
    portal = install_and_connect(stack.running.gateway_url)
    portal.hubspot_token = seeder_token(stack.running.hubspot_api_url, portal.portal_id)
    try:
        yield portal
    finally:
        portal.browser.close()


@pytest.fixture
def connected_portal(stack: LocalStack) -> Iterator[ConnectedPortal]:
    """A fresh portal with hubnox installed and a fresh Fortnox company connected, through the
    gateway's OAuth routes exactly as an admin's browser goes through them."""
    yield from _connected(stack)


@pytest.fixture
def other_portal(stack: LocalStack) -> Iterator[ConnectedPortal]:
    """A second such portal, of another HubSpot account and another Fortnox company."""
    yield from _connected(stack)
