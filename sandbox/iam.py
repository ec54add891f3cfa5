"""Each function's IAM role, read from `template.yaml` and enforced on its boto3 clients.

On Lambda a call outside a function's role fails with AccessDenied; moto allows everything. So the
local stack and the tests give every function only what its role in the template grants: its
`Policies` (SAM policy templates, managed policies of the template, inline statements), the
policies SAM attaches for its settings (an SQS event source, tracing), and the explicit Denies of
the key policies. A guard on the function's clients refuses any other call the way AWS does.

Supported on purpose, and no more: Allow and Deny statements with `Action` and `Resource`
(wildcards `*` and `?`), the String*, `Null` and `...IfExists` condition operators over the keys
a call carries (`kms:EncryptionContext:<key>`, `kms:EncryptionContextKeys`). Anything else in a
policy is refused loudly, so a policy the local stack cannot read never looks like one it enforces.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sandbox.gateway import ACCOUNT_ID, REGION, functions_from_template

# The SAM policy templates hubnox may use, with the actions and resources of SAM's
# policy_templates.json (Resource patterns use the template's own parameter names).
SAM_POLICY_TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "DynamoDBCrudPolicy": [{
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query",
                   "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem",
                   "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"],
        "Resource": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}",
                     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*"],
    }],
    "DynamoDBReadPolicy": [{
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem",
                   "dynamodb:DescribeTable"],
        "Resource": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}",
                     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*"],
    }],
    "SQSSendMessagePolicy": [{
        "Effect": "Allow",
        "Action": ["sqs:SendMessage*"],
        "Resource": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}",
    }],
    "SQSPollerPolicy": [{
        "Effect": "Allow",
        "Action": ["sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage",
                   "sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
        "Resource": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}",
    }],
    "KMSDecryptPolicy": [{
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${KeyId}",
    }],
    "KMSEncryptPolicy": [{
        "Effect": "Allow",
        "Action": "kms:Encrypt",
        "Resource": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${KeyId}",
    }],
}

# AWS managed policies SAM attaches to a function's role: always, with `Tracing: Active`, and for an
# SQS event source (their statements as AWS publishes them).
BASIC_EXECUTION = [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*"}]
XRAY_WRITE = [{"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                                             "xray:GetSamplingRules", "xray:GetSamplingTargets",
                                             "xray:GetSamplingStatisticSummaries"], "Resource": "*"}]
SQS_QUEUE_EXECUTION = [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                      "sqs:GetQueueAttributes", *BASIC_EXECUTION[0]["Action"]],
                        "Resource": "*"}]

#: The error each service answers a refused call with.
DENIED_CODES = {"sqs": "AccessDenied"}
DEFAULT_DENIED_CODE = "AccessDeniedException"


class UnsupportedPolicy(ValueError):
    """A policy the local stack cannot evaluate faithfully."""


# -- statements ----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _wildcard(pattern: str, *, case_sensitive: bool = True) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


@dataclass(frozen=True)
class Request:
    """One AWS call as IAM sees it: the action, the resources it touches and its condition keys."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition", "Principal"}
        if unknown or "Action" not in raw or "Resource" not in raw:
            raise UnsupportedPolicy(f"a statement with {sorted(raw)} is not evaluated locally")
        if raw["Effect"] not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"effect {raw['Effect']!r}")
        for operator in raw.get("Condition", {}):
            if _operator(operator)[0] not in CONDITION_OPERATORS:
                raise UnsupportedPolicy(f"condition operator {operator} is not evaluated locally")
        return cls(raw["Effect"], tuple(str(a) for a in _as_list(raw["Action"])),
                   tuple(str(r) for r in _as_list(raw["Resource"])), dict(raw.get("Condition", {})))

    def applies_to(self, action: str, resource: str, context: Mapping[str, Any]) -> bool:
        return (any(_wildcard(a, case_sensitive=False).fullmatch(action) for a in self.actions)
                and any(_wildcard(r).fullmatch(resource) for r in self.resources)
                and all(_condition(op, key, expected, context)
                        for op, tests in self.conditions.items() for key, expected in tests.items()))


def _operator(name: str) -> tuple[str, bool]:
    return (name[: -len("IfExists")], True) if name.endswith("IfExists") else (name, False)


CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, wanted: actual == wanted,
    "StringNotEquals": lambda actual, wanted: actual != wanted,
    "StringLike": lambda actual, wanted: _wildcard(wanted).fullmatch(actual) is not None,
    "StringNotLike": lambda actual, wanted: _wildcard(wanted).fullmatch(actual) is None,
    "Null": lambda actual, wanted: True,  # handled below: it tests presence, not a value
}


def _condition(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    name, if_exists = _operator(operator)
    wanted = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(expected)]
    present = key in context
    if name == "Null":
        return (not present) == (wanted[0] == "true")
    if not present:
        return if_exists
    test = CONDITION_OPERATORS[name]
    negated = name.startswith("StringNot")
    actual = [str(v) for v in _as_list(context[key])]
    # One value of the request must match one of the policy's (negated: none may match).
    if negated:
        return all(test(a, w) for a in actual for w in wanted)
    return any(test(a, w) for a in actual for w in wanted)


@dataclass(frozen=True)
class RolePolicy:
    """What one function's role may do."""

    function: str
    role: str
    statements: tuple[Statement, ...]
    account: str = ACCOUNT_ID
    region: str = REGION

    def refusal(self, request: Request) -> str | None:
        """Why AWS would refuse `request`, or None when the role allows it."""
        for resource in request.resources:
            matching = [s for s in self.statements if s.applies_to(request.action, resource, request.context)]
            if any(s.effect == "Deny" for s in matching):
                return f"{request.action} on resource: {resource} with an explicit deny"
            if not matching:
                return f"{request.action} on resource: {resource} because no identity-based policy allows the " \
                       f"{request.action} action"
        return None


# -- from the template ---------------------------------------------------------------------------


def role_policies(template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> dict[str, RolePolicy]:
    """Every function's role by folder name (`replay`, `worker` ...), its resources resolved with
    `resolve` (the local stack's intrinsics: `sandbox.aws.Intrinsics.resolve`)."""
    resources = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    denies = list(_key_policy_denies(resources, resolve))
    roles: dict[str, RolePolicy] = {}
    for name, spec in functions_from_template(template).items():
        props = resources[spec.logical_id].get("Properties", {})
        raw: list[dict[str, Any]] = list(BASIC_EXECUTION)
        if props.get("Tracing", globals_.get("Tracing")) == "Active":
            raw += XRAY_WRITE
        if any(event.get("Type") == "SQS" for event in spec.events.values()):
            raw += SQS_QUEUE_EXECUTION
        for policy in _as_list(props.get("Policies", [])):
            raw += _statements_of(policy, resources, resolve)
        statements = tuple(Statement.parse(s) for s in raw) + tuple(denies)
        roles[name] = RolePolicy(name, f"{spec.logical_id}Role", statements)
    return roles


def _statements_of(policy: Any, resources: Mapping[str, Any], resolve: Callable[[Any], Any]) -> list[dict[str, Any]]:
    if isinstance(policy, str):
        known = {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION, "AWSXrayWriteOnlyAccess": XRAY_WRITE,
                 "AWSLambdaSQSQueueExecutionRole": SQS_QUEUE_EXECUTION}
        if policy not in known:
            raise UnsupportedPolicy(f"the managed policy {policy} is not known locally")
        return list(known[policy])
    if set(policy) == {"Ref"}:
        managed = resources.get(policy["Ref"], {})
        if managed.get("Type") != "AWS::IAM::ManagedPolicy":
            raise UnsupportedPolicy(f"{policy['Ref']} is not a managed policy of the template")
        return _as_list(resolve(managed["Properties"]["PolicyDocument"]["Statement"]))
    if set(policy) == {"Statement"}:
        return _as_list(resolve(policy["Statement"]))
    [(name, parameters)] = policy.items()
    if name not in SAM_POLICY_TEMPLATES:
        raise UnsupportedPolicy(f"the SAM policy template {name} is not known locally")
    values = {key: str(value) for key, value in resolve(parameters).items()}
    return _as_list(resolve(_fill(SAM_POLICY_TEMPLATES[name], values)))


def _fill(value: Any, parameters: Mapping[str, str]) -> Any:
    """A SAM policy template with its parameters in, as a `Fn::Sub` for the pseudo parameters."""
    if isinstance(value, list):
        return [_fill(v, parameters) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, parameters) for k, v in value.items()}
    if isinstance(value, str) and "${" in value:
        for name, given in parameters.items():
            value = value.replace("${" + name + "}", given)
        return {"Fn::Sub": value}
    return value


def _key_policy_denies(resources: Mapping[str, Any], resolve: Callable[[Any], Any]) -> Iterator[Statement]:
    """The explicit Denies of the template's key policies that apply to every principal, on their key."""
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::KMS::Key":
            continue
        key_arn = resolve({"Fn::GetAtt": [logical_id, "Arn"]})
        for raw in _as_list(resource["Properties"].get("KeyPolicy", {}).get("Statement", [])):
            if raw.get("Effect") != "Deny":
                continue  # Allows delegate to IAM (the account root) or name other principals
            if raw.get("Principal") not in ("*", {"AWS": "*"}):
                raise UnsupportedPolicy(f"a key policy Deny for {raw.get('Principal')} is not evaluated locally")
            statement = Statement.parse({k: v for k, v in resolve(raw).items() if k != "Principal"})
            yield Statement("Deny", statement.actions, (key_arn,), statement.conditions)


# -- the guard -----------------------------------------------------------------------------------


def request_of(service: str, operation: str, params: Mapping[str, Any], account: str, region: str) -> Request:
    """The IAM request a boto3 call makes: `service:Operation`, its resources and condition keys."""
    action = f"{service}:{operation}"
    arn = f"arn:aws:{service}:{region}:{account}"
    resources: list[str] = []
    context: dict[str, Any] = {}
    if service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        for table in tables:
            resource = table if table.startswith("arn:") else f"{arn}:table/{table}"
            resources.append(f"{resource}/index/{params['IndexName']}" if "IndexName" in params else resource)
    elif service == "kms":
        key = str(params.get("KeyId", "*"))
        resources.append(key if key.startswith("arn:") or key == "*"
                         else f"{arn}:{key}" if key.startswith("alias/") else f"{arn}:key/{key}")
        encryption_context = params.get("EncryptionContext") or {}
        context.update({f"kms:EncryptionContext:{k}": v for k, v in encryption_context.items()})
        if encryption_context:
            context["kms:EncryptionContextKeys"] = list(encryption_context)
    elif service == "sqs":
        if "QueueUrl" in params:
            owner, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
            resources.append(f"arn:aws:sqs:{region}:{owner}:{name}")
        elif "QueueName" in params:
            resources.append(f"{arn}:{params['QueueName']}")
    elif service == "secretsmanager" and "SecretId" in params:
        secret = str(params["SecretId"])
        # A secret's ARN ends in six random characters after its name.
        resources.append(secret if secret.startswith("arn:") else f"{arn}:secret:{secret}-AbCdEf")
    return Request(action, tuple(resources or ["*"]), context)


#: what each part of a DynamoDB transaction is authorised as: "Permissions for Put, Update, Delete, and
#: Get actions are governed by the permissions used for the underlying PutItem, UpdateItem, DeleteItem,
#: and GetItem operations. For the ConditionCheck action, ... dynamodb:ConditionCheckItem" (DynamoDB
#: developer guide, Using IAM with DynamoDB transactions); there is no TransactWriteItems action to grant
TRANSACTION_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem",
                     "ConditionCheck": "ConditionCheckItem"}


def requests_of(service: str, operation: str, params: Mapping[str, Any], account: str, region: str) -> list[Request]:
    """The IAM requests a boto3 call makes: one, or one per part of a DynamoDB transaction."""
    if service == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        parts: list[Request] = []
        for item in params.get("TransactItems", []):
            for kind, part in item.items():
                request = request_of(service, TRANSACTION_PARTS[kind], part, account, region)
                parts.append(Request(request.action, request.resources,
                                     {**request.context, "dynamodb:EnclosingOperation": operation}))
        return parts
    return [request_of(service, operation, params, account, region)]


class Guard:
    """Refuses, before it is sent, every call of a boto3 client that `policy` does not allow."""

    def __init__(self, policy: RolePolicy) -> None:
        self.policy = policy
        self.unique_id = f"hubnox-iam-{policy.function}-{uuid.uuid4().hex}"

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._check, unique_id=self.unique_id)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-parameter-build", unique_id=self.unique_id)

    def _check(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name
        requests = requests_of(service, model.name, params, self.policy.account, self.policy.region)
        refusal = next((found for found in map(self.policy.refusal, requests) if found is not None), None)
        if refusal is None:
            return
        user = f"arn:aws:sts::{self.policy.account}:assumed-role/{self.policy.role}/hubnox-{self.policy.function}"
        code = DENIED_CODES.get(service, DEFAULT_DENIED_CODE)
        raise ClientError({"Error": {"Code": code, "Message": f"User: {user} is not authorized to perform: {refusal}"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)


@contextmanager
def enforcing(policy: RolePolicy, clients: Iterable[Any]) -> Iterator[Guard]:
    """`policy` enforced on `clients` for the duration of the block."""
    guard = Guard(policy)
    attached: Sequence[Any] = list(clients)
    for client in attached:
        guard.attach(client)
    try:
        yield guard
    finally:
        for client in attached:
            guard.detach(client)
