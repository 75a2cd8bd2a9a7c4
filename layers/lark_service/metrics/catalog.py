"""Every metric the service emits, defined once.

The functions emit these names through Powertools (EMF), the local receiver maps EMF back to
Prometheus through this table, and the CloudWatch exporter config, recording rules and dashboard
are rendered from it, so a metric cannot be renamed in one place and forgotten in another.
Dimensions stay low-cardinality: never ids, only bounded sets such as reason or event type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

NAMESPACE = "LarkService"
PROM_PREFIX = "lark_service_"
RECORD_PREFIX = "lark_service:"

PromType = Literal["counter", "histogram", "gauge"]
EmfUnit = Literal["Count", "Seconds", "Milliseconds", "None"]

CLOUDWATCH_PERIOD_SECONDS = 60
"""The CloudWatch exporter asks for one-minute statistics; a ``Sum`` divided by this is a rate."""
CLOUDWATCH_DELAY_SECONDS = 600
"""CloudWatch statistics settle late; the exporter reads periods this old (its default)."""
PERCENTILES = (0.95, 0.99)
"""Quantiles the dashboard shows: buckets locally, CloudWatch extended statistics in production."""

LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Lark's webhook deadline is 3 s and its API calls take tens of milliseconds: resolution where it matters."""


@dataclass(frozen=True, slots=True)
class MetricDef:
    emf_name: str
    unit: EmfUnit
    dimensions: tuple[str, ...]
    prom_name: str
    prom_type: PromType
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS

    @property
    def base_name(self) -> str:
        """The Prometheus name without prefix and type suffix: the stem of every recorded series."""
        name = self.prom_name.removeprefix(PROM_PREFIX)
        return name.removesuffix("_total") if self.prom_type == "counter" else name

    @property
    def cloudwatch_name(self) -> str:
        """The series name prometheus/cloudwatch_exporter gives this metric, without statistic suffix."""
        return f"{snake_case(NAMESPACE)}_{snake_case(self.emf_name)}"

    @property
    def cloudwatch_statistics(self) -> tuple[str, ...]:
        """What the exporter fetches: sums for counts, percentiles for durations, the minimum for gauges."""
        if self.prom_type == "counter":
            return ("Sum",)
        if self.prom_type == "histogram":
            return ("SampleCount", "Sum")
        return ("Minimum", "Maximum")

    @property
    def cloudwatch_extended_statistics(self) -> tuple[str, ...]:
        if self.prom_type == "histogram":
            return tuple(percentile_name(q) for q in PERCENTILES)
        return ()


@dataclass(frozen=True, slots=True)
class AwsMetricDef:
    """A metric AWS publishes for our resources, fetched by the CloudWatch exporter in production."""

    namespace: str
    name: str
    dimension: str
    select_regex: str
    statistics: tuple[str, ...]
    help: str

    def cloudwatch_series(self, statistic: str) -> str:
        return f"{snake_case(self.namespace)}_{snake_case(self.name)}_{snake_case(statistic)}"


def snake_case(name: str) -> str:
    """CamelCase to snake_case the way prometheus/cloudwatch_exporter names series and labels."""
    name = name.replace("/", "_")
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"[^a-zA-Z0-9_]", "_", name).lower()


def percentile_name(quantile: float) -> str:
    return f"p{round(quantile * 100)}"


def _def(
    emf: str,
    unit: EmfUnit,
    dims: tuple[str, ...],
    prom: str,
    kind: PromType,
    help_: str,
    buckets: tuple[float, ...] = LATENCY_BUCKETS,
) -> MetricDef:
    return MetricDef(emf, unit, dims, PROM_PREFIX + prom, kind, help_, buckets)


CATALOG: tuple[MetricDef, ...] = (
    # The series of the service this bundle replaces (names kept).
    _def(
        "ApiRequests",
        "Count",
        ("method", "endpoint", "status"),
        "api_requests_total",
        "counter",
        "Calls to the Lark Open API by method, endpoint and HTTP status.",
    ),
    _def(
        "ApiRequestDuration",
        "Seconds",
        ("method", "endpoint"),
        "api_request_duration_seconds",
        "histogram",
        "Duration of calls to the Lark Open API.",
    ),
    _def(
        "AuthRateLimitTriggered",
        "Count",
        ("endpoint",),
        "auth_rate_limit_triggered_total",
        "counter",
        "Lark answered with a rate limit (HTTP 429, or code 99991400 / 230020 at any status).",
    ),
    _def(
        "TokenRefreshRetry",
        "Count",
        ("token_type",),
        "token_refresh_retry_total",
        "counter",
        "Token refresh attempts that were retried after a transient failure.",
    ),
    _def(
        "TokenRefreshSuccess",
        "Count",
        ("token_type",),
        "token_refresh_success_total",
        "counter",
        "Tokens fetched and stored.",
    ),
    _def(
        "TokenRefreshFailure",
        "Count",
        ("token_type", "reason"),
        "token_refresh_failure_total",
        "counter",
        "Token refreshes that gave up; the previous token stays in place.",
    ),
    _def(
        "TokenSecondsToExpiry",
        "Seconds",
        ("token_type",),
        "token_seconds_to_expiry",
        "gauge",
        "Seconds until the stored token expires, as seen by the last refresh.",
    ),
    # The webhook.
    _def(
        "WebhookEventsReceived",
        "Count",
        ("event_type",),
        "webhook_events_received_total",
        "counter",
        "Verified pushes by event type (challenges and card callbacks included).",
    ),
    _def(
        "WebhookEventsUnhandled",
        "Count",
        ("event_type",),
        "webhook_events_unhandled_total",
        "counter",
        "Verified pushes with no registered handler: acknowledged, not enqueued.",
    ),
    _def(
        "WebhookRequestsRejected",
        "Count",
        ("reason",),
        "webhook_requests_rejected_total",
        "counter",
        "Requests refused before the ack, by reason (bad_signature, bad_token, stale, ...).",
    ),
    _def(
        "WebhookDuplicates",
        "Count",
        ("event_type",),
        "webhook_duplicates_total",
        "counter",
        "Redeliveries recognised by the de-duplication record and not enqueued again.",
    ),
    _def(
        "WebhookErrors",
        "Count",
        ("route",),
        "webhook_errors_total",
        "counter",
        "Requests answered with a 5xx (store or queue unavailable): Lark retries them.",
    ),
    _def(
        "WebhookAckDuration",
        "Seconds",
        ("route",),
        "webhook_ack_duration_seconds",
        "histogram",
        "Time from request arrival to the reply Lark sees, for every reply (the error ratio's denominator).",
    ),
    # The worker.
    _def(
        "WorkerEventsProcessed",
        "Count",
        ("event_type",),
        "worker_events_processed_total",
        "counter",
        "Events whose handler ran to completion.",
    ),
    _def(
        "WorkerEventsFailed",
        "Count",
        ("event_type",),
        "worker_events_failed_total",
        "counter",
        "Handler runs that raised; the message returns to the queue.",
    ),
    _def(
        "WorkerEventsDeadLettered",
        "Count",
        ("event_type",),
        "worker_events_dead_lettered_total",
        "counter",
        "Failures on the last allowed receive: the message goes to the DLQ next.",
    ),
    # Every function.
    _def(
        "ColdStart",
        "Count",
        ("function_name",),
        "lambda_cold_starts_total",
        "counter",
        "Lambda cold starts (Powertools' cold-start metric).",
    ),
)

BY_EMF_NAME: dict[str, MetricDef] = {m.emf_name: m for m in CATALOG}

FUNCTION_NAME_REGEX = "lark-service-.*"
"""template.yaml names every function and queue ``lark-service-<stage>-...``."""
DEAD_LETTER_QUEUE_REGEX = ".*-dlq"

AWS_METRICS: tuple[AwsMetricDef, ...] = (
    AwsMetricDef("AWS/Lambda", "Invocations", "FunctionName", FUNCTION_NAME_REGEX, ("Sum",), "Invocations."),
    AwsMetricDef(
        "AWS/Lambda", "Errors", "FunctionName", FUNCTION_NAME_REGEX, ("Sum",), "Invocations that raised."
    ),
    AwsMetricDef(
        "AWS/Lambda", "Throttles", "FunctionName", FUNCTION_NAME_REGEX, ("Sum",), "Throttled invocations."
    ),
    AwsMetricDef(
        "AWS/Lambda",
        "Duration",
        "FunctionName",
        FUNCTION_NAME_REGEX,
        ("Average", "Maximum"),
        "Run time (ms).",
    ),
    AwsMetricDef(
        "AWS/Lambda",
        "ConcurrentExecutions",
        "FunctionName",
        FUNCTION_NAME_REGEX,
        ("Maximum",),
        "Concurrency.",
    ),
    AwsMetricDef(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        FUNCTION_NAME_REGEX,
        ("Maximum",),
        "Messages waiting (the DLQ's should be zero).",
    ),
    AwsMetricDef(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "QueueName",
        FUNCTION_NAME_REGEX,
        ("Maximum",),
        "Age of the oldest waiting message (s).",
    ),
    AwsMetricDef(
        "AWS/SQS", "NumberOfMessagesSent", "QueueName", FUNCTION_NAME_REGEX, ("Sum",), "Messages enqueued."
    ),
)

QUEUE_DEPTH_METRIC = PROM_PREFIX + "sqs_messages_visible"
"""The local stand-in for AWS/SQS ``ApproximateNumberOfMessagesVisible``: the receiver polls the queue."""
QUEUE_DEPTH_AWS = next(m for m in AWS_METRICS if m.name == "ApproximateNumberOfMessagesVisible")
