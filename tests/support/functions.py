"""hubnox's functions in unit tests: loaded from functions/<name>/app.py as Lambda loads them, wired to
moto (the table, the tokens key, the jobs queue) through a `Container` the test owns, and invoked
with events made from the samples in events/ and signed the way HubSpot signs.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import boto3
import httpx
from moto import mock_aws
from pydantic import SecretStr

from hubnox.config import AppConfig
from hubnox.entry import Handler
from hubnox.hubspot.signature import public_uri, signature_v3
from hubnox.jobs import Job
from hubnox.records import FortnoxConnection, HubSpotConnection
from hubnox.store.table import create_table
from hubnox.wiring import Container
from sandbox.aws import Intrinsics, skip_delays
from sandbox.gateway import ACCOUNT_ID, LambdaContext, functions_from_template, read_template
from sandbox.iam import RolePolicy, enforcing, role_policies
from tests.support.aws import REGION, TABLE
from tests.support.clock import FakeClock

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"

#: the documented values the sample events in events/ are signed and linked with (events/README.md)
SAMPLE_HUBSPOT_SECRET = "hubnox-local-hubspot-secret"
SAMPLE_PUBLIC_BASE = "https://hubnox.example.com"
SAMPLE_SIGNING_KEY = "hubnox-sample-events-signing-key"
SAMPLE_PORTAL = "102670506"

#: 2026-11-27 09:23:22 UTC, the moment the sample events were made
START = 1795771402.913


@cache
def _template() -> dict[str, Any]:
    return read_template()


@cache
def _specs() -> dict[str, Any]:
    return functions_from_template(_template())


def roles_on_moto(table: str, queue_url: str, key_arn: str) -> dict[str, RolePolicy]:
    """Each function's role in template.yaml, its resources being this world's table, queues and key
    (the dead-letter queue is the jobs queue's name and `-dlq`)."""
    queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    intrinsics = Intrinsics(_template(), resources={
        "Table": {"Ref": table, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"},
        "JobsQueue": {"Ref": queue_url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}",
                      "QueueName": queue_name},
        "JobsDLQ": {"Ref": f"{queue_url}-dlq", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}-dlq",
                    "QueueName": f"{queue_name}-dlq"},
        "PollQueue": {"Ref": f"{queue_url}-polls", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}-polls",
                      "QueueName": f"{queue_name}-polls"},
        "PollDLQ": {"Ref": f"{queue_url}-polls-dlq", "QueueName": f"{queue_name}-polls-dlq",
                    "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}-polls-dlq"},
        "TokensKey": {"Ref": key_arn.rsplit("/", 1)[-1], "Arn": key_arn},
    })
    return role_policies(_template(), intrinsics.resolve)


@cache
def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as its own module, loaded once per test session."""
    path = REPO_ROOT / "functions" / name / "app.py"
    module_name = f"hubnox_test_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def sample_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>."""
    return copy.deepcopy(json.loads((EVENTS / name).read_text(encoding="utf-8")))


def http_event(sample: str, *, body: str | None = None, headers: dict[str, str] | None = None,
               raw_query: str | None = None, domain: str | None = None) -> dict[str, Any]:
    """A sample HTTP event with another body, query or host, and (re)placed headers (lower-cased)."""
    event = sample_event(sample)
    event["headers"] = {name: value for name, value in event["headers"].items()
                        if not name.startswith("x-hubspot-")}
    if body is not None:
        event["body"] = body
        event["isBase64Encoded"] = False
        event["headers"]["content-length"] = str(len(body.encode()))
    if raw_query is not None:
        event["rawQueryString"] = raw_query
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        if pairs:
            event["queryStringParameters"] = dict(pairs)
        else:
            event.pop("queryStringParameters", None)
    if domain is not None:
        event["headers"]["host"] = domain
        event["requestContext"]["domainName"] = domain
    event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    return event


def request_event(sample: str, method: str, path: str, *, body: bytes | str | None = None, raw_query: str = "",
                  base64_body: bool = False) -> dict[str, Any]:
    """A sample HTTP event turned into another request: `method` on `path` (path parameters left as the
    sample has them), with `raw_query` and `body` (base64-flagged when asked, as API Gateway passes
    binary bodies), and no HubSpot signature."""
    event = http_event(sample, raw_query=raw_query)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if base64_body or (body is not None and not isinstance(body, str)):
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    event["headers"]["content-length"] = str(len(raw))
    return event


def signed_by_hubspot(event: dict[str, Any], now_ms: int, secret: str = SAMPLE_HUBSPOT_SECRET) -> dict[str, Any]:
    """`event` with the v3 signature HubSpot would send for it at `now_ms` (over the raw body bytes)."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    uri = public_uri(SAMPLE_PUBLIC_BASE, event["rawPath"], event.get("rawQueryString") or "")
    timestamp = str(now_ms)
    event["headers"]["x-hubspot-request-timestamp"] = timestamp
    event["headers"]["x-hubspot-signature-v3"] = signature_v3(event["requestContext"]["http"]["method"], uri, raw,
                                                              timestamp, secret)
    return event


@dataclass
class World:
    """hubnox on moto for one test: a container with the table, the tokens key and the jobs queue."""

    container: Container
    clock: FakeClock
    sqs: Any
    queue_url: str
    #: what each function may do on AWS: its role in template.yaml, enforced by `invoke`
    roles: dict[str, RolePolicy] = field(default_factory=dict)
    received: list[Job] = field(default_factory=list)
    #: each function's handler built over this world's container, on its first invocation
    handlers: dict[str, Handler] = field(default_factory=dict)

    def install(self, portal_id: str = SAMPLE_PORTAL, access_token: str = "hs-access",
                refresh_token: str = "hs-refresh") -> None:
        """hubnox installed in the portal, as the OAuth callback leaves it."""
        self.container.connections.put_hubspot(HubSpotConnection(
            portal_id=portal_id, hub_domain=f"portal-{portal_id}.hubspot.com", access_token=SecretStr(access_token),
            refresh_token=SecretStr(refresh_token), access_expires_at=self.clock() + 1800,
            installed_at=self.clock()))

    def connect_fortnox(self, portal_id: str = SAMPLE_PORTAL, tenant_id: str = "1234567") -> None:
        """A Fortnox company connected to the portal with a service account."""
        self.container.connections.put_fortnox(FortnoxConnection(
            portal_id=portal_id, tenant_id=tenant_id, company_name="Exempelbolaget AB",
            auth_mode="client_credentials", access_token=SecretStr("fx-access"),
            access_expires_at=self.clock() + 3600, connected_at=self.clock()))

    def jobs(self) -> list[Job]:
        """Every job sent to the queue since the last call, those held back (`DelaySeconds`: a job's
        admission turn) included: their delay is skipped, as the local stack's drain does."""
        skip_delays(self.queue_url)
        fresh: list[Job] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                break
            for message in messages:
                fresh.append(Job.from_message(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.received += fresh
        return fresh

    def items(self, prefix: str) -> list[dict[str, Any]]:
        """Every table item whose partition key starts with `prefix` (e.g. `NONCE#`)."""
        scan = self.container.dynamodb.scan(TableName=TABLE)
        return [item for item in scan["Items"] if item["pk"]["S"].startswith(prefix)]

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Run the function's handler, built over this world's container, on `event` as Lambda would: under
        the function's role, so a call its role does not grant fails as it would on AWS."""
        if function not in self.handlers:
            self.handlers[function] = load_function(function).build(self.container)
        clients = (self.container.dynamodb, self.container.kms, self.container.sqs)
        with enforcing(self.roles[function], clients):
            return self.handlers[function](event, LambdaContext(_specs()[function], clock=self.clock))


@cache
def _sqs() -> Any:
    return boto3.client("sqs", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")


@contextmanager
def world_on_moto(aws_clients: tuple[Any, Any], *, clock: FakeClock | None = None,
                  hubspot_transport: httpx.BaseTransport | None = None,
                  fortnox_transport: httpx.BaseTransport | None = None, **settings: Any) -> Iterator[World]:
    """A `World` with the sample settings (secret, base URL, signing key), overridable by keyword."""
    dynamodb, kms = aws_clients
    sqs = _sqs()
    with mock_aws():
        create_table(dynamodb, TABLE)
        key = kms.create_key(Description="hubnox tokens")["KeyMetadata"]
        key_id = key["KeyId"]
        queue_url = sqs.create_queue(QueueName="hubnox-jobs")["QueueUrl"]
        dlq_url = sqs.create_queue(QueueName="hubnox-jobs-dlq")["QueueUrl"]
        poll_queue_url = sqs.create_queue(QueueName="hubnox-jobs-polls")["QueueUrl"]
        values = {"public_base_url": SAMPLE_PUBLIC_BASE, "hubspot_client_secret": SAMPLE_HUBSPOT_SECRET,
                  "signing_key": SAMPLE_SIGNING_KEY, "table_name": TABLE, "jobs_queue_url": queue_url,
                  "jobs_dlq_url": dlq_url, "poll_queue_url": poll_queue_url,
                  "kms_key_id": key_id, **settings}
        clock = clock or FakeClock(START)
        container = Container(AppConfig(**values), clock=clock, hubspot_transport=hubspot_transport,
                              fortnox_transport=fortnox_transport)
        # Clients are slow to build; the container's are the session's (cached_property slots).
        vars(container).update(dynamodb=dynamodb, kms=kms, sqs=sqs)
        yield World(container, clock, sqs, queue_url, roles_on_moto(TABLE, queue_url, key["Arn"]))
