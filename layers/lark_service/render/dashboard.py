"""The Grafana dashboard, built as code with grafana-foundation-sdk.

Every query reads a recorded series (``render.rules``), never a raw one, so the same dashboard
works over the local receiver and over the CloudWatch exporter. The panels of the service this
bundle replaces come first, with their titles, thresholds, refresh and time range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from lark_service.metrics.catalog import BY_EMF_NAME, DEAD_LETTER_QUEUE_REGEX, PERCENTILES
from lark_service.render.rules import (
    API_ERROR_RATIO,
    DLQ_DEPTH,
    WEBHOOK_ERROR_RATIO,
    gauge_series,
    percentile_series,
    rate_series,
)

UID = "lark-service-main"
TITLE = "Lark Service"
TAGS = ["lark-service", "monitoring"]
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")


def rate(emf_name: str) -> str:
    return rate_series(BY_EMF_NAME[emf_name])


def p95(emf_name: str) -> str:
    return percentile_series(BY_EMF_NAME[emf_name], PERCENTILES[0])


def p99(emf_name: str) -> str:
    return percentile_series(BY_EMF_NAME[emf_name], PERCENTILES[1])


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


def _target(ref_id: str, query: Query) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .ref_id(ref_id)
        .expr(query.expr)
        .legend_format(query.legend)
        .datasource(DATASOURCE)
    )


def _with_targets(panel: timeseries.Panel | gauge.Panel | stat.Panel, queries: list[Query]) -> None:
    for index, query in enumerate(queries):
        panel.with_target(_target(chr(ord("A") + index), query))


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def _series(
    title: str, description: str, unit: str, queries: list[Query], width: int = 12
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(8)
        .span(width)
        .fill_opacity(10)
    )
    _with_targets(panel, queries)
    return panel


def _error_gauge(title: str, description: str, query: Query) -> gauge.Panel:
    """Green below 1 %, yellow below 5 %, red from 5 %: the replaced service's error-rate gauge."""
    panel = (
        gauge.Panel()
        .title(title)
        .description(description)
        .unit("percentunit")
        .min(0)
        .max(0.1)
        .decimals(2)
        .datasource(DATASOURCE)
        .height(8)
        .span(8)
        .thresholds(_thresholds((None, "green"), (0.01, "yellow"), (0.05, "red")))
    )
    _with_targets(panel, [query])
    return panel


def _stat(
    title: str, description: str, unit: str, query: Query, steps: list[tuple[float | None, str]]
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(8)
        .span(8)
        .thresholds(_thresholds(*steps))
    )
    _with_targets(panel, [query])
    return panel


def build() -> model.Dashboard:
    board = (
        db.Dashboard(TITLE)
        .uid(UID)
        .tags(TAGS)
        .refresh("10s")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
        .description("Lark Open API calls, webhook pushes, the worker, tokens and the dead-letter queue.")
    )
    board.with_row(db.Row("Lark Open API"))
    board.with_panel(
        _series(
            "API Requests Rate (QPS)",
            "Calls to the Lark Open API per second, by method and endpoint.",
            "reqps",
            [Query(f"sum by (method, endpoint) ({rate('ApiRequests')})", "{{method}} {{endpoint}}")],
        )
    )
    board.with_panel(
        _series(
            "API Response Time (P95/P99)",
            "Latency of Lark Open API calls (histogram buckets locally, CloudWatch percentiles in AWS).",
            "s",
            [
                Query(
                    f"max by (method, endpoint) ({p95('ApiRequestDuration')})",
                    "P95 {{method}} {{endpoint}}",
                ),
                Query(
                    f"max by (method, endpoint) ({p99('ApiRequestDuration')})",
                    "P99 {{method}} {{endpoint}}",
                ),
            ],
        )
    )
    board.with_panel(
        _error_gauge(
            "API Error Rate",
            "Share of Lark Open API calls answered with a 5xx over the last 5 minutes.",
            Query(API_ERROR_RATIO, "error rate"),
        )
    )
    board.with_panel(
        _series(
            "API Rate Limiting",
            "Rate-limit answers from Lark (HTTP 429 or code 99991400) per second, by endpoint.",
            "ops",
            [Query(f"sum by (endpoint) ({rate('AuthRateLimitTriggered')})", "{{endpoint}}")],
            width=8,
        )
    )
    board.with_panel(
        _series(
            "Token Refresh Status",
            "Token refresh retries against successes (and refreshes that gave up), per second.",
            "ops",
            [
                Query(f"sum by (token_type) ({rate('TokenRefreshRetry')})", "retries {{token_type}}"),
                Query(f"sum by (token_type) ({rate('TokenRefreshSuccess')})", "successes {{token_type}}"),
                Query(f"sum by (token_type) ({rate('TokenRefreshFailure')})", "failures {{token_type}}"),
            ],
            width=8,
        )
    )
    board.with_row(db.Row("Webhook"))
    board.with_panel(
        _series(
            "Webhook Events",
            "Verified pushes per second by event type.",
            "ops",
            [Query(f"sum by (event_type) ({rate('WebhookEventsReceived')})", "{{event_type}}")],
        )
    )
    board.with_panel(
        _series(
            "Duplicates and Rejections",
            "Redeliveries recognised as duplicates, and requests refused before the ack by reason.",
            "ops",
            [
                Query(f"sum({rate('WebhookDuplicates')})", "duplicates"),
                Query(f"sum by (reason) ({rate('WebhookRequestsRejected')})", "rejected: {{reason}}"),
            ],
        )
    )
    board.with_panel(
        _series(
            "Webhook Ack Latency (P95/P99)",
            "Time until Lark gets its answer; Lark gives up after 3 s.",
            "s",
            [
                Query(f"max by (route) ({p95('WebhookAckDuration')})", "P95 {{route}}"),
                Query(f"max by (route) ({p99('WebhookAckDuration')})", "P99 {{route}}"),
            ],
            width=16,
        )
    )
    board.with_panel(
        _error_gauge(
            "Webhook Error Rate",
            "Share of webhook replies that were a 5xx (Lark retries those for hours).",
            Query(WEBHOOK_ERROR_RATIO, "error rate"),
        )
    )
    board.with_row(db.Row("Worker, tokens and queues"))
    board.with_panel(
        _series(
            "Worker Events",
            "Events processed, failed (retried), sent to the dead-letter queue, and dropped for want of"
            " a handler, per second.",
            "ops",
            [
                Query(f"sum by (event_type) ({rate('WorkerEventsProcessed')})", "processed {{event_type}}"),
                Query(f"sum by (event_type) ({rate('WorkerEventsUnhandled')})", "unhandled {{event_type}}"),
                Query(f"sum by (event_type) ({rate('WorkerEventsFailed')})", "failed {{event_type}}"),
                Query(
                    f"sum by (event_type) ({rate('WorkerEventsDeadLettered')})",
                    "dead-lettered {{event_type}}",
                ),
            ],
            width=24,
        )
    )
    board.with_panel(
        _stat(
            "Token Seconds to Expiry",
            "Lifetime left on each stored token at the last refresh; Lark reissues below 30 minutes.",
            "s",
            Query(
                f"min by (token_type) ({gauge_series(BY_EMF_NAME['TokenSecondsToExpiry'])})", "{{token_type}}"
            ),
            [(None, "red"), (1200, "yellow"), (1800, "green")],
        )
    )
    board.with_panel(
        _stat(
            "DLQ Depth",
            "Messages waiting in the dead-letter queue: each is an event that failed every retry.",
            "short",
            Query(
                f'max by (queue_name) ({DLQ_DEPTH}{{queue_name=~"{DEAD_LETTER_QUEUE_REGEX}"}})',
                "{{queue_name}}",
            ),
            [(None, "green"), (1, "red")],
        )
    )
    board.with_panel(
        _series(
            "Cold Starts",
            "Lambda cold starts per second, by function (Powertools' ColdStart metric).",
            "ops",
            [Query(f"sum by (function_name) ({rate('ColdStart')})", "{{function_name}}")],
            width=8,
        )
    )
    return board.build()


def render_dashboard() -> str:
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def panel_queries(dashboard_json: str) -> list[tuple[str, str, str]]:
    """(panel title, ref id, expression) for every query of a rendered dashboard."""
    out = []
    for panel in json.loads(dashboard_json)["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["refId"], target["expr"]))
    return out


@dataclass(frozen=True, slots=True)
class PanelDoc:
    """What a panel shows, and what a healthy and a sick stack look like on it (docs/monitoring.md)."""

    title: str
    description: str
    normal: str
    abnormal: str


PANELS: tuple[PanelDoc, ...] = (
    PanelDoc(
        "API Requests Rate (QPS)",
        "Calls to the Lark Open API per second, by method and endpoint.",
        "Lines follow the message traffic (replies) plus two token calls every 10 minutes.",
        "A flat zero while messages arrive (the worker is not running), or a jump on one endpoint (a loop).",
    ),
    PanelDoc(
        "API Response Time (P95/P99)",
        "Latency of Lark Open API calls.",
        "Tens to a few hundred milliseconds.",
        "Seconds: Lark is slow or rate-limit waits are counted in; the worker's batches risk their timeout.",
    ),
    PanelDoc(
        "API Error Rate",
        "Share of Lark Open API calls answered with a 5xx over the last 5 minutes.",
        "Green, at or near 0 %.",
        "Yellow from 1 %, red from 5 % (LarkApiErrorRateHigh).",
    ),
    PanelDoc(
        "API Rate Limiting",
        "Rate-limit answers from Lark (HTTP 429 or code 99991400) per second, by endpoint.",
        "Empty, or a blip that lasts five minutes.",
        "A line that stays up for ten minutes (LarkRateLimited).",
    ),
    PanelDoc(
        "Token Refresh Status",
        "Token refresh retries against successes (and refreshes that gave up), per second.",
        "Successes in steps every 10 minutes for each token type; retries rare; no failures.",
        "Failures (LarkTokenRefreshFailing), or no successes for 30 minutes (LarkTokenRefreshStalled).",
    ),
    PanelDoc(
        "Webhook Events",
        "Verified pushes per second by event type, and those no handler is registered for.",
        "The event types your app subscribes to; unhandled ones only for types you did not register.",
        "Nothing while users are active (the URL in Lark's console is wrong, or every push is rejected).",
    ),
    PanelDoc(
        "Duplicates and Rejections",
        "Redeliveries recognised as duplicates, and requests refused before the ack by reason.",
        "A few duplicates (Lark retries slow answers); rejections near zero.",
        "bad_signature or bad_token climbing (a rotated key or token; LarkWebhookRejectedSignatureSpike).",
    ),
    PanelDoc(
        "Webhook Ack Latency (P95/P99)",
        "Time until Lark gets its answer; Lark gives up after 3 s.",
        "Tens of milliseconds warm; a cold start now and then.",
        "Near or above 1 s: DynamoDB or SQS is slow; Lark will retry and duplicates rise.",
    ),
    PanelDoc(
        "Webhook Error Rate",
        "Share of webhook replies that were a 5xx (Lark retries those for hours).",
        "Green, 0 %.",
        "Red from 5 % (LarkWebhookErrorRateHigh): the table, the queue or the secret is unavailable.",
    ),
    PanelDoc(
        "Worker Events",
        "Events processed, failed (retried) and sent to the dead-letter queue, per second.",
        "Processed follows Webhook Events; failed and dead-lettered empty.",
        "Failed above 5 % of runs (LarkWorkerErrors); any dead-lettered line means events reached the DLQ.",
    ),
    PanelDoc(
        "Token Seconds to Expiry",
        "Lifetime left on each stored token at the last refresh; Lark reissues below 30 minutes.",
        "Green: between 30 minutes and 2 hours.",
        "Red below 20 minutes (LarkTokenNearExpiry).",
    ),
    PanelDoc(
        "DLQ Depth",
        "Messages waiting in the dead-letter queue: each is an event that failed every retry.",
        "Green, 0.",
        "Red from 1 (LarkDeadLetterQueueNotEmpty).",
    ),
    PanelDoc(
        "Cold Starts",
        "Lambda cold starts per second, by function.",
        "A few an hour per function.",
        "A cold start per request: the function crashes or its memory is too small.",
    ),
)
