"""The Logger, Tracer and Metrics every module shares (one service name: hubnox)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "hubnox"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="hubnox", service=SERVICE)
