"""The table adapter: schema, values in and out, conditions, paging and error translation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws

from hubnox.errors import TransientError
from hubnox.store.table import TABLE_SCHEMA, ConditionFailed, Table, create_table, serialize

TABLE = "hubnox-test"
REGION = "eu-north-1"


@pytest.fixture(scope="module")
def client():
    # Built once: moto intercepts every client while a mock is active, and clients are slow to build.
    return offline_client()


@pytest.fixture
def dynamodb(client):
    with mock_aws():
        create_table(client, TABLE)
        yield client


@pytest.fixture
def table(dynamodb) -> Table:
    return Table(dynamodb, TABLE)


def offline_client():
    return boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


def test_the_created_table_matches_the_declared_schema(dynamodb):
    described = dynamodb.describe_table(TableName=TABLE)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]

    assert described["KeySchema"] == TABLE_SCHEMA["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        TABLE_SCHEMA["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])) == sorted(
        index["IndexName"] for index in TABLE_SCHEMA["GlobalSecondaryIndexes"])
    assert not described.get("LocalSecondaryIndexes")
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, ...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, _tag, node: None)


def test_the_sam_template_declares_the_table_the_stores_expect():
    template = yaml.load(
        (Path(__file__).resolve().parents[2] / "template.yaml").read_text(encoding="utf-8"),
        Loader=_TemplateLoader,
    )
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]

    assert len(tables) == 1
    declared = tables[0]["Properties"]
    assert {name: declared.get(name) for name in TABLE_SCHEMA} == TABLE_SCHEMA


def test_values_come_back_as_they_went_in_floats_included(table):
    payload = {
        "price": 199.95,
        "ratio": 0.1,
        "count": 3,
        "exact": Decimal("12.50"),
        "flag": True,
        "nothing": None,
        "empty": "",
        "nested": {"rows": [1, 2.5, {"deep": -0.25}], "names": ["a", "b"]},
        "pair": (1, "x"),
    }

    table.put({"pk": "P", "sk": "S", **payload})
    stored = table.get({"pk": "P", "sk": "S"})

    assert stored is not None
    assert stored["price"] == 199.95 and isinstance(stored["price"], float)
    assert stored["ratio"] == 0.1
    assert stored["count"] == 3 and isinstance(stored["count"], int)
    assert stored["exact"] == 12.5
    assert stored["flag"] is True
    assert stored["nothing"] is None
    assert stored["empty"] == ""
    assert stored["nested"] == {"rows": [1, 2.5, {"deep": -0.25}], "names": ["a", "b"]}
    assert stored["pair"] == [1, "x"]


def test_numbers_that_dynamodb_cannot_store_are_refused_before_the_call():
    with pytest.raises(ValueError, match="nan"):
        serialize({"value": float("nan")})


def test_a_missing_item_reads_as_none(table):
    assert table.get({"pk": "P", "sk": "absent"}) is None


def test_a_failed_condition_raises_condition_failed_with_the_stored_item(table):
    table.put({"pk": "P", "sk": "S", "owner": "a"})

    with pytest.raises(ConditionFailed) as failure:
        table.put({"pk": "P", "sk": "S", "owner": "b"}, condition="attribute_not_exists(pk)")

    assert failure.value.item == {"pk": "P", "sk": "S", "owner": "a"}
    assert table.get({"pk": "P", "sk": "S"}) == {"pk": "P", "sk": "S", "owner": "a"}


def test_update_sets_adds_and_removes_and_returns_the_new_item(table):
    table.put({"pk": "P", "sk": "S", "keep": 1, "drop": "x", "count": 4})

    updated = table.update(
        {"pk": "P", "sk": "S"},
        set_fields={"name": "new", "drop": None},
        add_fields={"count": 2},
        condition="#keep = :one",
        names={"#keep": "keep"},
        values={":one": 1},
    )

    assert updated == {"pk": "P", "sk": "S", "keep": 1, "count": 6, "name": "new"}


def test_update_creates_a_missing_item_unless_the_condition_forbids_it(table):
    created = table.update({"pk": "P", "sk": "new"}, add_fields={"count": 1})
    assert created["count"] == 1

    with pytest.raises(ConditionFailed) as failure:
        table.update({"pk": "P", "sk": "other"}, add_fields={"count": 1}, condition="attribute_exists(pk)")
    assert failure.value.item is None
    assert table.get({"pk": "P", "sk": "other"}) is None


def test_delete_returns_what_was_there(table):
    table.put({"pk": "P", "sk": "S", "value": "v"})

    assert table.delete({"pk": "P", "sk": "S"}) == {"pk": "P", "sk": "S", "value": "v"}
    assert table.delete({"pk": "P", "sk": "S"}) is None


def test_query_filters_by_prefix_orders_and_stops_at_the_limit(table):
    for index in range(12):
        table.put({"pk": "P", "sk": f"RUN#{index:02d}"})
    table.put({"pk": "P", "sk": "SETTINGS"})
    table.put({"pk": "Q", "sk": "RUN#99"})

    newest = table.query("P", sk_prefix="RUN#", newest_first=True, limit=3)
    everything = table.query("P", sk_prefix="RUN#")
    middle = table.query("P", sk_between=("RUN#03", "RUN#05"))

    assert [item["sk"] for item in newest] == ["RUN#11", "RUN#10", "RUN#09"]
    assert [item["sk"] for item in everything] == [f"RUN#{index:02d}" for index in range(12)]
    assert [item["sk"] for item in middle] == ["RUN#03", "RUN#04", "RUN#05"]


def test_query_follows_pages_until_the_partition_ends():
    client = offline_client()
    page = {"pk": {"S": "P"}, "sk": {"S": "A"}}
    with Stubber(client) as stub:
        stub.add_response("query", {"Items": [page], "LastEvaluatedKey": page})
        stub.add_response("query", {"Items": [{"pk": {"S": "P"}, "sk": {"S": "B"}}]})

        items = Table(client, TABLE).query("P")

    assert [item["sk"] for item in items] == ["A", "B"]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_throttling_and_server_errors_become_transient(code, status):
    client = offline_client()
    with Stubber(client) as stub:
        stub.add_client_error("put_item", service_error_code=code, http_status_code=status)

        with pytest.raises(TransientError, match=code):
            Table(client, TABLE).put({"pk": "P", "sk": "S"})


def test_a_wrong_request_is_not_disguised_as_transient():
    client = offline_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_item", service_error_code="ResourceNotFoundException", http_status_code=400
        )

        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            Table(client, TABLE).get({"pk": "P", "sk": "S"})


class _Unreachable:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_item(self, **_: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-north-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.eu-north-1.amazonaws.com"),
    ],
)
def test_an_unreachable_endpoint_is_transient(error):
    with pytest.raises(TransientError, match="could not reach AWS"):
        Table(_Unreachable(error), TABLE).get({"pk": "P", "sk": "S"})
