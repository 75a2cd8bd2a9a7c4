"""The receiver's mapping: EMF from Powertools (through ``emit``) and by hand, onto catalog series."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider import cold_start

from lark_service import observability
from lark_service.devtools.exporter.receiver import Receiver
from lark_service.metrics.catalog import CATALOG, NAMESPACE


def emf(name: str, values: Any, unit: str = "Count", namespace: str = "LarkService", **dims: str) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": namespace,
                        "Dimensions": [list(dims)],
                        "Metrics": [{"Name": name, "Unit": unit}],
                    }
                ],
            },
            name: values,
            **dims,
        }
    )


def value(receiver: Receiver, name: str, **labels: str) -> float | None:
    result: float | None = receiver.registry.get_sample_value(name, labels)
    return result


def emitted(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_counters_add_every_value() -> None:
    receiver = Receiver()
    assert (
        receiver.feed_line(emf("WebhookDuplicates", [1, 2], event_type="im.message.receive_v1")) == "mapped"
    )
    receiver.feed_line(emf("WebhookDuplicates", 4, event_type="im.message.receive_v1"))
    assert value(receiver, "lark_service_webhook_duplicates_total", event_type="im.message.receive_v1") == 7


def test_histograms_observe_each_value_and_convert_milliseconds() -> None:
    receiver = Receiver()
    receiver.feed_line(emf("WebhookAckDuration", [0.004, 0.03], unit="Seconds", route="events"))
    receiver.feed_line(emf("WebhookAckDuration", [200], unit="Milliseconds", route="events"))
    name = "lark_service_webhook_ack_duration_seconds"
    assert value(receiver, f"{name}_count", route="events") == 3
    assert value(receiver, f"{name}_sum", route="events") == pytest.approx(0.234)
    assert value(receiver, f"{name}_bucket", route="events", le="0.005") == 1
    assert value(receiver, f"{name}_bucket", route="events", le="0.25") == 3


def test_gauges_take_the_last_value() -> None:
    receiver = Receiver()
    receiver.feed_line(emf("TokenSecondsToExpiry", [7000, 6500], unit="Seconds", token_type="tenant"))
    assert value(receiver, "lark_service_token_seconds_to_expiry", token_type="tenant") == 6500


def test_extra_dimensions_are_dropped_and_missing_ones_are_counted() -> None:
    receiver = Receiver()
    receiver.feed_line(
        emf("TokenRefreshSuccess", 1, token_type="tenant", service="lark", ServiceType="Lambda")
    )
    assert value(receiver, "lark_service_token_refresh_success_total", token_type="tenant") == 1
    receiver.feed_line(emf("TokenRefreshFailure", 1, token_type="tenant"))
    assert value(receiver, "emf_receiver_unmapped_metrics_total", reason="missing_dimension") == 1
    assert receiver.registry.get_sample_value("lark_service_token_refresh_failure_total", {}) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (emf("SomethingElse", 1, route="x"), "unknown_metric"),
        (emf("WebhookDuplicates", 1, namespace="OtherApp", event_type="x"), "other_namespace"),
        (emf("WebhookDuplicates", -1, event_type="x"), "negative_count"),
    ],
)
def test_valid_emf_that_does_not_map_is_counted(line: str, reason: str) -> None:
    receiver = Receiver()
    assert receiver.feed_line(line) == "mapped"
    assert value(receiver, "emf_receiver_unmapped_metrics_total", reason=reason) == 1


def test_invalid_documents_are_counted_and_logged_but_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    with caplog.at_level(logging.WARNING, logger="lark_service.devtools.exporter"):
        for _ in range(3):
            assert receiver.feed_line('{"_aws": {"Timestamp": 1}}') == "invalid"
    assert value(receiver, "emf_receiver_documents_total", outcome="invalid") == 3
    assert value(receiver, "emf_receiver_invalid_documents_total", reason="bad_directives") == 3
    assert "CloudWatchMetrics must be an array" in caplog.text


def test_a_flood_of_the_same_problem_is_not_logged_line_by_line(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    with caplog.at_level(logging.WARNING, logger="lark_service.devtools.exporter"):
        for _ in range(250):
            receiver.feed_line('{"_aws": {"Timestamp": 1}}')
    assert 20 <= len(caplog.records) <= 25


def test_ordinary_log_lines_are_ignored_silently(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    with caplog.at_level(logging.DEBUG, logger="lark_service.devtools.exporter"):
        receiver.feed_text('{"level":"INFO","message":"hello"}\nREPORT RequestId: 1 Duration: 2 ms\n')
    assert value(receiver, "emf_receiver_ignored_lines_total") == 2
    assert caplog.records == []


def test_every_catalog_metric_emitted_through_powertools_maps(capsys: pytest.CaptureFixture[str]) -> None:
    receiver = Receiver()
    for spec in CATALOG:
        observability.emit(spec.emf_name, 2.0, **{key: f"v-{key}" for key in spec.dimensions})
    lines = emitted(capsys)
    assert len(lines) == len(CATALOG)
    for line in lines:
        assert receiver.feed_line(line) == "mapped"
    assert value(receiver, "emf_receiver_unmapped_metrics_total", reason="unknown_metric") is None
    for spec in CATALOG:
        labels = {key: f"v-{key}" for key in spec.dimensions}
        if spec.prom_type == "histogram":
            assert value(receiver, f"{spec.prom_name}_sum", **labels) == 2.0, spec.emf_name
        else:
            assert value(receiver, spec.prom_name, **labels) == 2.0, spec.emf_name


class FakeContext:
    function_name = "lark-service-dev-webhook"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:lark-service-dev-webhook"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("service", [None, "lark-service"])
def test_powertools_cold_start_metric_maps_with_or_without_a_service_name(
    service: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools adds a ``service`` dimension when POWERTOOLS_SERVICE_NAME is set; it is dropped."""
    metrics = Metrics(namespace=NAMESPACE)
    monkeypatch.setattr(metrics, "service", service)
    monkeypatch.setattr(cold_start, "is_cold_start", True)

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: object) -> None:
        observability.emit("WebhookEventsReceived", event_type="url_verification")

    handler({}, FakeContext())
    handler({}, FakeContext())
    receiver = Receiver()
    receiver.feed_lines(emitted(capsys))
    assert (
        value(receiver, "lark_service_lambda_cold_starts_total", function_name="lark-service-dev-webhook")
        == 1
    )
    assert value(receiver, "lark_service_webhook_events_received_total", event_type="url_verification") == 2
