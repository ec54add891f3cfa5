"""Fixtures of the fuzz tests: moto's DynamoDB and KMS, built once (clients are slow to build)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.aws import moto_clients


@pytest.fixture(scope="session")
def aws_clients() -> tuple[Any, Any]:
    return moto_clients()
