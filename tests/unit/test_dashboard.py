"""template.yaml's operator dashboard and run-failure alarm, held to the metrics the code publishes.

The dashboard body is JSON inside a `!Sub`: it is resolved here with made-up values (every name it
substitutes must be the template's) and parsed, so a stray comma or quote fails here and not in a
deploy. The metric names the layer and the functions publish in the hubnox namespace and those on the
dashboard must be the same set, so a new metric gets a widget and a widget never shows nothing.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, get_args

import pytest

from hubnox.observability import NAMESPACE
from hubnox.records import RunKind
from sandbox.gateway import read_template
from tests.support.functions import REPO_ROOT

PSEUDO = {"AWS::Region": "eu-north-1", "AWS::StackName": "hubnox-test", "AWS::AccountId": "123456789012",
          "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
SOURCES = [REPO_ROOT / "layers" / "core" / "hubnox", REPO_ROOT / "functions"]
#: the calls that publish a metric, and where each takes the metric's name
PUBLISHERS = {"add_metric": "name", "single_metric": "name", "emit_count": 0}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return read_template()


def substitute(template: dict[str, Any], text: str) -> str:
    """`text` as `!Sub` makes it, with a made-up value for each pseudo parameter, resource and
    attribute; a name the template does not have fails."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in PSEUDO:
            return PSEUDO[name]
        resource, _, attribute = name.partition(".")
        assert resource in template["Resources"], f"${{{name}}} names no resource of the template"
        kind = template["Resources"][resource]["Type"]
        if attribute == "Arn":
            return f"arn:aws:{kind.split('::')[1].lower()}:eu-north-1:123456789012:{resource}"
        return f"hubnox-test-{resource}{'-' + attribute if attribute else ''}"

    return re.sub(r"\$\{([^}]+)\}", value, text)


@pytest.fixture(scope="module")
def dashboard(template) -> dict[str, Any]:
    props = template["Resources"]["OperatorDashboard"]["Properties"]
    body = props["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    return dict(json.loads(substitute(template, body)))


def dashboard_metrics(dashboard: dict[str, Any]) -> list[list[Any]]:
    return [line for widget in dashboard["widgets"] if widget["type"] == "metric"
            for line in widget["properties"]["metrics"]]


def names_on_dashboard(dashboard: dict[str, Any]) -> set[str]:
    """The hubnox metric names the dashboard graphs, as metrics or in SEARCH expressions."""
    names = set()
    for line in dashboard_metrics(dashboard):
        if line[0] == NAMESPACE:
            names.add(line[1])
        elif isinstance(line[0], dict) and "expression" in line[0]:
            expression = line[0]["expression"]
            if "{" + NAMESPACE + "," in expression:
                names.update(re.findall(r'MetricName="(\w+)"', expression))
    return names


def names_published() -> set[str]:
    """The metric names the code publishes: the literal name of every publishing call."""
    names = set()
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                where = PUBLISHERS.get(str(called))
                if where is None:
                    continue
                if isinstance(where, int):
                    argument = node.args[where] if len(node.args) > where else None
                else:
                    argument = next((k.value for k in node.keywords if k.arg == where), None)
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    names.add(argument.value)
    return names


def test_the_dashboard_body_is_json_once_substituted(template, dashboard):
    assert template["Resources"]["OperatorDashboard"]["Type"] == "AWS::CloudWatch::Dashboard"
    assert dashboard["widgets"]
    for widget in dashboard["widgets"]:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(widget)
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == PSEUDO["AWS::Region"]


def test_every_metric_the_code_publishes_is_on_the_dashboard_and_nothing_else_from_hubnox(dashboard):
    published = names_published()
    assert {"JobsExhausted", "OutcomesNotDelivered", "RunsFailedByCode", "RunsReplayed"} <= published  # the scan works
    assert names_on_dashboard(dashboard) == published


def test_runs_are_graphed_for_every_kind_and_failures_by_code_through_a_search(dashboard):
    kinds = set(get_args(RunKind))
    for name in ("RunsSucceeded", "RunsFailed"):
        graphed = {line[5] for line in dashboard_metrics(dashboard) if line[:2] == [NAMESPACE, name]}
        assert graphed == kinds, name
    [search] = [line[0]["expression"] for line in dashboard_metrics(dashboard) if isinstance(line[0], dict)]
    assert search.startswith("SORT(SEARCH('{hubnox,ErrorCode,service} MetricName=\"RunsFailedByCode\"'")


def test_the_queues_the_worker_and_every_alarm_are_on_the_dashboard(template, dashboard):
    lines = [line[:4] for line in dashboard_metrics(dashboard)]
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "hubnox-test-JobsDLQ-QueueName"] in lines
    assert ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "hubnox-test-JobsQueue-QueueName"] in lines
    for metric in ("Errors", "Throttles", "Duration"):
        assert ["AWS/Lambda", metric, "FunctionName", "hubnox-test-WorkerFunction"] in lines
    alarms = {lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    [shown] = [w["properties"]["alarms"] for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert {arn.rsplit(":", 1)[1] for arn in shown} == alarms


def test_the_failing_runs_alarm_sums_every_kind_and_tells_the_alarm_topic(template):
    props = template["Resources"]["RunsFailingAlarm"]["Properties"]
    stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    for name in ("RunsSucceeded", "RunsFailed"):
        kinds = {d["Value"] for s in stats if s["MetricName"] == name for d in s["Dimensions"] if d["Name"] == "Kind"}
        assert kinds == set(get_args(RunKind)), name
    assert all(s["Namespace"] == NAMESPACE for s in stats)
    ids = {m["Id"] for m in props["Metrics"]}
    expressions = " ".join(m.get("Expression", "") for m in props["Metrics"])
    assert all(re.search(rf"\b{m['Id']}\b", expressions) for m in props["Metrics"] if "MetricStat" in m), ids
    assert [m["Id"] for m in props["Metrics"] if m.get("ReturnData", True)] == ["failing"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_dashboard_is_named_after_the_stack_and_its_url_is_an_output(template):
    props = template["Resources"]["OperatorDashboard"]["Properties"]
    assert substitute(template, props["DashboardName"]["Fn::Sub"]) == "hubnox-test-operations"
    assert "OperatorDashboard" in template["Outputs"]["OperatorDashboardUrl"]["Value"]["Fn::Sub"]


def test_the_substitution_refuses_a_name_the_template_does_not_have(template):
    with pytest.raises(AssertionError):
        substitute(template, '{"queue": "${NoSuchQueue.QueueName}"}')
