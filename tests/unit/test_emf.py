"""EMF validation against the specification: what CloudWatch would drop, the receiver rejects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lark_service.devtools.exporter.emf import EmfDocument, InvalidEmf, parse_line


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "LarkService",
                    "Dimensions": [["reason"]],
                    "Metrics": [{"Name": "WebhookRequestsRejected", "Unit": "Count"}],
                }
            ],
        },
        "reason": "bad_signature",
        "WebhookRequestsRejected": 1,
    }
    doc.update(overrides)
    return doc


def directive(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc["_aws"]["CloudWatchMetrics"][0]
    return result


def test_a_valid_document_resolves_names_values_and_dimensions() -> None:
    parsed = parse_line(json.dumps(document(WebhookRequestsRejected=[1, 2.5])))
    assert parsed is not None
    assert parsed.timestamp_ms == 1_700_000_000_000
    (metric,) = parsed.metrics
    assert (metric.namespace, metric.name, metric.unit) == ("LarkService", "WebhookRequestsRejected", "Count")
    assert metric.values == (1.0, 2.5)
    assert metric.dimensions == {"reason": "bad_signature"}


@pytest.mark.parametrize(
    "line",
    [
        "",
        "START RequestId: 8f5e Version: $LATEST",
        '{"level":"INFO","message":"event enqueued"}',
        "[1, 2, 3]",
        '{"_aws": broken',
        b"\xff\xfe not utf-8",
    ],
)
def test_lines_that_are_not_emf_are_ignored(line: str | bytes) -> None:
    assert parse_line(line) is None


def _mutations() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []

    def case(reason: str, mutate: Any) -> None:
        cases.append((reason, mutate))

    case("bad_metadata", lambda d: d.__setitem__("_aws", "nope"))
    case("bad_timestamp", lambda d: d["_aws"].pop("Timestamp"))
    case("bad_timestamp", lambda d: d["_aws"].__setitem__("Timestamp", "2024-01-01"))
    case("bad_timestamp", lambda d: d["_aws"].__setitem__("Timestamp", -1))
    case("bad_directives", lambda d: d["_aws"].pop("CloudWatchMetrics"))
    case("bad_directives", lambda d: d["_aws"].__setitem__("CloudWatchMetrics", [7]))
    case("bad_namespace", lambda d: directive(d).pop("Namespace"))
    case("bad_namespace", lambda d: directive(d).__setitem__("Namespace", ""))
    case("bad_dimensions", lambda d: directive(d).__setitem__("Dimensions", ["reason"]))
    case("bad_dimensions", lambda d: directive(d).__setitem__("Dimensions", [[1]]))
    case("bad_dimensions", lambda d: directive(d).__setitem__("Dimensions", [[f"d{i}" for i in range(31)]]))
    case("bad_dimension_value", lambda d: d.pop("reason"))
    case("bad_dimension_value", lambda d: d.__setitem__("reason", 3))
    case("bad_dimension_value", lambda d: d.__setitem__("reason", ""))
    case("bad_metrics", lambda d: directive(d).pop("Metrics"))
    case("bad_metrics", lambda d: directive(d).__setitem__("Metrics", ["WebhookRequestsRejected"]))
    case("bad_metric_name", lambda d: directive(d).__setitem__("Metrics", [{"Unit": "Count"}]))
    case("bad_unit", lambda d: directive(d)["Metrics"][0].__setitem__("Unit", "Widgets"))
    case("bad_resolution", lambda d: directive(d)["Metrics"][0].__setitem__("StorageResolution", 5))
    case(
        "too_many_metrics",
        lambda d: directive(d).__setitem__("Metrics", [{"Name": "WebhookRequestsRejected"}] * 101),
    )
    case("missing_value", lambda d: d.pop("WebhookRequestsRejected"))
    case("bad_value", lambda d: d.__setitem__("WebhookRequestsRejected", "1"))
    case("bad_value", lambda d: d.__setitem__("WebhookRequestsRejected", [1, None]))
    case("bad_value", lambda d: d.__setitem__("WebhookRequestsRejected", True))
    case("bad_value", lambda d: d.__setitem__("WebhookRequestsRejected", []))
    case("too_many_values", lambda d: d.__setitem__("WebhookRequestsRejected", list(range(101))))
    return cases


@pytest.mark.parametrize(("reason", "mutate"), _mutations())
def test_documents_that_break_the_specification_are_rejected_with_a_reason(reason: str, mutate: Any) -> None:
    doc = copy.deepcopy(document())
    mutate(doc)
    with pytest.raises(InvalidEmf) as caught:
        parse_line(json.dumps(doc))
    assert caught.value.reason == reason
    assert caught.value.detail


def test_nan_and_infinity_are_not_values() -> None:
    line = json.dumps(document()).replace('"WebhookRequestsRejected": 1', '"WebhookRequestsRejected": NaN')
    with pytest.raises(InvalidEmf, match="finite"):
        parse_line(line)


def test_one_hundred_values_and_metrics_are_still_allowed() -> None:
    doc = document(WebhookRequestsRejected=list(range(100)))
    directive(doc)["Metrics"] = [{"Name": "WebhookRequestsRejected"}] * 100
    parsed = parse_line(json.dumps(doc))
    assert parsed is not None
    assert len(parsed.metrics) == 100
    assert len(parsed.metrics[0].values) == 100


@given(st.one_of(st.text(), st.binary(), st.recursive(st.none() | st.integers() | st.text(), st.lists)))
def test_arbitrary_input_never_raises_anything_but_invalid_emf(value: object) -> None:
    line = value if isinstance(value, str | bytes) else json.dumps({"_aws": value})
    outcome: object
    try:
        outcome = parse_line(line)
    except InvalidEmf as exc:
        outcome = exc.reason
    assert outcome is None or isinstance(outcome, EmfDocument | str)
