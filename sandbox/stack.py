"""hubnox's local stack: the simulators, local AWS and the gateway wired together.

`start_stack` is the one wiring that `python -m sandbox up`, the demo and the end-to-end tests share;
`Stack` is what it returns (URLs, the environment it gave hubnox, and how to stop it).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.aws import NO_VALUE, STACK_NAME, Intrinsics, LocalAws, UnresolvableValue
from sandbox.common import RunningServer, serve
from sandbox.gateway import TEMPLATE_PATH, Gateway, ensure_layer_importable, load_functions, read_template

#: The hubnox app as the local stack registers it with the HubSpot simulator, and its Fortnox
#: integration; any of these set in the environment wins.
LOCAL_APP = {
    "HUBSPOT_CLIENT_ID": "hubnox-local-client",
    "HUBSPOT_CLIENT_SECRET": "hubnox-local-hubspot-secret",
    "HUBSPOT_APP_ID": "4242001",
    "FORTNOX_CLIENT_ID": "hubnox-local-fortnox",
    "FORTNOX_CLIENT_SECRET": "hubnox-local-fortnox-secret",
}

HTTP_TIMEOUT = 10.0
#: the developer API key (`hapikey`) of the account owning the local app, for the webhooks API
LOCAL_DEVELOPER_API_KEY = "hubnox-local-developer-key"
#: where HubSpot sends the app's webhooks (on the gateway) and what the app subscribes to
WEBHOOK_PATH = "/hubspot/webhooks"
WEBHOOK_SUBSCRIPTIONS = (
    {"eventType": "deal.propertyChange", "propertyName": "dealstage", "active": True},
    {"eventType": "deal.creation", "active": True},
)
WEBHOOK_MAX_CONCURRENT = 10


def app_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The hubnox app's credentials and signing key: the environment's where set, else the local
    defaults, and a fresh random signing key per start."""
    values = {name: environ.get(name) or default for name, default in LOCAL_APP.items()}
    values["SIGNING_KEY"] = environ.get("SIGNING_KEY") or secrets.token_urlsafe(32)
    return values


def hubspot_simulator() -> Any:
    """A HubSpot simulator on the real clocks, with HubSpot's token lifetime and limits (its defaults),
    delivering webhooks in the background as HubSpot does."""
    from sandbox.hubspot import HubSpotSimulator

    simulator = HubSpotSimulator(clock=time.monotonic, wall_clock=time.time)
    simulator.webhooks.start()
    return simulator


def fortnox_simulator() -> Any:
    """A Fortnox simulator on the real clocks, with Fortnox's token lifetime and limits (its defaults)."""
    from sandbox.fortnox import FortnoxSimulator

    return FortnoxSimulator(clock=time.monotonic, wall_clock=time.time)


@dataclass
class Stack:
    """The running local stack: its URLs, the environment it gave hubnox, and how to stop it."""

    gateway_url: str
    hubspot_api_url: str
    hubspot_auth_url: str
    fortnox_api_url: str
    fortnox_auth_url: str
    aws_url: str
    environment: dict[str, str]
    aws: LocalAws
    servers: list[RunningServer] = field(default_factory=list)
    hubspot_started: bool = False
    fortnox_started: bool = False
    _restore: dict[str, str | None] = field(default_factory=dict)

    def urls(self) -> dict[str, str]:
        return {
            "gateway": self.gateway_url,
            "hubspot_api": self.hubspot_api_url,
            "hubspot_auth": self.hubspot_auth_url,
            "fortnox_api": self.fortnox_api_url,
            "fortnox_auth": self.fortnox_auth_url,
            "aws": self.aws_url,
        }

    def stop(self) -> None:
        """Stop everything, newest first, and put back the environment as it was."""
        for server in reversed(self.servers):
            server.stop()
            webhooks = server.extra.get("webhooks")
            if webhooks is not None:
                webhooks.stop()
        self.aws.stop()
        for name, value in self._restore.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_app_config()


def _forget_app_config() -> None:
    # Handlers read their configuration once per process (as per container); the stack just changed them.
    ensure_layer_importable()
    from hubnox.config import get_app_config

    get_app_config.cache_clear()


def _port(base: int, offset: int) -> int:
    return base + offset if base else 0


def _simulator_url(
    environ: Mapping[str, str], system: str, base_port: int, offset: int, make: Callable[[], Any],
    servers: list[RunningServer],
) -> tuple[str, str, bool]:
    api = environ.get(f"{system}_API_URL")
    if api:
        return api.rstrip("/"), (environ.get(f"{system}_AUTH_URL") or api).rstrip("/"), False
    app = make()
    server = serve(app, port=_port(base_port, offset))
    if hasattr(app, "webhooks"):
        server.extra["webhooks"] = app.webhooks  # its delivery thread stops with the server
    servers.append(server)
    return server.url, server.url, True


def start_stack(
    port: int = 0,
    *,
    environ: MutableMapping[str, str] | None = None,
    dynamodb: str | None = None,
    poll_interval: float | None = None,
    stack_name: str = STACK_NAME,
    webhooks: bool = True,
) -> Stack:
    """Start the local stack: simulators (unless the environment names other APIs), local AWS with
    the template's resources, and the gateway. With `port` P the parts listen on P (gateway), P+1
    (HubSpot), P+2 (Fortnox), P+3 (moto) and P+4 (DynamoDB Local, when asked); with 0, each on a
    free port.

    hubnox's handlers run in this process, so the stack writes the environment they read into
    `environ` (os.environ by default); `Stack.stop` puts it back. With `webhooks` (the default)
    the HubSpot simulator it starts sends the app's webhooks to the gateway's `/hubspot/webhooks`
    (deal stage changes and deal creations), as the app's developer would configure it."""
    environ = os.environ if environ is None else environ
    dynamodb = dynamodb or environ.get("HUBNOX_DYNAMODB") or "moto"
    servers: list[RunningServer] = []
    template = read_template(TEMPLATE_PATH)
    functions = load_functions(template)
    aws = LocalAws(template, functions, port=_port(port, 3), dynamodb=dynamodb, dynamodb_port=_port(port, 4),
                   poll_interval=poll_interval, stack_name=stack_name)
    try:
        hubspot_api, hubspot_auth, hubspot_started = _simulator_url(
            environ, "HUBSPOT", port, 1, hubspot_simulator, servers)
        fortnox_api, fortnox_auth, fortnox_started = _simulator_url(
            environ, "FORTNOX", port, 2, fortnox_simulator, servers)
        aws_environment = aws.start()
        urls = {"hubspot_api": hubspot_api, "hubspot_auth": hubspot_auth, "fortnox_api": fortnox_api,
                "fortnox_auth": fortnox_auth, "aws": aws.url}
        gateway = serve(Gateway(functions, controls=aws, info=urls), port=port)
        servers.append(gateway)
    except BaseException:
        for server in reversed(servers):
            server.stop()
        aws.stop()
        raise

    environment = {
        **{name: value for name, value in template_environment(template).items() if name not in environ},
        **app_environment(environ),
        **aws_environment,
        "PUBLIC_BASE_URL": environ.get("PUBLIC_BASE_URL") or gateway.url,
        "HUBSPOT_API_URL": hubspot_api,
        "HUBSPOT_AUTH_URL": hubspot_auth,
        "FORTNOX_API_URL": fortnox_api,
        "FORTNOX_AUTH_URL": fortnox_auth,
    }
    stack = Stack(
        gateway_url=gateway.url, hubspot_api_url=hubspot_api, hubspot_auth_url=hubspot_auth,
        fortnox_api_url=fortnox_api, fortnox_auth_url=fortnox_auth, aws_url=aws.url, environment=environment,
        aws=aws, servers=servers, hubspot_started=hubspot_started, fortnox_started=fortnox_started,
        _restore={name: environ.get(name) for name in environment} if environ is os.environ else {},
    )
    environ.update(environment)
    _forget_app_config()
    try:
        register_app(hubspot_api, environment, required=hubspot_started)
        if webhooks and hubspot_started:
            configure_webhooks(hubspot_api, environment, f"{gateway.url}{WEBHOOK_PATH}")
        aws.run_in_background()
    except BaseException:
        stack.stop()
        raise
    return stack


def template_environment(template: Mapping[str, Any]) -> dict[str, str]:
    """The functions' environment as the template gives it without a deployment: plain values and
    parameters' defaults. Never SECRETS_NAME: locally the secrets come from the environment."""
    intrinsics = Intrinsics(template)
    values: dict[str, str] = {}
    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if name == "SECRETS_NAME":
            continue
        try:
            resolved = intrinsics.resolve(value)
        except UnresolvableValue:
            continue  # a resource of the stack or a parameter without default: set below
        if resolved is not NO_VALUE:  # AWS_ENDPOINT_URL is sam local's: the stack sets its own
            values[name] = str(resolved)
    return values


def register_app(hubspot_api: str, environment: Mapping[str, str], *, required: bool) -> bool:
    """Register the hubnox app (app id, client id and secret) with a HubSpot simulator. Another
    HubSpot that has no `/_sandbox/` surface is left alone unless `required`."""
    app_id = environment["HUBSPOT_APP_ID"]
    body = {
        "appId": int(app_id) if app_id.isdigit() else app_id,
        "clientId": environment["HUBSPOT_CLIENT_ID"],
        "clientSecret": environment["HUBSPOT_CLIENT_SECRET"],
        "developerApiKey": LOCAL_DEVELOPER_API_KEY,
    }
    try:
        response = httpx.post(f"{hubspot_api}/_sandbox/apps", json=body, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError:
        if required:
            raise
        return False
    if response.status_code >= 400:
        if required:
            raise RuntimeError(f"registering the app with the HubSpot simulator: {response.status_code} "
                               f"{response.text[:300]}")
        return False
    return True


def configure_webhooks(hubspot_api: str, environment: Mapping[str, str], target_url: str) -> None:
    """Set the app's webhook target URL and subscriptions through HubSpot's webhooks API, as the
    app's developer does (authenticated with the developer API key)."""
    base = f"{hubspot_api}/webhooks/2026-03/{environment['HUBSPOT_APP_ID']}"
    key = {"hapikey": LOCAL_DEVELOPER_API_KEY}
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        settings = http.put(f"{base}/settings", params=key, json={
            "targetUrl": target_url, "throttling": {"maxConcurrentRequests": WEBHOOK_MAX_CONCURRENT}})
        if settings.status_code != 200:
            raise RuntimeError(f"setting the app's webhook URL: {settings.status_code} {settings.text[:300]}")
        for subscription in WEBHOOK_SUBSCRIPTIONS:
            created = http.post(f"{base}/subscriptions", params=key, json=subscription)
            if created.status_code not in (201, 409):  # 409: subscribed already
                raise RuntimeError(f"subscribing to {subscription['eventType']}: {created.status_code} "
                                   f"{created.text[:300]}")
