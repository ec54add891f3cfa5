"""CloudWatch alarms of `template.yaml`, evaluated against the local stack.

Locally there is no CloudWatch. An alarm on an SQS queue metric is evaluated from the queue as moto
holds it, now (the datapoint the next period would report); an alarm on any other metric has no
local data and is INSUFFICIENT_DATA, as a fresh alarm is on AWS.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

#: the SQS metrics CloudWatch publishes per queue, and the queue attribute each is read from
SQS_METRICS = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
EVALUATED = ("Namespace", "MetricName", "Dimensions", "Threshold", "ComparisonOperator")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def evaluate_alarms(template: Mapping[str, Any], resolve: Callable[[Any], Any], sqs: Any) -> dict[str, Any]:
    """Every AWS::CloudWatch::Alarm of `template` by logical id: its metric, the metric's value now
    (None without local data) and the state that value puts it in (ALARM, OK, INSUFFICIENT_DATA)."""
    alarms: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        # Only what the evaluation reads: the actions name an SNS topic the local stack does not make.
        props = {name: resolve(value) for name, value in resource.get("Properties", {}).items()
                 if name in EVALUATED}
        dimensions = {d["Name"]: str(d["Value"]) for d in props.get("Dimensions", [])}
        value = _metric_value(props.get("Namespace"), props.get("MetricName"), dimensions, sqs)
        compare = COMPARISONS.get(str(props.get("ComparisonOperator")))
        if value is None or compare is None:
            state = "INSUFFICIENT_DATA"
        else:
            state = "ALARM" if compare(value, float(props["Threshold"])) else "OK"
        alarms[logical_id] = {"namespace": props.get("Namespace"), "metric": props.get("MetricName"),
                              "dimensions": dimensions, "threshold": float(props.get("Threshold", 0)),
                              "comparison": props.get("ComparisonOperator"), "value": value, "state": state}
    return alarms


def _metric_value(namespace: Any, metric: Any, dimensions: Mapping[str, str], sqs: Any) -> float | None:
    if namespace != "AWS/SQS" or metric not in SQS_METRICS or "QueueName" not in dimensions:
        return None
    url = sqs.get_queue_url(QueueName=dimensions["QueueName"])["QueueUrl"]
    attribute = SQS_METRICS[str(metric)]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])["Attributes"]
    return float(found.get(attribute, 0))
