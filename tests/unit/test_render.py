"""The generated monitoring files: committed copies match a fresh render, and they say the right things."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from lark_service.metrics.catalog import AWS_METRICS, CATALOG, DEAD_LETTER_QUEUE_REGEX, snake_case
from lark_service.render import cli as render_cli
from lark_service.render.dashboard import panel_queries, render_dashboard
from lark_service.render.rules import all_rules
from tests.conftest import ROOT

MONITORING = ROOT / "monitoring"
RECORDED = {rule.record for rule in all_rules()}
FUNCTIONS = {
    "sum",
    "max",
    "min",
    "by",
    "rate",
    "avg_over_time",
    "max_over_time",
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
    assert committed == render_cli.TARGETS[path](), f"{path} is stale: run `lark-service render`"


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
    tests = yaml.safe_load((MONITORING / "prometheus/tests/alerts.test.yml").read_text())["tests"]
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    assert names == fired == silent


def test_every_catalog_metric_has_recorded_series_from_both_sources() -> None:
    rules = {rule.record: rule.expr for rule in all_rules()}
    for spec in CATALOG:
        mine = [expr for record, expr in rules.items() if record.startswith(f"lark_service:{spec.base_name}")]
        assert mine, spec.emf_name
        for expr in mine:
            assert spec.prom_name in expr, expr
            assert spec.cloudwatch_name in expr, expr


def test_cloudwatch_exporter_config_covers_the_catalog_and_the_aws_metrics() -> None:
    config = yaml.safe_load((MONITORING / "cloudwatch-exporter/config.yml").read_text())
    assert config["delay_seconds"] == 600
    assert config["set_timestamp"] is False
    entries = {(entry["aws_namespace"], entry["aws_metric_name"]): entry for entry in config["metrics"]}
    for spec in CATALOG:
        entry = entries[("LarkService", spec.emf_name)]
        assert entry["aws_dimensions"] == list(spec.dimensions)
        if spec.prom_type == "histogram":
            assert entry["aws_extended_statistics"] == ["p95", "p99"]
    for aws in AWS_METRICS:
        assert entries[(aws.namespace, aws.name)]["aws_dimension_select_regex"] == {
            aws.dimension: ["lark-service-.*"]
        }
    assert {ns for ns, _ in entries} == {"LarkService", "AWS/Lambda", "AWS/SQS"}


def test_docs_list_every_catalog_metric() -> None:
    text = (ROOT / "docs/metrics.md").read_text()
    for spec in CATALOG:
        assert f"| `{spec.emf_name}` |" in text
        assert f"`{spec.prom_name}`" in text


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("AWS/Lambda", "aws_lambda"),
        ("LarkService", "lark_service"),
        ("ApproximateNumberOfMessagesVisible", "approximate_number_of_messages_visible"),
        ("FunctionName", "function_name"),
        ("SampleCount", "sample_count"),
        ("event_type", "event_type"),
    ],
)
def test_names_follow_the_cloudwatch_exporters_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


def test_catalog_names_are_unique_and_dimensions_are_not_ids() -> None:
    assert len({spec.emf_name for spec in CATALOG}) == len(CATALOG)
    assert len({spec.prom_name for spec in CATALOG}) == len(CATALOG)
    for spec in CATALOG:
        assert all(not key.endswith("_id") and key != "id" for key in spec.dimensions), spec.emf_name
        assert spec.prom_name.endswith("_total") == (spec.prom_type == "counter")
