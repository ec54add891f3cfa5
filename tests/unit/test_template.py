"""template.yaml holds the design: every route once and on the right function, the queue with its
dead-letter queue, the table's schema, the layer, and only the permissions each function needs."""

from __future__ import annotations

import ast
from collections import Counter
from typing import Any

import pytest

from hubnox.config import AppConfig
from hubnox.store.crypto import PORTAL_CONTEXT
from hubnox.store.table import TABLE_SCHEMA
from sandbox.gateway import REPO_ROOT, Gateway, functions_from_template, read_template

#: The routes of DESIGN.md, each with the function folder that answers it.
DESIGN_ROUTES = {
    "GET /oauth/hubspot/install": "oauth",
    "GET /oauth/hubspot/callback": "oauth",
    "GET /oauth/fortnox/connect": "oauth",
    "GET /oauth/fortnox/callback": "oauth",
    "POST /oauth/fortnox/disconnect": "oauth",
    "POST /hubspot/actions/create-document": "workflow_action",
    "POST /hubspot/actions/sync-customer": "workflow_action",
    "POST /hubspot/actions/options": "workflow_action",
    "POST /hubspot/webhooks": "webhooks",
    "GET /hubspot/card": "crm_card",
    "POST /hubspot/card/actions/{action}": "crm_card",
    "GET /replay/{runId}": "replay",
    "POST /replay/{runId}": "replay",
    "GET /settings": "settings",
    "GET /settings/log": "settings",
    "ANY /settings/api/{proxy+}": "settings",
    "GET /settings/static/{proxy+}": "settings",
}
FUNCTIONS = {"oauth", "workflow_action", "webhooks", "crm_card", "replay", "settings", "poller", "worker"}
#: Functions that open or seal stored tokens, and those that enqueue jobs.
TOKEN_USERS = {"oauth", "workflow_action", "crm_card", "settings", "poller", "worker"}
ENQUEUERS = {"workflow_action", "webhooks", "crm_card", "replay", "poller", "settings"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return read_template(REPO_ROOT / "template.yaml")


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def function_resource(template: dict[str, Any], folder: str) -> dict[str, Any]:
    specs = functions_from_template(template)
    return template["Resources"][specs[folder].logical_id]


def test_every_design_route_is_declared_exactly_once_on_its_function(template):
    declared = [
        (f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}", spec.name)
        for spec in functions_from_template(template).values()
        for event in spec.events.values()
        if event["Type"] == "HttpApi"
    ]
    counts = Counter(route for route, _ in declared)
    assert {route for route, n in counts.items() if n > 1} == set()
    assert dict(declared) == DESIGN_ROUTES


def test_every_http_event_belongs_to_the_one_http_api(template):
    for spec in functions_from_template(template).values():
        for event in spec.events.values():
            if event["Type"] == "HttpApi":
                assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    assert list(resources_of_type(template, "AWS::Serverless::HttpApi")) == ["HttpApi"]


def test_every_function_folder_has_an_app_with_a_lambda_handler(template):
    specs = functions_from_template(template)
    assert set(specs) == FUNCTIONS
    for spec in specs.values():
        assert spec.code_dir == REPO_ROOT / "functions" / spec.name
        assert spec.handler == "app.lambda_handler"
        tree = ast.parse((spec.code_dir / "app.py").read_text(encoding="utf-8"))
        handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler"]
        assert handlers, f"functions/{spec.name}/app.py has no lambda_handler"
        assert [a.arg for a in handlers[0].args.args] == ["event", "context"]


def test_no_handler_imports_another_functions_folder():
    for app in (REPO_ROOT / "functions").glob("*/app.py"):
        tree = ast.parse(app.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    names = [alias.name for alias in node.names]
                assert not any(n.split(".")[0] in ("functions", *FUNCTIONS) for n in names), app


def test_functions_run_python_312_on_arm64_with_tracing_and_the_core_layer(template):
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active"
    assert function["Layers"] == [{"Ref": "CoreLayer"}]


def test_the_environment_gives_every_setting_hubnox_reads_from_it(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    secrets = {"hubspot_client_secret", "fortnox_client_secret", "signing_key"}  # from SECRETS_NAME
    local_only = {"aws_endpoint_url", "http_timeout_seconds"}
    assert {name.lower() for name in variables} >= set(AppConfig.model_fields) - secrets - local_only
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
    assert {"SECRETS_NAME", *powertools} <= set(variables)
    assert variables["POWERTOOLS_SERVICE_NAME"] == "hubnox"


def test_the_layer_is_built_with_python_312_from_layers_core(template):
    layer = template["Resources"]["CoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/core"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert (REPO_ROOT / "layers" / "core" / "requirements.txt").is_file()


def test_the_table_is_the_pk_sk_schema_the_stores_use_with_expires_at_ttl(template):
    table = template["Resources"]["Table"]
    props = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["AttributeDefinitions"] == TABLE_SCHEMA["AttributeDefinitions"]
    assert props["KeySchema"] == TABLE_SCHEMA["KeySchema"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_the_jobs_queue_sends_jobs_to_the_dead_letter_queue_after_five_tries(template):
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["JobsDLQ", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert template["Resources"]["JobsDLQ"]["Type"] == "AWS::SQS::Queue"


def test_the_queue_hides_a_job_for_at_least_six_worker_timeouts(template):
    worker = functions_from_template(template)["worker"]
    assert template["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * worker.timeout


def test_the_worker_reads_the_jobs_queue_reporting_failures_record_by_record(template):
    events = [e for e in functions_from_template(template)["worker"].events.values() if e["Type"] == "SQS"]
    assert len(events) == 1
    props = events[0]["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= props["BatchSize"] <= 10
    assert "MaximumBatchingWindowInSeconds" in props


def test_the_poller_ticks_every_two_minutes_and_polls_one_portal_an_invocation(template):
    events = functions_from_template(template)["poller"].events
    assert events["Schedule"] == {"Type": "Schedule", "Properties": {"Schedule": "rate(2 minutes)",
                                                                     "Description": "hubnox poller tick"}}
    polls = events["Polls"]["Properties"]
    assert polls["Queue"] == {"Fn::GetAtt": ["PollQueue", "Arn"]}
    assert (polls["BatchSize"], polls["FunctionResponseTypes"]) == (1, ["ReportBatchItemFailures"])
    queue = template["Resources"]["PollQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["PollDLQ", "Arn"]}
    # A message must stay hidden longer than one poll may run.
    assert queue["VisibilityTimeout"] >= 6 * template["Resources"]["PollerFunction"]["Properties"]["Timeout"]


def test_an_alarm_watches_the_dead_letter_queue(template):
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    dlq_name = {"Fn::GetAtt": ["JobsDLQ", "QueueName"]}
    watching = [a for a in alarms if a["Properties"].get("Dimensions", [{}])[0].get("Value") == dlq_name]
    assert len(watching) == 1
    props = watching[0]["Properties"]
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["AlarmActions"]


def test_tokens_are_sealed_with_a_rotating_key_that_has_an_alias(template):
    key = template["Resources"]["TokensKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    aliases = resources_of_type(template, "AWS::KMS::Alias").values()
    assert [a["Properties"]["TargetKeyId"] for a in aliases] == [{"Ref": "TokensKey"}]


def test_each_function_gets_only_the_permissions_it_needs(template):
    for folder in FUNCTIONS:
        policies = function_resource(template, folder)["Properties"]["Policies"]
        assert {"Ref": "UseTableItemsPolicy"} in policies, folder
        assert not [p for p in policies if isinstance(p, dict) and "DynamoDBCrudPolicy" in p], folder
        assert {"Ref": "ReadSecretsPolicy"} in policies, folder
        assert ({"Ref": "UseTokensKeyPolicy"} in policies) == (folder in TOKEN_USERS), folder
        sends = {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["JobsQueue", "QueueName"]}}}
        assert (sends in policies) == (folder in ENQUEUERS), folder


def test_the_shared_policies_name_the_one_secret_and_the_one_key(template):
    secrets = template["Resources"]["ReadSecretsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert secrets == [{
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
                                "secret:${SecretsName}-??????"},
    }]
    key = template["Resources"]["UseTokensKeyPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert key == [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
                    "Resource": {"Fn::GetAtt": ["TokensKey", "Arn"]},
                    "Condition": {"Null": {f"kms:EncryptionContext:{PORTAL_CONTEXT}": "false"}}}]
    table = template["Resources"]["UseTableItemsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert table == [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                                                    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
                                                    "dynamodb:ConditionCheckItem"],
                      "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
                     {"Effect": "Allow", "Action": ["dynamodb:Query"],
                      "Resource": {"Fn::Sub": "${Table.Arn}/index/*"}}]


def test_the_tokens_key_refuses_everyone_a_use_without_a_portal(template):
    denies = [s for s in template["Resources"]["TokensKey"]["Properties"]["KeyPolicy"]["Statement"]
              if s["Effect"] == "Deny"]
    assert denies == [{"Sid": "OnlyForAPortal", "Effect": "Deny", "Principal": "*",
                       "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                       "Resource": "*",
                       "Condition": {"Null": {f"kms:EncryptionContext:{PORTAL_CONTEXT}": "true"}}}]


def test_the_outputs_give_the_api_url_queues_and_table(template):
    assert {"ApiUrl", "JobsQueueUrl", "JobsDLQUrl", "TableName"} <= set(template["Outputs"])


def test_the_parameters_cover_the_apps_secrets_and_api_urls_with_real_defaults(template):
    params = template["Parameters"]
    assert {"HubSpotClientId", "HubSpotAppId", "FortnoxClientId", "FortnoxServiceAccount", "SecretsName",
            "PublicBaseUrl", "LogLevel"} <= set(params)
    assert params["FortnoxServiceAccount"]["AllowedValues"] == ["true", "false"]
    assert params["HubSpotApiUrl"]["Default"] == "https://api.hubapi.com"
    assert params["HubSpotAuthUrl"]["Default"] == "https://app.hubspot.com"
    assert params["FortnoxApiUrl"]["Default"] == "https://api.fortnox.se"
    assert params["FortnoxAuthUrl"]["Default"] == "https://apps.fortnox.se"


def test_every_route_has_a_real_shaped_sample_event(template):
    """events/ holds an API Gateway v2 event for each route, for the tests and `sam local invoke`."""
    import json

    samples = [json.loads(path.read_text()) for path in (REPO_ROOT / "events").glob("*.json")]
    covered = {sample["routeKey"] for sample in samples if sample.get("version") == "2.0"}
    routes = {route.route_key for route in Gateway.from_template(REPO_ROOT / "template.yaml").routes}
    assert routes - covered == set()
    for sample in samples:
        if sample.get("version") == "2.0":
            assert sample["requestContext"]["routeKey"] == sample["routeKey"]
            assert sample["requestContext"]["http"]["path"] == sample["rawPath"]
