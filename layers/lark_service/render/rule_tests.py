"""``monitoring/prometheus/tests/rules.test.yml``: promtool cases for every rule and alert.

Inputs are built, not typed: receiver series carry the catalog's Prometheus names, CloudWatch
series the names and labels the exporter gives them (``metrics.cloudwatch_exporter``), and
their samples are what Prometheus stores when the exporter, configured as ``catalog.EXPORTER``,
scrapes CloudWatch once a minute (``exporter_history``: the exporter's window and newest
datapoint, CloudWatch's period arithmetic, Prometheus' rule that a repeated (timestamp, value)
is stored once). Expected values are computed here from the events themselves (counts over
windows), never by evaluating a rule; traffic varies from minute to minute and drops to zero,
so a changed function (``sum_over_time`` to ``max_over_time``) or a dropped ``> 0`` guard fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lark_service.exporter.cloudwatch_semantics import MINUTE_MS, Value, get_metric_statistics
from lark_service.metrics import cloudwatch_exporter as exporter
from lark_service.metrics.catalog import (
    BY_EMF_NAME,
    CLOUDWATCH_LAG_SECONDS,
    CLOUDWATCH_SCRAPE_INTERVAL_SECONDS,
    EXPORTER,
    NAMESPACE,
    QUEUE_DEPTH_AWS,
    QUEUE_DEPTH_METRIC,
    MetricDef,
)
from lark_service.render.alerts import ALERTS, Alert
from lark_service.render.rules import (
    API_ERROR_RATIO,
    DLQ_DEPTH,
    OFFSET_SECONDS,
    REFRESH_SUCCESSES,
    WEBHOOK_ERROR_RATIO,
    WINDOW_SECONDS,
    WORKER_ERROR_RATIO,
    gauge_series,
    percentile_series,
    rate_series,
)

EXPORTER_TARGET = {"job": "cloudwatch", "instance": "cloudwatch-exporter:9106"}
"""The labels Prometheus' ``cloudwatch`` job adds. The exporter's own ``job`` conflicts with it
and is kept as ``exported_job`` (no ``honor_labels``); its empty ``instance`` is no label."""
LAG_MINUTES = CLOUDWATCH_LAG_SECONDS // 60
WINDOW_MINUTES = WINDOW_SECONDS // 60
HORIZON_MINUTES = 70
"""Every input series covers this many minutes (promtool evaluates from minute 0)."""

Series = dict[str, Any]
Case = dict[str, Any]


def spec(name: str) -> MetricDef:
    return BY_EMF_NAME[name]


def exporter_history(
    values: Sequence[Value], statistic: str, *, first_scrape_ms: int, scrapes: int
) -> dict[int, float]:
    """What Prometheus stores of one CloudWatch metric: (timestamp ms, value) per stored sample.

    Every scrape asks CloudWatch for the exporter's window and exports the newest datapoint with
    its own timestamp (``set_timestamp``); Prometheus keeps a sample whose timestamp is newer than
    the series' last, silently drops a repeat of the last one, and rejects older ones.
    """
    assert EXPORTER.set_timestamp, "the history below assumes samples carry CloudWatch's timestamps"
    stored: dict[int, float] = {}
    last = -1
    for index in range(scrapes):
        scrape = first_scrape_ms + index * CLOUDWATCH_SCRAPE_INTERVAL_SECONDS * 1000
        start, end = exporter.request_window(scrape, EXPORTER)
        points = get_metric_statistics(values, start, end, EXPORTER.period_seconds, [statistic])
        point = exporter.newest(points)
        if point is None:
            continue
        stamp = exporter.sample_timestamp_ms(point, EXPORTER)
        assert stamp is not None
        if stamp > last:
            stored[stamp] = point.statistics[statistic]
            last = stamp
    return stored


def events(per_minute: Mapping[int, Sequence[float]]) -> list[Value]:
    """Values put at second 7 of their minute (any second inside the minute is the same)."""
    return [
        Value(minute * MINUTE_MS + 7_000, value) for minute, items in per_minute.items() for value in items
    ]


def cloudwatch_series(
    metric: MetricDef, statistic: str, per_minute: Mapping[int, Sequence[float]], **dims: str
) -> Series:
    """A CloudWatch series as stored after the exporter scraped CloudWatch for the whole horizon."""
    history = exporter_history(
        events(per_minute),
        statistic,
        first_scrape_ms=13_000,  # any phase: the scrapes come every period
        scrapes=HORIZON_MINUTES + LAG_MINUTES + 2,
    )
    by_minute = {ts // MINUTE_MS: value for ts, value in history.items()}
    assert all(ts % MINUTE_MS == 0 for ts in history), history
    values = " ".join(_fmt(by_minute[m]) if m in by_minute else "_" for m in range(HORIZON_MINUTES))
    labels = {
        **EXPORTER_TARGET,
        "exported_job": exporter.job_name(NAMESPACE),
        **{
            exporter.label_name(name): value for name, value in (*dims.items(), ("service", _service(metric)))
        },
    }
    return {"series": _selector(metric.cloudwatch_series(statistic), labels), "values": values}


def sqs_series(per_minute: Mapping[int, float], queue: str) -> Series:
    history = exporter_history(
        events({m: [v] for m, v in per_minute.items()}),
        QUEUE_DEPTH_AWS.statistic,
        first_scrape_ms=13_000,
        scrapes=HORIZON_MINUTES + LAG_MINUTES + 2,
    )
    by_minute = {ts // MINUTE_MS: value for ts, value in history.items()}
    values = " ".join(_fmt(by_minute[m]) if m in by_minute else "_" for m in range(HORIZON_MINUTES))
    labels = {
        **EXPORTER_TARGET,
        "exported_job": exporter.job_name(QUEUE_DEPTH_AWS.namespace),
        QUEUE_DEPTH_AWS.label: queue,
    }
    return {"series": _selector(QUEUE_DEPTH_AWS.cloudwatch_series, labels), "values": values}


def receiver_counter(
    metric: MetricDef, increments: Mapping[int, float], *, suffix: str = "", **dims: str
) -> Series:
    """A receiver counter sampled every minute from minute 0: cumulative ``increments``."""
    total, values = 0.0, []
    for minute in range(HORIZON_MINUTES):
        total += increments.get(minute, 0.0)
        values.append(_fmt(total))
    name = (metric.prom_name + suffix) if suffix else metric.prom_name
    return {
        "series": _selector(name, {"job": "emf-receiver", "instance": "emf-receiver:9090", **dims}),
        "values": " ".join(values),
    }


def receiver_gauge(name: str, value: float, **labels: str) -> Series:
    return {
        "series": _selector(name, {"job": "emf-receiver", "instance": "emf-receiver:9090", **labels}),
        "values": " ".join([_fmt(value)] * HORIZON_MINUTES),
    }


def _service(metric: MetricDef) -> str:
    return metric.emitters[0]


def _selector(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{inner}}}"


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else repr(value)


def cloudwatch_window(t: int, window_seconds: int = WINDOW_SECONDS) -> list[int]:
    """The stored minutes a CloudWatch read at minute ``t`` sees: ``[t - offset - window, t - offset]``."""
    end = t * 60 - OFFSET_SECONDS
    return [m for m in range(HORIZON_MINUTES) if end - window_seconds <= m * 60 <= end]


def window_sum(
    per_minute: Mapping[int, Sequence[float]], t: int, window_seconds: int = WINDOW_SECONDS
) -> float:
    return sum(sum(per_minute.get(m, ())) for m in cloudwatch_window(t, window_seconds))


def last_value(per_minute: Mapping[int, Sequence[float]], t: int, window_seconds: int) -> float | None:
    seen = [m for m in cloudwatch_window(t, window_seconds) if m in per_minute]
    return per_minute[max(seen)][-1] if seen else None


def sample(record: str, value: float, **labels: str) -> dict[str, Any]:
    return {"labels": _selector(record, labels) if labels else record, "value": value}


# --- cases -------------------------------------------------------------------------------------


@dataclass
class Builder:
    cases: list[Case] = field(default_factory=list)

    def add(
        self,
        name: str,
        series: Iterable[Series],
        *,
        promql: Iterable[dict[str, Any]] = (),
        alerts: Iterable[dict[str, Any]] = (),
    ) -> None:
        case: Case = {"name": name, "interval": "1m", "input_series": list(series)}
        if promql:
            case["promql_expr_test"] = list(promql)
        if alerts:
            case["alert_rule_test"] = list(alerts)
        self.cases.append(case)


def expr_at(expr: str, minute: int, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{minute}m", "exp_samples": list(samples)}


def alert_at(alert: Alert, minute: int, labels: Sequence[Mapping[str, str]] | None) -> dict[str, Any]:
    expected = [
        {
            "exp_labels": {"severity": alert.severity, **extra},
            "exp_annotations": {
                "summary": alert.summary,
                "description": alert.description,
                "runbook_url": f"docs/monitoring.md#{alert.anchor}",
            },
        }
        for extra in (labels or [])
    ]
    return {"eval_time": f"{minute}m", "alertname": alert.name, "exp_alerts": expected}


ALERT = {alert.name: alert for alert in ALERTS}
TENANT = {"token_type": "tenant"}
APP = {"token_type": "app"}
MESSAGES = "/open-apis/im/v1/messages"


def sparse_counter_cases(b: Builder) -> None:
    """One event is one event: a lone 429 raises the rate for exactly five minutes, once."""
    limited = spec("AuthRateLimitTriggered")
    record = rate_series(limited)
    burst = {3: [1.0, 1.0], 4: [1.0]}  # two 429s in minute 3, one in minute 4, then silence
    series = [cloudwatch_series(limited, "Sum", burst, endpoint=MESSAGES)]
    checks = []
    for t in range(13, 24):
        total = window_sum(burst, t)
        expected = [sample(record, total / WINDOW_SECONDS, endpoint=MESSAGES)] if total else []
        checks.append(expr_at(record, t, expected))
    b.add(
        "CloudWatch: three 429s in two minutes count three times, for five minutes",
        series,
        promql=checks,
        alerts=[alert_at(ALERT["LarkRateLimited"], t, None) for t in (15, 20, 25, 30)],
    )

    success = spec("TokenRefreshSuccess")
    schedule = {m: [1.0] for m in range(0, HORIZON_MINUTES, 10)}
    successes = [cloudwatch_series(success, "Sum", schedule, **TENANT)]
    expected = []
    counted = f"sum({REFRESH_SUCCESSES})"
    for t in (30, 45, 60):
        count = window_sum(schedule, t, 25 * 60)
        expected.append(expr_at(counted, t, [{"labels": "{}", "value": float(count)}]))
    b.add(
        "CloudWatch: a refresh every 10 minutes is counted once each, and never looks stalled",
        successes,
        promql=expected,
        alerts=[alert_at(ALERT["LarkTokenRefreshStalled"], t, None) for t in (20, 40, 60)],
    )


def ratio_cases(b: Builder) -> None:
    errors, acks = spec("WebhookErrors"), spec("WebhookAckDuration")
    # Varying traffic through the receiver: replies and errors change every minute.
    replies = {m: float(40 + (m * 7) % 23) for m in range(HORIZON_MINUTES)}
    failing = {m: float((m * 3) % 5) for m in range(HORIZON_MINUTES)}
    series = [
        receiver_counter(errors, failing, route="error"),
        receiver_counter(acks, replies, suffix="_count", route="event"),
    ]
    checks = []
    for t in (10, 17, 33):
        window = range(t - WINDOW_MINUTES + 1, t + 1)
        err = sum(failing[m] for m in window)
        total = sum(replies[m] for m in window)
        checks.append(
            expr_at(WEBHOOK_ERROR_RATIO, t, [{"labels": WEBHOOK_ERROR_RATIO, "value": err / total}])
        )
    b.add("receiver: the webhook error ratio follows varying traffic", series, promql=checks)

    quiet = [
        receiver_counter(errors, {}, route="error"),
        receiver_counter(acks, {}, suffix="_count", route="event"),
    ]
    b.add(
        "receiver: no traffic is no ratio (absent, not NaN or 0)",
        quiet,
        promql=[
            expr_at(WEBHOOK_ERROR_RATIO, 20, []),
            expr_at(WORKER_ERROR_RATIO, 20, []),
            expr_at(API_ERROR_RATIO, 20, []),
        ],
        alerts=[alert_at(ALERT["LarkWebhookErrorRateHigh"], 20, None)],
    )

    # Varying traffic through CloudWatch: per-minute sums, read LAG minutes late.
    cw_replies = {m: [1.0] * (20 + (m * 5) % 11) for m in range(HORIZON_MINUTES - 20)}
    cw_errors = {m: [1.0] * ((m * 2) % 7) for m in range(HORIZON_MINUTES - 20)}
    series = [
        cloudwatch_series(errors, "Sum", cw_errors, route="error"),
        cloudwatch_series(
            acks, "SampleCount", {m: [0.01] * len(v) for m, v in cw_replies.items()}, route="event"
        ),
    ]
    checks = []
    for t in (20, 31, 44):
        err, total = window_sum(cw_errors, t), window_sum(cw_replies, t)
        ratio = (err / WINDOW_SECONDS) / (
            total / WINDOW_SECONDS
        )  # in Prometheus' order: rates, then the ratio
        checks.append(expr_at(WEBHOOK_ERROR_RATIO, t, [{"labels": WEBHOOK_ERROR_RATIO, "value": ratio}]))
        checks.append(
            expr_at(rate_series(acks), t, [sample(rate_series(acks), total / WINDOW_SECONDS, route="event")])
        )
    b.add("CloudWatch: the webhook error ratio follows varying per-minute sums", series, promql=checks)


def alert_cases(b: Builder) -> None:
    errors, acks = spec("WebhookErrors"), spec("WebhookAckDuration")
    steady = {m: 60.0 for m in range(HORIZON_MINUTES)}
    b.add(
        "LarkWebhookErrorRateHigh: fires at 10 % 5xx (receiver), silent before its 5 minutes",
        [
            receiver_counter(errors, {m: 6.0 for m in range(HORIZON_MINUTES)}, route="error"),
            receiver_counter(acks, steady, suffix="_count", route="event"),
        ],
        alerts=[
            alert_at(ALERT["LarkWebhookErrorRateHigh"], 4, None),
            alert_at(ALERT["LarkWebhookErrorRateHigh"], 15, [{}]),
        ],
    )
    b.add(
        "LarkWebhookErrorRateHigh: fires at 10 % 5xx (CloudWatch)",
        [
            cloudwatch_series(errors, "Sum", {m: [1.0] * 6 for m in range(40)}, route="error"),
            cloudwatch_series(acks, "SampleCount", {m: [0.01] * 60 for m in range(40)}, route="event"),
        ],
        alerts=[alert_at(ALERT["LarkWebhookErrorRateHigh"], 30, [{}])],
    )
    b.add(
        "LarkWebhookErrorRateHigh: silent at 1 % 5xx",
        [
            receiver_counter(errors, {m: 0.6 for m in range(HORIZON_MINUTES)}, route="error"),
            receiver_counter(acks, steady, suffix="_count", route="event"),
        ],
        alerts=[alert_at(ALERT["LarkWebhookErrorRateHigh"], 15, None)],
    )

    rejected = spec("WebhookRequestsRejected")
    b.add(
        "LarkWebhookRejectedSignatureSpike: fires at 12 bad signatures a minute",
        [receiver_counter(rejected, {m: 12.0 for m in range(HORIZON_MINUTES)}, reason="bad_signature")],
        alerts=[alert_at(ALERT["LarkWebhookRejectedSignatureSpike"], 15, [{}])],
    )
    b.add(
        "LarkWebhookRejectedSignatureSpike: silent for other reasons and a trickle",
        [
            receiver_counter(rejected, {m: 1.0 for m in range(HORIZON_MINUTES)}, reason="bad_signature"),
            receiver_counter(rejected, {m: 30.0 for m in range(HORIZON_MINUTES)}, reason="bad_token"),
        ],
        alerts=[alert_at(ALERT["LarkWebhookRejectedSignatureSpike"], 15, None)],
    )

    api = spec("ApiRequests")
    ok = {"method": "POST", "endpoint": MESSAGES, "status": "200"}
    b.add(
        "LarkApiErrorRateHigh: fires at 9 % 5xx",
        [
            receiver_counter(api, steady, **ok),
            receiver_counter(api, {m: 6.0 for m in range(HORIZON_MINUTES)}, **{**ok, "status": "500"}),
        ],
        alerts=[alert_at(ALERT["LarkApiErrorRateHigh"], 15, [{}])],
    )
    b.add(
        "LarkApiErrorRateHigh: silent without 5xx (429s are not errors)",
        [
            receiver_counter(api, steady, **ok),
            receiver_counter(api, {m: 6.0 for m in range(HORIZON_MINUTES)}, **{**ok, "status": "429"}),
        ],
        alerts=[alert_at(ALERT["LarkApiErrorRateHigh"], 15, None)],
    )

    failure = spec("TokenRefreshFailure")
    gave_up = {5: [1.0]}
    raised = {t for t in range(HORIZON_MINUTES) if window_sum(gave_up, t)}
    failing = ALERT["LarkTokenRefreshFailing"]
    b.add(
        "LarkTokenRefreshFailing: fires after a refresh gave up, for 20 minutes (CloudWatch)",
        [cloudwatch_series(failure, "Sum", gave_up, **TENANT, reason="transient")],
        alerts=[
            alert_at(
                failing, t, [{"token_type": "tenant"}] if any(t - 15 <= r <= t for r in raised) else None
            )
            # Not on the first raised minute: rule groups run in no fixed order, so an alert may see
            # a recorded series one evaluation late (Prometheus does the same).
            for t in (min(raised) - 1, min(raised) + 1, max(raised) + 15, max(raised) + 16)
        ],
    )
    b.add(
        "LarkTokenRefreshFailing: fires after a refresh gave up (receiver)",
        [receiver_counter(failure, {10: 1.0}, **TENANT, reason="transient")],
        alerts=[alert_at(ALERT["LarkTokenRefreshFailing"], 20, [{"token_type": "tenant"}])],
    )
    b.add(
        "LarkTokenRefreshFailing: silent without failures",
        [
            receiver_counter(failure, {}, **TENANT, reason="transient"),
            receiver_counter(
                spec("TokenRefreshSuccess"),
                {m: 1.0 for m in range(0, HORIZON_MINUTES, 10)},
                **TENANT,
            ),
        ],
        alerts=[alert_at(ALERT["LarkTokenRefreshFailing"], 20, None)],
    )

    success = spec("TokenRefreshSuccess")
    stalled = ALERT["LarkTokenRefreshStalled"]
    b.add(
        "LarkTokenRefreshStalled: fires 30 minutes (and one evaluation) after the last success (minute 11)",
        [receiver_counter(success, {1: 1.0, 11: 1.0}, **TENANT)],
        alerts=[alert_at(stalled, 40, None), alert_at(stalled, 42, [{}]), alert_at(stalled, 60, [{}])],
    )
    b.add(
        "LarkTokenRefreshStalled: silent while refreshes succeed every 10 minutes (receiver)",
        [receiver_counter(success, {m: 1.0 for m in range(1, HORIZON_MINUTES, 10)}, **TENANT)],
        alerts=[alert_at(stalled, t, None) for t in (30, 45, 60)],
    )
    b.add(
        "LarkTokenRefreshStalled: silent while refreshes succeed through CloudWatch and the receiver is empty",
        [
            receiver_gauge(QUEUE_DEPTH_METRIC, 0, queue_name="lark-service-prod-events-dlq"),
            cloudwatch_series(success, "Sum", {m: [1.0] for m in range(0, HORIZON_MINUTES, 10)}, **APP),
        ],
        alerts=[alert_at(stalled, t, None) for t in (30, 45, 60)],
    )

    expiry = spec("TokenSecondsToExpiry")
    near = ALERT["LarkTokenNearExpiry"]
    b.add(
        "LarkTokenNearExpiry: fires at 15 minutes left (receiver)",
        [receiver_gauge(expiry.prom_name, 900, **TENANT)],
        alerts=[alert_at(near, 10, [{"token_type": "tenant"}])],
    )
    b.add(
        "LarkTokenNearExpiry: fires at 10 minutes left (CloudWatch minimum, a refresh every 10 minutes)",
        [cloudwatch_series(expiry, "Minimum", {m: [600.0] for m in range(0, HORIZON_MINUTES, 10)}, **APP)],
        alerts=[
            alert_at(near, 12, None),
            alert_at(near, 22, [{"token_type": "app"}]),
            alert_at(near, 50, [{"token_type": "app"}]),
        ],
    )
    b.add(
        "LarkTokenNearExpiry: silent with a fresh token",
        [
            receiver_gauge(expiry.prom_name, 7000, **TENANT),
            cloudwatch_series(expiry, "Minimum", {m: [6900.0] for m in range(0, HORIZON_MINUTES, 10)}, **APP),
        ],
        alerts=[alert_at(near, t, None) for t in (10, 30, 50)],
    )

    limited = spec("AuthRateLimitTriggered")
    rate_limited = ALERT["LarkRateLimited"]
    b.add(
        "LarkRateLimited: fires on sustained rate limiting (receiver)",
        [receiver_counter(limited, {m: 3.0 for m in range(HORIZON_MINUTES)}, endpoint=MESSAGES)],
        alerts=[alert_at(rate_limited, 20, [{"endpoint": MESSAGES}])],
    )
    b.add(
        "LarkRateLimited: fires on sustained rate limiting (CloudWatch)",
        [cloudwatch_series(limited, "Sum", {m: [1.0] for m in range(40)}, endpoint=MESSAGES)],
        alerts=[alert_at(rate_limited, 35, [{"endpoint": MESSAGES}])],
    )
    b.add(
        "LarkRateLimited: silent when the counter stands still",
        [receiver_counter(limited, {0: 4.0}, endpoint=MESSAGES)],
        alerts=[alert_at(rate_limited, 20, None)],
    )

    dlq = ALERT["LarkDeadLetterQueueNotEmpty"]
    b.add(
        "LarkDeadLetterQueueNotEmpty: fires on messages in the DLQ (receiver)",
        [receiver_gauge(QUEUE_DEPTH_METRIC, 3, queue_name="t0-events-dlq")],
        alerts=[alert_at(dlq, 5, [{"queue_name": "t0-events-dlq"}])],
    )
    b.add(
        "LarkDeadLetterQueueNotEmpty: fires on messages in the DLQ (CloudWatch maximum)",
        [sqs_series({m: 2.0 for m in range(HORIZON_MINUTES)}, "lark-service-prod-events-dlq")],
        alerts=[alert_at(dlq, LAG_MINUTES + 5, [{"queue_name": "lark-service-prod-events-dlq"}])],
    )
    b.add(
        "LarkDeadLetterQueueNotEmpty: silent with an empty DLQ and a busy events queue",
        [
            receiver_gauge(QUEUE_DEPTH_METRIC, 0, queue_name="t0-events-dlq"),
            receiver_gauge(QUEUE_DEPTH_METRIC, 40, queue_name="t0-events"),
        ],
        alerts=[alert_at(dlq, 5, None)],
    )

    processed, failed = spec("WorkerEventsProcessed"), spec("WorkerEventsFailed")
    message = {"event_type": "im.message.receive_v1"}
    workers = ALERT["LarkWorkerErrors"]
    b.add(
        "LarkWorkerErrors: fires at 9 % failed runs",
        [
            receiver_counter(processed, steady, **message),
            receiver_counter(failed, {m: 6.0 for m in range(HORIZON_MINUTES)}, **message),
        ],
        alerts=[alert_at(workers, 20, [{}])],
    )
    b.add(
        "LarkWorkerErrors: fires when every run fails (nothing processed at all)",
        [receiver_counter(failed, {m: 6.0 for m in range(HORIZON_MINUTES)}, **message)],
        alerts=[alert_at(workers, 20, [{}])],
    )
    b.add(
        "LarkWorkerErrors: silent when every run succeeds",
        [receiver_counter(processed, steady, **message), receiver_counter(failed, {}, **message)],
        alerts=[alert_at(workers, 20, None)],
    )


def mapping_cases(b: Builder) -> None:
    """Each CloudWatch statistic lands on the recorded series the receiver's data lands on."""
    api, duration, cold = spec("ApiRequests"), spec("ApiRequestDuration"), spec("ColdStart")
    labels = {"method": "POST", "endpoint": MESSAGES}
    calls = {m: [1.0] * (100 + 10 * m) for m in range(30)}
    latencies = {m: [0.05] * 90 + [0.2] * 9 + [0.9] for m in range(30)}
    starts = {m: [1.0] * (m % 4) for m in range(30)}
    series = [
        cloudwatch_series(api, "Sum", calls, **labels, status="200"),
        cloudwatch_series(duration, "p95", latencies, **labels),
        cloudwatch_series(duration, "p99", latencies, **labels),
        cloudwatch_series(cold, "Sum", starts, function_name="lark-service-prod-webhook"),
    ]
    t = 25
    b.add(
        "CloudWatch statistics map onto the recorded series",
        series,
        promql=[
            expr_at(
                rate_series(api),
                t,
                [sample(rate_series(api), window_sum(calls, t) / WINDOW_SECONDS, **labels, status="200")],
            ),
            expr_at(
                percentile_series(duration, 0.95),
                t,
                [sample(percentile_series(duration, 0.95), 0.2, **labels)],
            ),
            expr_at(
                percentile_series(duration, 0.99),
                t,
                [sample(percentile_series(duration, 0.99), 0.2, **labels)],
            ),
            expr_at(
                rate_series(cold),
                t,
                [
                    sample(
                        rate_series(cold),
                        window_sum(starts, t) / WINDOW_SECONDS,
                        function_name="lark-service-prod-webhook",
                    )
                ],
            ),
        ],
    )
    acks = spec("WebhookAckDuration")
    buckets = {"0.05": 50.0, "0.1": 100.0, "+Inf": 100.0}
    series = [
        receiver_counter(
            acks, {m: count for m in range(HORIZON_MINUTES)}, suffix="_bucket", route="event", le=le
        )
        for le, count in buckets.items()
    ]
    series.append(
        receiver_counter(acks, {m: 100.0 for m in range(HORIZON_MINUTES)}, suffix="_count", route="event")
    )
    b.add(
        "receiver histograms give the percentiles (linear inside the bucket)",
        series,
        promql=[
            expr_at(
                percentile_series(acks, 0.95),
                10,
                [sample(percentile_series(acks, 0.95), 0.095, route="event")],
            )
        ],
    )
    depths = {m: [float(m % 3)] for m in range(HORIZON_MINUTES)}
    b.add(
        "the DLQ depth comes from either source",
        [
            receiver_gauge(QUEUE_DEPTH_METRIC, 3, queue_name="t0-events-dlq"),
            sqs_series({m: v[0] for m, v in depths.items()}, "lark-service-prod-events-dlq"),
        ],
        promql=[
            expr_at(
                DLQ_DEPTH,
                20,
                [
                    sample(DLQ_DEPTH, 3, queue_name="t0-events-dlq"),
                    sample(
                        DLQ_DEPTH,
                        last_value(depths, 20, 300) or 0.0,
                        queue_name="lark-service-prod-events-dlq",
                    ),
                ],
            )
        ],
    )
    expiry = spec("TokenSecondsToExpiry")
    refreshes = {0: [7000.0], 10: [6500.0], 20: [6900.0]}
    b.add(
        "the token gauge keeps the last refresh's value between refreshes (CloudWatch)",
        [cloudwatch_series(expiry, "Minimum", refreshes, **TENANT)],
        promql=[
            expr_at(
                gauge_series(expiry),
                t,
                [sample(gauge_series(expiry), value, **TENANT)] if value else [],
            )
            for t in (12, 13, 22, 23, 37, 52, 53)
            for value in [last_value(refreshes, t, 20 * 60)]
        ],
    )


def render_rule_tests() -> dict[str, object]:
    b = Builder()
    sparse_counter_cases(b)
    ratio_cases(b)
    alert_cases(b)
    mapping_cases(b)
    return {
        "rule_files": ["../rules/recording.yml", "../rules/alerts.yml"],
        "evaluation_interval": "1m",
        "tests": b.cases,
    }
