"""Every metric the service emits, defined once.

The functions emit these names through Powertools (EMF), the local receiver maps EMF back to
Prometheus through this table, and the CloudWatch exporter config, recording rules, alerts and
dashboard are rendered from it, so a metric cannot be renamed in one place and forgotten in
another. Dimensions stay low-cardinality: never ids, only bounded sets such as reason or event type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lark_service.metrics import cloudwatch_exporter as exporter

NAMESPACE = "LarkService"
PROM_PREFIX = "lark_service_"

PromType = Literal["counter", "histogram", "gauge"]
EmfUnit = Literal["Count", "Seconds", "Milliseconds", "None"]
Service = Literal["webhook", "worker", "token_refresh"]

POWERTOOLS_DIMENSIONS: tuple[str, ...] = ("service",)
"""Powertools adds ``service`` (``POWERTOOLS_SERVICE_NAME``, template.yaml sets one per function)
to every metric it prints, so CloudWatch stores each metric under its own dimensions plus these.
The CloudWatch exporter and the alarms must name exactly that set, or they read nothing."""

EXPORTER = exporter.Timing(period_seconds=60, range_seconds=60, delay_seconds=600, set_timestamp=True)
"""How the CloudWatch exporter reads LarkService (monitoring/cloudwatch-exporter/config.yml).

* ``period_seconds: 60``: EMF metrics are standard resolution, one-minute statistics.
* ``delay_seconds: 600``: the exporter's default; CloudWatch statistics converge late, and a
  period read before it has converged is never read again (below).
* ``set_timestamp: true``: each sample carries its period's own timestamp. The exporter exports
  the newest datapoint of its window on every scrape; when a later minute has no data (a sparse
  counter) the same datapoint comes back, and Prometheus stores a repeated (timestamp, value)
  once. Stamped at scrape time instead, one event would be counted on every scrape that sees it.
* ``range_seconds: 60``: one period. With one scrape a period every minute is the newest of
  exactly one scrape; a wider range adds nothing (only the newest datapoint is used).
"""
CLOUDWATCH_SCRAPE_INTERVAL_SECONDS = 60
"""prometheus.yml's ``cloudwatch`` job: one scrape a period, every scrape a billed round of calls."""
CLOUDWATCH_LAG_SECONDS = EXPORTER.delay_seconds + EXPORTER.period_seconds + CLOUDWATCH_SCRAPE_INTERVAL_SECONDS
"""The period starting at T is complete at T + period, read by the first scrape after T + period
+ delay, and stored by T + period + delay + one scrape interval: rules read CloudWatch series
this far back (``offset``), where every period is already in."""
PERCENTILES = (0.95, 0.99)
"""Quantiles the dashboard shows: buckets locally, CloudWatch extended statistics in production."""

LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Lark's webhook deadline is 3 s and its API calls take tens of milliseconds: resolution where it matters."""


@dataclass(frozen=True, slots=True)
class MetricDef:
    emf_name: str
    unit: EmfUnit
    dimensions: tuple[str, ...]
    """The dimensions the code passes to ``emit`` (Powertools adds ``POWERTOOLS_DIMENSIONS``)."""
    prom_name: str
    prom_type: PromType
    help: str
    emitters: tuple[Service, ...]
    """The functions (their ``service`` dimension) that emit it."""
    buckets: tuple[float, ...] = LATENCY_BUCKETS

    @property
    def base_name(self) -> str:
        """The Prometheus name without the counter's ``_total``: the metric part of a recorded name."""
        return self.prom_name.removesuffix("_total") if self.prom_type == "counter" else self.prom_name

    @property
    def emitted_dimensions(self) -> tuple[str, ...]:
        """The dimension set CloudWatch stores the metric under (the exporter's ``aws_dimensions``)."""
        return (*self.dimensions, *POWERTOOLS_DIMENSIONS)

    @property
    def cloudwatch_statistics(self) -> tuple[str, ...]:
        """What the rules read: sums for counts, the sample count of durations, the minimum of gauges."""
        if self.prom_type == "counter":
            return ("Sum",)
        if self.prom_type == "histogram":
            return ("SampleCount",)
        return ("Minimum",)

    @property
    def cloudwatch_extended_statistics(self) -> tuple[str, ...]:
        if self.prom_type == "histogram":
            return tuple(percentile_name(q) for q in PERCENTILES)
        return ()

    def cloudwatch_series(self, statistic: str) -> str:
        """The series prometheus/cloudwatch_exporter exports for one statistic of this metric."""
        return exporter.series_name(NAMESPACE, self.emf_name, statistic)


@dataclass(frozen=True, slots=True)
class AwsMetricDef:
    """A metric AWS publishes for our resources, fetched by the CloudWatch exporter in production."""

    namespace: str
    name: str
    dimension: str
    select_regex: str
    statistic: str
    help: str

    @property
    def cloudwatch_series(self) -> str:
        return exporter.series_name(self.namespace, self.name, self.statistic)

    @property
    def label(self) -> str:
        return exporter.label_name(self.dimension)


def percentile_name(quantile: float) -> str:
    return f"p{round(quantile * 100)}"


def _def(
    emf: str,
    unit: EmfUnit,
    dims: tuple[str, ...],
    prom: str,
    kind: PromType,
    help_: str,
    emitters: tuple[Service, ...],
) -> MetricDef:
    return MetricDef(emf, unit, dims, PROM_PREFIX + prom, kind, help_, emitters)


LARK_CALLERS: tuple[Service, ...] = ("worker", "token_refresh")
"""Functions that call the Lark Open API (the worker's handlers, the token refresh)."""

CATALOG: tuple[MetricDef, ...] = (
    # The series of the service this bundle replaces (names kept).
    _def(
        "ApiRequests",
        "Count",
        ("method", "endpoint", "status"),
        "api_requests_total",
        "counter",
        "Calls to the Lark Open API by method, endpoint and HTTP status.",
        LARK_CALLERS,
    ),
    _def(
        "ApiRequestDuration",
        "Seconds",
        ("method", "endpoint"),
        "api_request_duration_seconds",
        "histogram",
        "Duration of calls to the Lark Open API.",
        LARK_CALLERS,
    ),
    _def(
        "AuthRateLimitTriggered",
        "Count",
        ("endpoint",),
        "auth_rate_limit_triggered_total",
        "counter",
        "Lark answered with a rate limit (HTTP 429, or code 99991400 / 230020 at any status).",
        LARK_CALLERS,
    ),
    _def(
        "TokenRefreshRetry",
        "Count",
        ("token_type",),
        "token_refresh_retry_total",
        "counter",
        "Token refresh attempts that were retried after a transient failure.",
        ("token_refresh",),
    ),
    _def(
        "TokenRefreshSuccess",
        "Count",
        ("token_type",),
        "token_refresh_success_total",
        "counter",
        "Tokens fetched and stored.",
        ("token_refresh",),
    ),
    _def(
        "TokenRefreshFailure",
        "Count",
        ("token_type", "reason"),
        "token_refresh_failure_total",
        "counter",
        "Token refreshes that gave up; the previous token stays in place.",
        ("token_refresh",),
    ),
    _def(
        "TokenSecondsToExpiry",
        "Seconds",
        ("token_type",),
        "token_seconds_to_expiry",
        "gauge",
        "Seconds until the stored token expires, as seen by the last refresh.",
        ("token_refresh",),
    ),
    # The webhook.
    _def(
        "WebhookEventsReceived",
        "Count",
        ("event_type",),
        "webhook_events_received_total",
        "counter",
        "Verified pushes by event type (challenges and card callbacks included).",
        ("webhook",),
    ),
    _def(
        "WebhookRequestsRejected",
        "Count",
        ("reason",),
        "webhook_requests_rejected_total",
        "counter",
        "Requests refused before the ack, by reason (bad_signature, bad_token, stale, ...).",
        ("webhook",),
    ),
    _def(
        "WebhookDuplicates",
        "Count",
        ("event_type",),
        "webhook_duplicates_total",
        "counter",
        "Redeliveries recognised by the de-duplication record and not enqueued again.",
        ("webhook",),
    ),
    _def(
        "WebhookErrors",
        "Count",
        ("route",),
        "webhook_errors_total",
        "counter",
        "Requests answered with a 5xx (store or queue unavailable): Lark retries them.",
        ("webhook",),
    ),
    _def(
        "WebhookAckDuration",
        "Seconds",
        ("route",),
        "webhook_ack_duration_seconds",
        "histogram",
        "Time from request arrival to the reply Lark sees, for every reply (the error ratio's denominator).",
        ("webhook",),
    ),
    # The worker.
    _def(
        "WorkerEventsProcessed",
        "Count",
        ("event_type",),
        "worker_events_processed_total",
        "counter",
        "Events whose handler ran to completion.",
        ("worker",),
    ),
    _def(
        "WorkerEventsUnhandled",
        "Count",
        ("event_type",),
        "worker_events_unhandled_total",
        "counter",
        "Queued events no handler is registered for: counted and dropped, never retried.",
        ("worker",),
    ),
    _def(
        "WorkerEventsFailed",
        "Count",
        ("event_type",),
        "worker_events_failed_total",
        "counter",
        "Handler runs that raised; the message returns to the queue.",
        ("worker",),
    ),
    _def(
        "WorkerEventsDeadLettered",
        "Count",
        ("event_type",),
        "worker_events_dead_lettered_total",
        "counter",
        "Events sent to the DLQ: hopeless ones at once, others failing on their last allowed receive.",
        ("worker",),
    ),
    _def(
        "WorkerEventsDeferred",
        "Count",
        ("event_type", "reason"),
        "worker_events_deferred_total",
        "counter",
        "Events put back on the queue: rate_limited (a new delayed message) or out_of_time (not started).",
        ("worker",),
    ),
    # Every function.
    _def(
        "ColdStart",
        "Count",
        ("function_name",),
        "lambda_cold_starts_total",
        "counter",
        "Lambda cold starts (Powertools' cold-start metric).",
        ("webhook", "worker", "token_refresh"),
    ),
)

BY_EMF_NAME: dict[str, MetricDef] = {m.emf_name: m for m in CATALOG}

DEAD_LETTER_QUEUE_REGEX = ".*-dlq"
"""Which queues the DLQ panel and alert show (every stack names its dead-letter queue ``...-dlq``)."""
STACK_QUEUE_REGEX = "lark-service-.*-dlq"
"""template.yaml names the dead-letter queue ``lark-service-<stage>-events-dlq``: the exporter
fetches only those queues' depth."""

QUEUE_DEPTH_AWS = AwsMetricDef(
    "AWS/SQS",
    "ApproximateNumberOfMessagesVisible",
    "QueueName",
    STACK_QUEUE_REGEX,
    "Maximum",
    "Messages waiting in the dead-letter queue (the DLQ Depth panel and its alert).",
)
AWS_METRICS: tuple[AwsMetricDef, ...] = (QUEUE_DEPTH_AWS,)
"""AWS metrics the exporter fetches: only what a rule, panel or alert reads (each is billed).
The template's alarms watch more (Lambda, the events queue's age) in CloudWatch itself."""

QUEUE_DEPTH_METRIC = PROM_PREFIX + "sqs_messages_visible"
"""The local stand-in for AWS/SQS ``ApproximateNumberOfMessagesVisible``: the receiver polls the queue."""
