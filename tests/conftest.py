"""Fixtures the unit and integration tests share: moto's DynamoDB and KMS with hubnox's table and a token key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from hubnox.store.table import Table, create_table
from tests.support.aws import TABLE, moto_clients


@pytest.fixture(scope="session")
def aws_clients() -> tuple[Any, Any]:
    # Built once: moto intercepts every client while a mock is active, and clients are slow to build.
    return moto_clients()


@pytest.fixture
def table(aws_clients) -> Iterator[Table]:
    """hubnox's table, empty, on moto."""
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        yield Table(dynamodb, TABLE)
