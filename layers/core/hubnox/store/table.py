"""hubnox's one DynamoDB table: its schema, its key layout, and a thin adapter over the client.

The table has a string partition key `pk`, a string sort key `sk`, the TTL attribute `expires_at`
(epoch seconds), the sync log's sparse indexes of runs (`RUN_INDEXES`), and on-demand billing
(`TABLE_SCHEMA`). Every item hubnox writes is
laid out as follows; the key functions below are the only places that spell these keys.

| pk                     | sk                              | item                                   |
| ---------------------- | ------------------------------- | -------------------------------------- |
| `PORTAL#<portalId>`    | `CONNECTION#hubspot`            | the HubSpot connection, tokens sealed  |
| `PORTAL#<portalId>`    | `CONNECTION#fortnox`            | the Fortnox connection, tokens sealed  |
| `PORTAL#<portalId>`    | `SETTINGS`                      | the settings payload and its version   |
| `PORTAL#<portalId>`    | `RUN#<runId>`                   | one run (run ids sort by time)         |
| `PORTAL#<portalId>`    | `LATESTRUN#<objType>#<objId>`   | the id of the newest run for an object |
| `PORTAL#<portalId>`    | `DEALLINK#<dealId>#<trigger>`   | the claim on a deal's one document     |
| `PORTAL#<portalId>`    | `CURSOR#<name>`                 | a poller cursor                        |
| `PORTAL#<portalId>`    | `FNXDOC#<kind>#<number>`        | what hubnox last wrote of a Fortnox document's state |
| `PORTAL#<portalId>`    | `FNXCUST#<customerNumber>`      | what hubnox last wrote of a Fortnox customer's totals |
| `PORTAL#<portalId>`    | `TRIGGER#<dealId>#<recordId>`   | a trigger decision (record ids sort by time) |
| `PORTAL#<portalId>`    | `MADECUST#<tenant>#<kind>#<id>` | the Fortnox customer hubnox made for a company or contact |
| `PORTALS`              | `<portalId>`                    | the registry of installed portals      |
| `LEASE#<name>`         | `LEASE`                         | a lease (a cross-Lambda lock)          |
| `NONCE#<kind>#<value>` | `NONCE`                         | a single-use value (OAuth state, ids)  |
| `CALLBACKS`            | `callback#<hash of portal#id>`  | a workflow execution's idempotency record (Powertools') |
| `SESSIONS#<portalId>`  | `GENERATION`                    | the portal's settings-session generation |
| `SESSION#<sessionId>`  | `ENDED`                         | a settings session ended by a logout   |
| `FORTNOX#<tenantId>`   | `CLAIM`                         | which portal a Fortnox company is connected to |
| `RATE#<key>`           | `<slice>#<bucket>`              | a rate-limit counter for one time slice|

Everything about one portal shares a partition, so a portal's runs list with one query; the
registry, leases, nonces, callbacks and rate counters have partitions of their own so that they never
contend with a portal's data. The session generation lives outside the portal's partition on
purpose: deleting the portal's data must end its sessions, not reset their count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from hubnox.errors import HubnoxError, TransientError

#: Epoch seconds now; injected so tests can move time.
Clock = Callable[[], float]
Item = dict[str, Any]
Key = dict[str, str]

TTL_ATTRIBUTE = "expires_at"

#: The table as CloudFormation and CreateTable describe it; template.yaml must declare the same.
#: The sync log's indexes of runs (`hubnox.store.runs`), by name -> (partition attribute, sort attribute).
#: All are sparse: only runs carry their attributes. The partition values start with the portal's
#: partition (`run_index_value`), so a query reaches one portal's runs only; the sort key is the run id
#: (time order), or for names the normalised name then the run id newest first.
RUN_INDEXES: dict[str, tuple[str, str]] = {
    "runs_by_status": ("gsi_status", "run_id"),
    "runs_by_trigger": ("gsi_trigger", "run_id"),
    "runs_by_kind": ("gsi_kind", "run_id"),
    "runs_by_record": ("gsi_record", "run_id"),
    "runs_by_document": ("gsi_document", "run_id"),
    "runs_by_name": ("pk", "gsi_name"),
}

TABLE_SCHEMA: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "run_id", "AttributeType": "S"},
        *({"AttributeName": attribute, "AttributeType": "S"}
          for attribute in dict.fromkeys(a for keys in RUN_INDEXES.values() for a in keys)
          if attribute not in ("pk", "run_id")),
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {"IndexName": name,
         "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                       {"AttributeName": range_key, "KeyType": "RANGE"}],
         # The log shows nearly everything of a run: a keys-only index would cost a read per row.
         "Projection": {"ProjectionType": "ALL"}}
        for name, (hash_key, range_key) in RUN_INDEXES.items()
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
}

#: Client settings for every AWS client hubnox builds: short timeouts, botocore's standard retries.
BOTO_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})

_DYNAMODB_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


# --- keys -----------------------------------------------------------------------------------------

#: BatchGetItem reads at most 100 keys a request
BATCH_GET_MAX = 100
REGISTRY_PK = "PORTALS"
#: the portals whose app was uninstalled, with when (`uninstalled_key`)
UNINSTALLED_PK = "UNINSTALLED"
#: the partition of Powertools' idempotency records of workflow executions (their sort key is Powertools')
CALLBACKS_PK = "CALLBACKS"
RUN_PREFIX = "RUN#"


def _portal_pk(portal_id: str) -> str:
    return f"PORTAL#{portal_id}"


def connection_key(portal_id: str, system: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"CONNECTION#{system}"}


def health_key(portal_id: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": "HEALTH#fortnox"}


def settings_key(portal_id: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": "SETTINGS"}


def run_key(portal_id: str, run_id: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"{RUN_PREFIX}{run_id}"}


def runs_partition(portal_id: str) -> str:
    return _portal_pk(portal_id)


def run_index_value(portal_id: str, value: str) -> str:
    """The partition value of a run in a sync-log index: `PORTAL#<portalId>#<status, trigger, id...>`."""
    return f"{_portal_pk(portal_id)}#{value}"


def portal_partition(portal_id: str) -> str:
    """The partition holding everything about one portal."""
    return _portal_pk(portal_id)


def latest_run_key(portal_id: str, object_type: str, object_id: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"LATESTRUN#{object_type}#{object_id}"}


def deal_link_key(portal_id: str, deal_id: str, trigger_key: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"DEALLINK#{deal_id}#{trigger_key}"}


def deal_links_prefix(deal_id: str | None = None) -> str:
    """The sort-key prefix of one deal's links, or of every deal link of a portal."""
    return "DEALLINK#" if deal_id is None else f"DEALLINK#{deal_id}#"


def cursor_key(portal_id: str, name: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"CURSOR#{name}"}


def document_state_key(portal_id: str, kind: str, number: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"FNXDOC#{kind}#{number}"}


def customer_state_key(portal_id: str, customer_number: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"FNXCUST#{customer_number}"}


def made_customer_key(portal_id: str, tenant: str, kind: str, record_id: str) -> Key:
    """The customer made for a HubSpot record (`kind` company or contact) in one Fortnox company (`tenant`)."""
    return {"pk": _portal_pk(portal_id), "sk": f"MADECUST#{tenant}#{kind}#{record_id}"}


def trigger_record_key(portal_id: str, deal_id: str, record_id: str) -> Key:
    return {"pk": _portal_pk(portal_id), "sk": f"{trigger_records_prefix(deal_id)}{record_id}"}


def trigger_records_prefix(deal_id: str) -> str:
    """The sort-key prefix of one deal's trigger decisions in its portal's partition."""
    return f"TRIGGER#{deal_id}#"


def registry_key(portal_id: str) -> Key:
    return {"pk": REGISTRY_PK, "sk": portal_id}


def uninstalled_key(portal_id: str) -> Key:
    """The mark of a portal whose app was uninstalled, in one partition the retention purge reads."""
    return {"pk": UNINSTALLED_PK, "sk": portal_id}


def lease_key(name: str) -> Key:
    return {"pk": f"LEASE#{name}", "sk": "LEASE"}


def nonce_key(kind: str, value: str) -> Key:
    return {"pk": f"NONCE#{kind}#{value}", "sk": "NONCE"}


def rate_key(key: str, slice_seconds: float, bucket: int) -> Key:
    # Zero-padded so that a range of buckets is a range of sort keys.
    return {"pk": f"RATE#{key}", "sk": f"{slice_seconds:g}#{bucket:016d}"}


def session_generation_key(portal_id: str) -> Key:
    return {"pk": f"SESSIONS#{portal_id}", "sk": "GENERATION"}


def ended_session_key(session_id: str) -> Key:
    return {"pk": f"SESSION#{session_id}", "sk": "ENDED"}


def fortnox_claim_key(tenant_id: str) -> Key:
    return {"pk": f"FORTNOX#{tenant_id}", "sk": "CLAIM"}


def ttl_at(epoch_seconds: float) -> int:
    """The `expires_at` value for an item that may be swept at `epoch_seconds` or later."""
    return math.ceil(epoch_seconds)


# --- errors ---------------------------------------------------------------------------------------


class ConditionFailed(HubnoxError):
    """A conditional write found the item in another state than the write required.

    `item` is the item as it stood when the condition failed (None when there was none).
    """

    code = "CONDITION_FAILED"

    def __init__(self, message: str, *, item: Item | None = None) -> None:
        super().__init__(message)
        self.item = item


class TransactionCancelled(HubnoxError):
    """A transaction was refused because a condition of one of its writes did not hold.

    `failed` holds the indexes (in the order the writes were given) whose condition failed.
    """

    code = "TRANSACTION_CANCELLED"

    def __init__(self, message: str, *, failed: tuple[int, ...]) -> None:
        super().__init__(message)
        self.failed = failed


class StaleVersion(ConditionFailed):
    """An optimistic write carried a version that is no longer the stored one."""

    code = "STALE_VERSION"

    def __init__(self, what: str, *, expected: int, actual: int | None, item: Item | None = None) -> None:
        if actual is None:
            message = f"{what} no longer exists (expected version {expected})"
        else:
            message = (
                f"{what} changed since it was read (expected version {expected}, stored version {actual})"
            )
        super().__init__(message, item=item)
        self.expected = expected
        self.actual = actual


@contextmanager
def translated_aws_errors(operation: str, transient_codes: frozenset[str]) -> Iterator[None]:
    """Turn throttling, server errors and lost connections from botocore into `TransientError`.

    Any other client error goes through unchanged: it means hubnox asked for something wrong.
    """
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in transient_codes or status >= 500:
            raise TransientError(f"{operation} failed for now ({code or status}); try again") from error
        raise
    except (BotoConnectionError, HTTPClientError) as error:
        raise TransientError(
            f"{operation} could not reach AWS ({type(error).__name__}); try again"
        ) from error


# --- values ---------------------------------------------------------------------------------------

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    # boto3 refuses floats; their shortest repr as a Decimal keeps the exact value they print as.
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB cannot store {value!r}")
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item (str, int, float, Decimal, bool, None, list, dict) in DynamoDB's wire form."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in item.items()}


def deserialize(raw: Mapping[str, Any]) -> Item:
    """An item from DynamoDB's wire form, numbers as int when whole and float otherwise.

    DynamoDB trims trailing zeros, so a stored 2.0 reads back as the int 2 (equal in Python and JSON).
    """
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in raw.items()}


# --- the adapter ----------------------------------------------------------------------------------


class Table:
    """The hubnox table over a low-level boto3 DynamoDB client.

    Conditions are DynamoDB condition expressions with the caller's `#name` and `:value`
    placeholders; placeholders starting with `#u` and `:u` are reserved for the update builder.
    A failed condition raises `ConditionFailed` carrying the stored item; throttling, server
    errors and lost connections raise `TransientError`.
    """

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def get(self, key: Key, *, consistent: bool = True) -> Item | None:
        """The item at `key`, or None."""
        with self._errors("GetItem"):
            response = self._client.get_item(
                TableName=self.name, Key=serialize(key), ConsistentRead=consistent
            )
        raw = response.get("Item")
        return deserialize(raw) if raw else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the whole item, replacing any item at its key, if `condition` holds."""
        request: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        request.update(self._condition(condition, names, values))
        with self._errors("PutItem"):
            self._client.put_item(**request)

    def update(
        self,
        key: Key,
        *,
        set_fields: Mapping[str, Any] | None = None,
        add_fields: Mapping[str, int | float] | None = None,
        append_fields: Mapping[str, list[Any]] | None = None,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Item:
        """Set and add to attributes (creating the item if absent) and return the new item.

        A None in `set_fields` removes that attribute, so a model can be written field by field;
        `append_fields` adds entries at the end of list attributes (starting them when absent).
        """
        request = self.update_request(key, set_fields=set_fields, add_fields=add_fields, append_fields=append_fields,
                                      condition=condition, names=names, values=values)
        request["ReturnValues"] = "ALL_NEW"
        with self._errors("UpdateItem"):
            response = self._client.update_item(**request)
        return deserialize(response.get("Attributes", {}))

    def update_request(
        self,
        key: Key,
        *,
        set_fields: Mapping[str, Any] | None = None,
        add_fields: Mapping[str, int | float] | None = None,
        append_fields: Mapping[str, list[Any]] | None = None,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The UpdateItem request `update` sends, for use in `transact_write` as an `Update`."""
        all_names = dict(names or {})
        all_values = dict(values or {})
        assignments: list[str] = []
        additions: list[str] = []
        removals: list[str] = []
        for index, (field, value) in enumerate((set_fields or {}).items()):
            all_names[f"#u{index}"] = field
            if value is None:
                removals.append(f"#u{index}")
            else:
                all_values[f":u{index}"] = value
                assignments.append(f"#u{index} = :u{index}")
        offset = len(set_fields or {})
        for index, (field, amount) in enumerate((add_fields or {}).items(), start=offset):
            all_names[f"#u{index}"] = field
            all_values[f":u{index}"] = amount
            additions.append(f"#u{index} :u{index}")
        offset += len(add_fields or {})
        for index, (field, entries) in enumerate((append_fields or {}).items(), start=offset):
            all_names[f"#u{index}"] = field
            all_values[f":u{index}"] = list(entries)
            all_values[":uempty"] = []
            assignments.append(f"#u{index} = list_append(if_not_exists(#u{index}, :uempty), :u{index})")
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", assignments), ("ADD", additions), ("REMOVE", removals))
            if parts
        ]
        if not clauses:
            raise ValueError("an update needs at least one attribute to change")
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": " ".join(clauses),
        }
        request.update(self._condition(condition, all_names, all_values))
        return request

    def put_request(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A PutItem request for `transact_write` as a `Put`."""
        request: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        request.update(self._condition(condition, names, values))
        return request

    def check_request(
        self,
        key: Key,
        condition: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A condition on another item, for `transact_write` as a `ConditionCheck`."""
        request: dict[str, Any] = {"TableName": self.name, "Key": serialize(key)}
        request.update(self._condition(condition, names, values))
        return request

    def transact_write(self, operations: list[tuple[str, dict[str, Any]]]) -> None:
        """Write all of `operations` ((`Put` | `Update` | `Delete` | `ConditionCheck`, request)) or none.

        Raises `TransactionCancelled` naming the operations whose condition failed; a conflict
        with another transaction is transient.
        """
        items = []
        for kind, request in operations:
            request = {k: v for k, v in request.items() if k not in ("ReturnValues",)}
            request.pop("ReturnValuesOnConditionCheckFailure", None)
            items.append({kind: request})
        try:
            with translated_aws_errors("DynamoDB TransactWriteItems", _DYNAMODB_TRANSIENT):
                self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [str(r.get("Code", "")) for r in error.response.get("CancellationReasons", [])]
            if not reasons:  # some engines only say it in the message
                message = str(error.response.get("Error", {}).get("Message", ""))
                inside = message.partition("[")[2].partition("]")[0]
                reasons = [part.strip() for part in inside.split(",")] if inside else []
            if any(reason in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
                   for reason in reasons):
                raise TransientError("DynamoDB TransactWriteItems conflicted with another write; try again") \
                    from error
            failed = tuple(i for i, reason in enumerate(reasons) if reason == "ConditionalCheckFailed")
            raise TransactionCancelled(f"DynamoDB TransactWriteItems on {self.name}: a condition did not hold",
                                       failed=failed) from error

    def delete(
        self,
        key: Key,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Item | None:
        """Delete the item at `key` if `condition` holds, and return what was there (or None)."""
        request: dict[str, Any] = {"TableName": self.name, "Key": serialize(key), "ReturnValues": "ALL_OLD"}
        request.update(self._condition(condition, names, values))
        with self._errors("DeleteItem"):
            response = self._client.delete_item(**request)
        raw = response.get("Attributes")
        return deserialize(raw) if raw else None

    def batch_get(self, keys: list[Key], *, consistent: bool = False) -> list[Item]:
        """The items found at `keys` (at most 100, one BatchGetItem), in no particular order; keys
        DynamoDB left unprocessed are asked again until none are left."""
        if len(keys) > BATCH_GET_MAX:
            raise ValueError(f"BatchGetItem takes at most {BATCH_GET_MAX} keys")
        items: list[Item] = []
        pending: dict[str, Any] = {self.name: {"Keys": [serialize(key) for key in keys],
                                                "ConsistentRead": consistent}} if keys else {}
        while pending:
            with self._errors("BatchGetItem"):
                response = self._client.batch_get_item(RequestItems=pending)
            items.extend(deserialize(raw) for raw in response.get("Responses", {}).get(self.name, []))
            pending = response.get("UnprocessedKeys") or {}
        return items

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_between: tuple[str, str] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        consistent: bool = False,
    ) -> list[Item]:
        """The items of partition `pk`, in sort-key order.

        `sk_prefix` keeps the sort keys that start with it, `sk_between` those in an inclusive range.

        Follows pages until `limit` items are found or the partition ends.
        """
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": serialize({":pk": pk}),
            "ScanIndexForward": not newest_first,
            "ConsistentRead": consistent,
        }
        if sk_prefix is not None:
            request["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            request["ExpressionAttributeNames"]["#sk"] = "sk"
            request["ExpressionAttributeValues"].update(serialize({":prefix": sk_prefix}))
        elif sk_between is not None:
            request["KeyConditionExpression"] += " AND #sk BETWEEN :low AND :high"
            request["ExpressionAttributeNames"]["#sk"] = "sk"
            request["ExpressionAttributeValues"].update(
                serialize({":low": sk_between[0], ":high": sk_between[1]})
            )
        items: list[Item] = []
        while limit is None or len(items) < limit:
            if limit is not None:
                request["Limit"] = limit - len(items)
            with self._errors("Query"):
                response = self._client.query(**request)
            items.extend(deserialize(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items

    def query_page(
        self,
        *,
        index: str | None,
        key_condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        filter_expression: str | None = None,
        forward: bool = False,
        limit: int = 100,
        start_key: Mapping[str, Any] | None = None,
    ) -> tuple[list[Item], Item | None]:
        """One Query call (of the table, or of `index`): the matching items of at most `limit` read, and
        the last key read when there is more to read (None at the end)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": dict(names),
            "ExpressionAttributeValues": serialize(values),
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if index is not None:
            request["IndexName"] = index
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if start_key:
            request["ExclusiveStartKey"] = serialize(start_key)
        with self._errors("Query"):
            response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return [deserialize(raw) for raw in response.get("Items", [])], deserialize(last) if last else None

    @staticmethod
    def _condition(
        condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {}
        if condition is not None:
            request["ConditionExpression"] = condition
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = serialize(values)
        return request

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        try:
            with translated_aws_errors(f"DynamoDB {operation}", _DYNAMODB_TRANSIENT):
                yield
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raw = error.response.get("Item")
            raise ConditionFailed(
                f"DynamoDB {operation} on {self.name}: the condition did not hold",
                item=deserialize(raw) if raw else None,
            ) from error


def create_table(client: Any, name: str) -> None:
    """Create the hubnox table as `TABLE_SCHEMA` describes it, with TTL on (local stacks, tests)."""
    schema = {k: v for k, v in TABLE_SCHEMA.items() if k != "TimeToLiveSpecification"}
    with translated_aws_errors("DynamoDB CreateTable", _DYNAMODB_TRANSIENT):
        client.create_table(TableName=name, **schema)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification=TABLE_SCHEMA["TimeToLiveSpecification"]
        )
