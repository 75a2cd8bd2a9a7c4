"""Prometheus recording rules: one set of recorded series from either source.

Locally the receiver exposes counters and histograms; in production the CloudWatch exporter
exposes per-period statistics, each sample stamped with its period's start and stored about
``CLOUDWATCH_LAG_SECONDS`` after it (``catalog.EXPORTER``). Each rule is ``<local expression> or
<CloudWatch expression>``: only one source exists in a given deployment, so the dashboard and
the alerts read the same series in both.

The CloudWatch branch sums the per-minute ``Sum`` samples of a five-minute window read
``offset`` the lag (every CloudWatch read does: what it reads is already stored): each minute is one sample, so one
event counts once, and the window always holds exactly five minutes. Names follow
``level:metric:operations``: the labels kept, the metric's own name (``_total`` stripped for a
rate), the operations newest first; ``stack`` is the level of series aggregated over everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.metrics.catalog import (
    CATALOG,
    CLOUDWATCH_LAG_SECONDS,
    PERCENTILES,
    QUEUE_DEPTH_AWS,
    QUEUE_DEPTH_METRIC,
    MetricDef,
    percentile_name,
)

WINDOW = "5m"
WINDOW_SECONDS = 300
GROUP = "lark_service_recorded"
OFFSET_SECONDS = CLOUDWATCH_LAG_SECONDS + 30
"""The lag, plus half a period: CloudWatch samples sit on whole minutes, and Prometheus 2's range
selectors include both ends, so a window ending on a whole minute would hold six minutes, not five."""
OFFSET = (
    f"{OFFSET_SECONDS // 60}m{OFFSET_SECONDS % 60}s" if OFFSET_SECONDS % 60 else f"{OFFSET_SECONDS // 60}m"
)
STALLED_WINDOW = "25m"
"""Successful refreshes are counted over this window; the stalled alert's ``for`` adds 5 minutes."""
GAUGE_LOOKBACK = "20m"
"""How far before the lag the token gauge looks for its newest sample: twice the refresh schedule."""
DLQ_LOOKBACK = "5m"
"""SQS publishes a queue's depth every minute."""


@dataclass(frozen=True, slots=True)
class Rule:
    record: str
    expr: str


def level(dims: tuple[str, ...]) -> str:
    return "_".join(dims) if dims else "stack"


def _by(dims: tuple[str, ...], *extra: str) -> str:
    return f"by ({', '.join((*dims, *extra))})"


def recorded(spec: MetricDef, operation: str, metric: str | None = None) -> str:
    """The recorded series of a catalog metric: ``<dimensions>:<metric>:<operation>``."""
    return f"{level(spec.dimensions)}:{metric or spec.base_name}:{operation}"


def rate_series(spec: MetricDef) -> str:
    """Events per second over five minutes: the counter's, or a histogram's observation count."""
    if spec.prom_type == "histogram":
        return recorded(spec, f"rate{WINDOW}", f"{spec.prom_name}_count")
    return recorded(spec, f"rate{WINDOW}")


def percentile_series(spec: MetricDef, quantile: float) -> str:
    return recorded(spec, f"{percentile_name(quantile)}_{WINDOW}")


def gauge_series(spec: MetricDef) -> str:
    return recorded(spec, "min")


def _cloudwatch_rate(spec: MetricDef, statistic: str) -> str:
    """Per-minute CloudWatch sums of the five stored minutes, as a per-second rate."""
    series = spec.cloudwatch_series(statistic)
    return (
        f"sum {_by(spec.dimensions)} (sum_over_time({series}[{WINDOW}] offset {OFFSET})) / {WINDOW_SECONDS}"
    )


def rules_for(spec: MetricDef) -> list[Rule]:
    by = _by(spec.dimensions)
    if spec.prom_type == "counter":
        local = f"sum {by} (rate({spec.prom_name}[{WINDOW}]))"
        return [Rule(rate_series(spec), f"{local}\nor\n{_cloudwatch_rate(spec, 'Sum')}")]
    if spec.prom_type == "histogram":
        count = f"sum {by} (rate({spec.prom_name}_count[{WINDOW}]))"
        out = [Rule(rate_series(spec), f"{count}\nor\n{_cloudwatch_rate(spec, 'SampleCount')}")]
        for quantile in PERCENTILES:
            name = percentile_name(quantile)
            buckets = f"sum {_by(spec.dimensions, 'le')} (rate({spec.prom_name}_bucket[{WINDOW}]))"
            local = f"histogram_quantile({quantile}, {buckets})"
            remote = f"max {by} (max_over_time({spec.cloudwatch_series(name)}[{WINDOW}] offset {OFFSET}))"
            out.append(Rule(percentile_series(spec, quantile), f"{local}\nor\n{remote}"))
        return out
    local = f"min {by} ({spec.prom_name})"
    remote = (
        f"min {by} (last_over_time({spec.cloudwatch_series('Minimum')}[{GAUGE_LOOKBACK}] offset {OFFSET}))"
    )
    return [Rule(gauge_series(spec), f"{local}\nor\n{remote}")]


def _spec(emf_name: str) -> MetricDef:
    return next(spec for spec in CATALOG if spec.emf_name == emf_name)


API_REQUESTS = _spec("ApiRequests")
ACKS = _spec("WebhookAckDuration")
WEBHOOK_ERRORS = _spec("WebhookErrors")
WORKER_PROCESSED = _spec("WorkerEventsProcessed")
WORKER_FAILED = _spec("WorkerEventsFailed")
REFRESH_SUCCESS = _spec("TokenRefreshSuccess")

API_ERROR_RATIO = f"stack:{API_REQUESTS.base_name}_5xx_per_requests:ratio_rate{WINDOW}"
WEBHOOK_ERROR_RATIO = f"stack:{WEBHOOK_ERRORS.base_name}_per_replies:ratio_rate{WINDOW}"
WORKER_ERROR_RATIO = f"stack:{WORKER_FAILED.base_name}_per_runs:ratio_rate{WINDOW}"
DLQ_DEPTH = f"queue_name:{QUEUE_DEPTH_METRIC}:max"
REFRESH_SUCCESSES = recorded(REFRESH_SUCCESS, f"increase{STALLED_WINDOW}")


def _ratio(numerator: str, denominator: str) -> str:
    """Errors over all, zero when there were no errors, absent (not NaN) when there was no traffic."""
    return f"(sum({numerator}) or vector(0))\n/\n(sum({denominator}) > 0)"


def all_rules() -> list[Rule]:
    rules = [rule for spec in CATALOG for rule in rules_for(spec)]
    remote_depth = f"last_over_time({QUEUE_DEPTH_AWS.cloudwatch_series}[{DLQ_LOOKBACK}] offset {OFFSET})"
    rules.append(
        Rule(
            DLQ_DEPTH, f"max by (queue_name) ({QUEUE_DEPTH_METRIC})\nor\nmax by (queue_name) ({remote_depth})"
        )
    )
    success = REFRESH_SUCCESS
    rules.append(
        Rule(
            REFRESH_SUCCESSES,
            f"sum {_by(success.dimensions)} (increase({success.prom_name}[{STALLED_WINDOW}]))\nor\n"
            f"sum {_by(success.dimensions)} (sum_over_time({success.cloudwatch_series('Sum')}"
            f"[{STALLED_WINDOW}] offset {OFFSET}))",
        )
    )
    failed = rate_series(WORKER_FAILED)
    rules += [
        Rule(
            API_ERROR_RATIO,
            _ratio(f'{rate_series(API_REQUESTS)}{{status=~"5.."}}', rate_series(API_REQUESTS)),
        ),
        Rule(WEBHOOK_ERROR_RATIO, _ratio(rate_series(WEBHOOK_ERRORS), rate_series(ACKS))),
        Rule(
            WORKER_ERROR_RATIO,
            f"(sum({failed}) or vector(0))\n/\n"
            f"((sum({rate_series(WORKER_PROCESSED)}) or vector(0)) + (sum({failed}) or vector(0)) > 0)",
        ),
    ]
    return rules


def render_rules() -> dict[str, object]:
    return {
        "groups": [
            {
                "name": GROUP,
                "rules": [{"record": rule.record, "expr": rule.expr} for rule in all_rules()],
            }
        ]
    }
