"""Recorded series names follow Prometheus' ``level:metric:operations`` convention.

Prometheus docs, "Recording rules" best practices: ``level`` is the aggregation level and the
labels of the output, ``metric`` the metric name (``_total`` stripped when taking a rate), and
``operations`` the operations applied, newest first. Series aggregated over every label carry
the level ``stack`` here (the module's docstring).
"""

from __future__ import annotations

from lark_service.devtools.render import rules
from lark_service.metrics.catalog import CATALOG


def test_the_level_is_the_labels_kept_or_stack() -> None:
    assert rules.level(()) == "stack"
    assert rules.level(("endpoint",)) == "endpoint"
    assert rules.level(("method", "endpoint", "status")) == "method_endpoint_status"


def test_the_stack_wide_ratios_use_the_stack_level() -> None:
    for name in (rules.API_ERROR_RATIO, rules.WEBHOOK_ERROR_RATIO, rules.WORKER_ERROR_RATIO):
        assert name.split(":")[0] == rules.level(())


def test_a_catalog_metric_is_found_by_its_emf_name() -> None:
    for spec in CATALOG:
        assert rules._spec(spec.emf_name) is spec
    assert rules._spec("ApiRequests") is rules.API_REQUESTS
