"""Local AWS for tests: moto clients, the table and key, and a client that applies one request at a time."""

from __future__ import annotations

import threading
from typing import Any

import boto3

REGION = "eu-north-1"
TABLE = "hubnox-test"


def moto_clients() -> tuple[Any, Any]:
    """DynamoDB and KMS clients for moto (build once per module: clients are slow to build)."""
    credentials = {"region_name": REGION, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("dynamodb", **credentials), boto3.client("kms", **credentials)


class OneRequestAtATime:
    """A client that sends one request at a time, as DynamoDB applies each one atomically.

    moto, called from several threads, can interleave the condition check and the write of a
    single request, which DynamoDB never does. Serialising whole requests restores that
    guarantee and leaves every race between requests, the ones the stores handle, in play.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call
