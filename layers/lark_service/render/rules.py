"""Prometheus recording rules: one set of ``lark_service:*`` series from either source.

Locally the receiver exposes counters and histograms; in production the CloudWatch exporter
exposes per-period statistics (a ``Sum`` per minute, percentiles as extended statistics, read
about ten minutes late). Each rule is ``<local expression> or <CloudWatch expression>``: only one
source exists in a given deployment, so the dashboard and the alerts read the same series in both.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.metrics.catalog import (
    CATALOG,
    CLOUDWATCH_PERIOD_SECONDS,
    PERCENTILES,
    QUEUE_DEPTH_AWS,
    QUEUE_DEPTH_METRIC,
    RECORD_PREFIX,
    MetricDef,
    percentile_name,
)

WINDOW = "5m"
GROUP = "lark_service_recorded"


@dataclass(frozen=True, slots=True)
class Rule:
    record: str
    expr: str


def _by(dims: tuple[str, ...], *extra: str) -> str:
    return f"by ({', '.join((*dims, *extra))})"


def _cloudwatch_rate(spec: MetricDef, statistic: str) -> str:
    """A per-minute CloudWatch statistic, averaged over the window and turned into a per-second rate."""
    series = f"{spec.cloudwatch_name}_{statistic}"
    return f"sum {_by(spec.dimensions)} (avg_over_time({series}[{WINDOW}])) / {CLOUDWATCH_PERIOD_SECONDS}"


def rules_for(spec: MetricDef) -> list[Rule]:
    by = _by(spec.dimensions)
    stem = RECORD_PREFIX + spec.base_name
    if spec.prom_type == "counter":
        local = f"sum {by} (rate({spec.prom_name}[{WINDOW}]))"
        return [Rule(f"{stem}:rate{WINDOW}", f"{local}\nor\n{_cloudwatch_rate(spec, 'sum')}")]
    if spec.prom_type == "histogram":
        count = f"sum {by} (rate({spec.prom_name}_count[{WINDOW}]))"
        out = [Rule(f"{stem}:rate{WINDOW}", f"{count}\nor\n{_cloudwatch_rate(spec, 'sample_count')}")]
        for quantile in PERCENTILES:
            name = percentile_name(quantile)
            local = f"histogram_quantile({quantile}, sum {_by(spec.dimensions, 'le')} (rate({spec.prom_name}_bucket[{WINDOW}])))"
            remote = f"max {by} ({spec.cloudwatch_name}_{name})"
            out.append(Rule(f"{stem}:{name}", f"{local}\nor\n{remote}"))
        return out
    local = f"min {by} ({spec.prom_name})"
    return [Rule(stem, f"{local}\nor\nmin {by} ({spec.cloudwatch_name}_minimum)")]


def _ratio(numerator: str, denominator: str) -> str:
    """Errors over all, zero when there were no errors, absent (not NaN) when there was no traffic."""
    return f"(sum({numerator}) or vector(0))\n/\n(sum({denominator}) > 0)"


def all_rules() -> list[Rule]:
    rules = [rule for spec in CATALOG for rule in rules_for(spec)]
    depth_remote = QUEUE_DEPTH_AWS.cloudwatch_series(QUEUE_DEPTH_AWS.statistics[0])
    rules.append(
        Rule(
            f"{RECORD_PREFIX}sqs_messages_visible",
            f"max by (queue_name) ({QUEUE_DEPTH_METRIC})\nor\nmax by (queue_name) ({depth_remote})",
        )
    )
    p = RECORD_PREFIX
    rules += [
        Rule(
            f"{p}api_error_ratio:rate{WINDOW}",
            _ratio(f'{p}api_requests:rate{WINDOW}{{status=~"5.."}}', f"{p}api_requests:rate{WINDOW}"),
        ),
        Rule(
            f"{p}webhook_error_ratio:rate{WINDOW}",
            _ratio(f"{p}webhook_errors:rate{WINDOW}", f"{p}webhook_ack_duration_seconds:rate{WINDOW}"),
        ),
        Rule(
            f"{p}worker_error_ratio:rate{WINDOW}",
            f"(sum({p}worker_events_failed:rate{WINDOW}) or vector(0))\n/\n"
            f"(sum({p}worker_events_processed:rate{WINDOW}) + (sum({p}worker_events_failed:rate{WINDOW}) or vector(0)) > 0)",
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
