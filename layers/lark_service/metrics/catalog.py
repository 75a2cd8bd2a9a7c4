"""Every metric the service emits, defined once.

The functions emit these names through Powertools (EMF), the local receiver maps EMF back to
Prometheus through this table, and the CloudWatch exporter config, recording rules and dashboard
are rendered from it, so a metric cannot be renamed in one place and forgotten in another.
Dimensions stay low-cardinality: never ids, only bounded sets such as reason or event type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NAMESPACE = "LarkService"
PROM_PREFIX = "lark_service_"

PromType = Literal["counter", "histogram", "gauge"]
EmfUnit = Literal["Count", "Seconds", "Milliseconds", "None"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    emf_name: str
    unit: EmfUnit
    dimensions: tuple[str, ...]
    prom_name: str
    prom_type: PromType
    help: str


def _def(emf: str, unit: EmfUnit, dims: tuple[str, ...], prom: str, kind: PromType, help_: str) -> MetricDef:
    return MetricDef(emf, unit, dims, PROM_PREFIX + prom, kind, help_)


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
        "Lark answered with a rate limit (HTTP 429 or code 99991400).",
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
        "WebhookAckDuration",
        "Seconds",
        ("route",),
        "webhook_ack_duration_seconds",
        "histogram",
        "Time from request arrival to the reply Lark sees.",
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
