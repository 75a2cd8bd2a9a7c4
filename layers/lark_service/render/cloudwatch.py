"""The prometheus/cloudwatch_exporter configuration for production.

``set_timestamp: false`` matters: CloudWatch statistics are read ``delay_seconds`` late, and with
their own timestamps they would fall outside Prometheus' five-minute lookback and never be seen
by an instant query. Stamped at scrape time they are simply ten minutes behind.
"""

from __future__ import annotations

from lark_service.metrics.catalog import (
    AWS_METRICS,
    CATALOG,
    CLOUDWATCH_DELAY_SECONDS,
    CLOUDWATCH_PERIOD_SECONDS,
    NAMESPACE,
)

DEFAULT_REGION = "us-east-1"


def render_cloudwatch_config() -> dict[str, object]:
    metrics: list[dict[str, object]] = []
    for spec in CATALOG:
        entry: dict[str, object] = {
            "aws_namespace": NAMESPACE,
            "aws_metric_name": spec.emf_name,
            "aws_dimensions": list(spec.dimensions),
            "aws_statistics": list(spec.cloudwatch_statistics),
        }
        if spec.cloudwatch_extended_statistics:
            entry["aws_extended_statistics"] = list(spec.cloudwatch_extended_statistics)
        metrics.append(entry)
    for aws in AWS_METRICS:
        metrics.append(
            {
                "aws_namespace": aws.namespace,
                "aws_metric_name": aws.name,
                "aws_dimensions": [aws.dimension],
                "aws_dimension_select_regex": {aws.dimension: [aws.select_regex]},
                "aws_statistics": list(aws.statistics),
            }
        )
    return {
        "region": DEFAULT_REGION,
        "period_seconds": CLOUDWATCH_PERIOD_SECONDS,
        "range_seconds": CLOUDWATCH_DELAY_SECONDS,
        "delay_seconds": CLOUDWATCH_DELAY_SECONDS,
        "set_timestamp": False,
        "metrics": metrics,
    }
