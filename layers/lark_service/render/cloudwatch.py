"""The prometheus/cloudwatch_exporter configuration for production.

Each ``LarkService`` metric is fetched under exactly the dimension set the functions emit (the
catalog's plus Powertools' ``service``: the exporter's ListMetrics keeps only metrics with as many
dimensions as ``aws_dimensions``), with only the statistics a rule reads. Period, range, delay and
``set_timestamp`` are ``catalog.EXPORTER``, explained there. The exporter's default API,
GetMetricStatistics, stays: one request per metric and dimension combination, whatever the
number of statistics (GetMetricData bills each statistic as a metric).
"""

from __future__ import annotations

from lark_service.metrics.catalog import AWS_METRICS, CATALOG, EXPORTER, NAMESPACE

DEFAULT_REGION = "us-east-1"


def render_cloudwatch_config() -> dict[str, object]:
    metrics: list[dict[str, object]] = []
    for spec in CATALOG:
        entry: dict[str, object] = {
            "aws_namespace": NAMESPACE,
            "aws_metric_name": spec.emf_name,
            "aws_dimensions": list(spec.emitted_dimensions),
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
                "aws_statistics": [aws.statistic],
            }
        )
    return {
        "region": DEFAULT_REGION,
        "period_seconds": EXPORTER.period_seconds,
        "range_seconds": EXPORTER.range_seconds,
        "delay_seconds": EXPORTER.delay_seconds,
        "set_timestamp": EXPORTER.set_timestamp,
        "metrics": metrics,
    }
