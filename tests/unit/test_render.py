"""The generated monitoring files: committed copies match a fresh render, and they say the right things."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from lark_service.metrics.catalog import (
    AWS_METRICS,
    CATALOG,
    CLOUDWATCH_SCRAPE_INTERVAL_SECONDS,
    DEAD_LETTER_QUEUE_REGEX,
    EXPORTER,
)
from lark_service.render import cli as render_cli
from lark_service.render.dashboard import PANELS, panel_queries, render_dashboard
from lark_service.render.rules import all_rules, rules_for
from tests.conftest import ROOT

MONITORING = ROOT / "monitoring"
RECORDED = {rule.record for rule in all_rules()}
FUNCTIONS = {
    "sum",
    "max",
    "min",
    "by",
    "rate",
    "sum_over_time",
    "max_over_time",
    "last_over_time",
    "increase",
    "offset",
    "histogram_quantile",
    "vector",
    "or",
}


def series_in(expr: str) -> set[str]:
    """Metric names an expression reads (labels, functions and keywords removed)."""
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    without_by = re.sub(r"\bby\s*\([^)]*\)", "", without_labels)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_by))
    return names - FUNCTIONS


@pytest.mark.parametrize("path", sorted(render_cli.TARGETS))
def test_committed_generated_files_match_a_fresh_render(path: str) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == render_cli.TARGETS[path](), (
        f"{path} differs from what the code generates: if a generator changed, review the new output "
        "before committing it; if the file was edited by hand, move the change into its generator"
    )


def test_render_check_names_the_drifted_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("pyproject.toml", "template.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert render_cli.run(argparse.Namespace(check=False, root=tmp_path)) == 0
    assert render_cli.run(argparse.Namespace(check=True, root=tmp_path)) == 0
    dashboard = tmp_path / "monitoring/grafana/dashboards/lark-service.json"
    dashboard.write_text(dashboard.read_text().replace("now-6h", "now-1h"))
    capsys.readouterr()
    assert render_cli.run(argparse.Namespace(check=True, root=tmp_path)) == 1
    err = capsys.readouterr().err
    assert "monitoring/grafana/dashboards/lark-service.json" in err
    assert "recording.yml" not in err


def test_dashboard_keeps_the_replaced_services_settings_and_panels() -> None:
    board = json.loads(render_dashboard())
    assert board["uid"] == "lark-service-main"
    assert board["refresh"] == "10s"
    assert board["time"] == {"from": "now-6h", "to": "now"}
    assert board["tags"] == ["lark-service", "monitoring"]
    titles = {panel["title"] for panel in board["panels"]}
    for title in (
        "API Requests Rate (QPS)",
        "API Response Time (P95/P99)",
        "API Error Rate",
        "API Rate Limiting",
        "Token Refresh Status",
        "Webhook Events",
        "Duplicates and Rejections",
        "Token Seconds to Expiry",
        "DLQ Depth",
    ):
        assert title in titles
    gauge = next(panel for panel in board["panels"] if panel["title"] == "API Error Rate")
    assert gauge["type"] == "gauge"
    steps = gauge["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(step["value"], step["color"]) for step in steps] == [
        (None, "green"),
        (0.01, "yellow"),
        (0.05, "red"),
    ]


def test_every_query_has_a_ref_id_and_reads_only_recorded_series() -> None:
    queries = panel_queries(render_dashboard())
    assert len(queries) >= 15
    for title, ref_id, expr in queries:
        assert re.fullmatch(r"[A-Z]", ref_id), title
        read = series_in(expr)
        assert read, expr
        assert read <= RECORDED, f"{title}: {expr} reads {read - RECORDED}"


def test_alerts_read_only_recorded_series() -> None:
    alerts = yaml.safe_load((MONITORING / "prometheus/rules/alerts.yml").read_text())
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {
        "LarkWebhookErrorRateHigh",
        "LarkWebhookRejectedSignatureSpike",
        "LarkTokenRefreshFailing",
        "LarkTokenNearExpiry",
        "LarkRateLimited",
        "LarkDeadLetterQueueNotEmpty",
        "LarkWorkerErrors",
    }
    dlq = next(rule for rule in rules if rule["alert"] == "LarkDeadLetterQueueNotEmpty")
    assert f'queue_name=~"{DEAD_LETTER_QUEUE_REGEX}"' in dlq["expr"]
    for rule in rules:
        read = series_in(rule["expr"])
        assert read, rule["alert"]
        assert read <= RECORDED, f"{rule['alert']} reads {read - RECORDED}"


def test_every_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    alerts = yaml.safe_load((MONITORING / "prometheus/rules/alerts.yml").read_text())
    names = {rule["alert"] for group in alerts["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((MONITORING / "prometheus/tests/rules.test.yml").read_text())["tests"]
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    assert names == fired == silent


def test_every_catalog_metric_has_recorded_series_from_both_sources() -> None:
    for spec in CATALOG:
        mine = [rule.expr for rule in rules_for(spec)]
        assert mine, spec.emf_name
        for expr in mine:
            assert spec.prom_name in expr, expr
            assert re.search(r"\blarkservice_\w+ *\[", expr), expr


def test_recorded_series_follow_level_metric_operations() -> None:
    for rule in all_rules():
        level, metric, operations = rule.record.split(":")
        assert metric.startswith("lark_service_"), rule.record
        assert operations, rule.record
        if level == "stack":
            assert " by (" not in rule.expr, rule.record
        else:
            kept = {
                label.strip()
                for group in re.findall(r"\bby \(([^)]*)\)", rule.expr)
                for label in group.split(",")
            }
            assert kept - {"le"} == set(re.split(r"_(?=[a-z]+(?:_|$))", level)) or level.replace(
                "_", ""
            ) == "".join(sorted(kept - {"le"}, key=level.index)).replace("_", ""), rule.record


def test_cloudwatch_exporter_config_fetches_what_the_functions_emit_and_no_more() -> None:
    config = yaml.safe_load((MONITORING / "cloudwatch-exporter/config.yml").read_text())
    assert (config["period_seconds"], config["range_seconds"], config["delay_seconds"]) == (60, 60, 600)
    assert config["set_timestamp"] is True
    assert "use_get_metric_data" not in config  # GetMetricStatistics: one request per combination
    entries = {(entry["aws_namespace"], entry["aws_metric_name"]): entry for entry in config["metrics"]}
    for spec in CATALOG:
        entry = entries[("LarkService", spec.emf_name)]
        assert entry["aws_dimensions"] == [*spec.dimensions, "service"]
        if spec.prom_type == "histogram":
            assert entry["aws_statistics"] == ["SampleCount"]
            assert entry["aws_extended_statistics"] == ["p95", "p99"]
    assert [(aws.namespace, aws.name) for aws in AWS_METRICS] == [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    ]
    assert entries[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]["aws_dimension_select_regex"] == {
        "QueueName": ["lark-service-.*-dlq"]
    }
    # Every fetched series is read by a rule: nothing is billed for nothing.
    rules = "\n".join(rule.expr for rule in all_rules())
    for spec in CATALOG:
        for statistic in (*spec.cloudwatch_statistics, *spec.cloudwatch_extended_statistics):
            assert spec.cloudwatch_series(statistic) in rules, (spec.emf_name, statistic)
    for aws in AWS_METRICS:
        assert aws.cloudwatch_series in rules


def test_the_prometheus_cloudwatch_job_scrapes_once_a_period() -> None:
    config = yaml.safe_load((MONITORING / "prometheus/prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "cloudwatch")
    assert job["scrape_interval"] == f"{CLOUDWATCH_SCRAPE_INTERVAL_SECONDS}s"
    assert EXPORTER.period_seconds == CLOUDWATCH_SCRAPE_INTERVAL_SECONDS
    assert not job.get("honor_labels")
    assert job.get("honor_timestamps", True)


def test_docs_list_every_catalog_metric_panel_and_alert() -> None:
    text = (ROOT / "docs/monitoring.md").read_text()
    for spec in CATALOG:
        assert f"| `{spec.emf_name}` |" in text
        assert f"`{spec.prom_name}`" in text
    board = json.loads(render_dashboard())
    assert [panel.title for panel in PANELS] == [p["title"] for p in board["panels"] if p["type"] != "row"]
    alerts = yaml.safe_load((MONITORING / "prometheus/rules/alerts.yml").read_text())
    for rule in alerts["groups"][0]["rules"]:
        assert f"### {rule['alert']}" in text
        assert rule["annotations"]["runbook_url"] == f"docs/monitoring.md#{rule['alert'].lower()}"


def test_catalog_names_are_unique_and_dimensions_are_not_ids() -> None:
    assert len({spec.emf_name for spec in CATALOG}) == len(CATALOG)
    assert len({spec.prom_name for spec in CATALOG}) == len(CATALOG)
    for spec in CATALOG:
        assert all(not key.endswith("_id") and key != "id" for key in spec.dimensions), spec.emf_name
        assert spec.prom_name.endswith("_total") == (spec.prom_type == "counter")
