"""The Logger, Tracer and Metrics every module shares (one service name: hubnox)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "hubnox"
#: the CloudWatch namespace of every hubnox metric (template.yaml's alarms and dashboard read it)
NAMESPACE = "hubnox"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
