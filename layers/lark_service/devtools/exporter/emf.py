"""Parsing and validating CloudWatch Embedded Metric Format documents, without I/O.

The rules follow the EMF specification, so a document this module accepts is one CloudWatch would
extract metrics from, and one it rejects would be dropped in AWS too: finding that out on a laptop
is the point of validating here rather than mapping whatever arrives.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSIONS_PER_SET = 30
MAX_NAMESPACE_LENGTH = 255
MAX_NAME_LENGTH = 1024
VALID_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


class InvalidEmf(ValueError):
    """A document that claims to be EMF (it has ``_aws``) but breaks the specification."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class EmfMetric:
    """One metric of one directive, resolved against the document's root members."""

    namespace: str
    name: str
    unit: str
    values: tuple[float, ...]
    dimension_sets: tuple[tuple[str, ...], ...]
    dimensions: dict[str, str]
    """Every dimension any set of the directive names, with its value."""


@dataclass(frozen=True, slots=True)
class EmfDocument:
    timestamp_ms: int
    metrics: tuple[EmfMetric, ...]


def parse_line(line: str | bytes) -> EmfDocument | None:
    """Parse one log line: ``None`` when it is not EMF, :class:`InvalidEmf` when it is broken EMF.

    Function logs are interleaved with EMF, so anything that is not a JSON object carrying ``_aws``
    is somebody else's line and not an error.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return None
    try:
        root = json.loads(text)
    except ValueError:
        return None
    if not isinstance(root, dict) or "_aws" not in root:
        return None
    return validate(root)


def validate(root: dict[str, Any]) -> EmfDocument:
    meta = root["_aws"]
    if not isinstance(meta, dict):
        raise InvalidEmf("bad_metadata", "_aws must be an object")
    timestamp = meta.get("Timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or timestamp < 0:
        raise InvalidEmf("bad_timestamp", "_aws.Timestamp must be a non-negative number of milliseconds")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise InvalidEmf("bad_directives", "_aws.CloudWatchMetrics must be an array")
    metrics: list[EmfMetric] = []
    for index, directive in enumerate(directives):
        metrics.extend(_directive(root, index, directive))
    return EmfDocument(int(timestamp), tuple(metrics))


def _directive(root: dict[str, Any], index: int, directive: Any) -> list[EmfMetric]:
    where = f"CloudWatchMetrics[{index}]"
    if not isinstance(directive, dict):
        raise InvalidEmf("bad_directives", f"{where} must be an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not 0 < len(namespace) <= MAX_NAMESPACE_LENGTH:
        raise InvalidEmf("bad_namespace", f"{where}.Namespace must be a string of 1-255 characters")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list):
        raise InvalidEmf("bad_dimensions", f"{where}.Dimensions must be an array of arrays")
    dimensions: dict[str, str] = {}
    sets: list[tuple[str, ...]] = []
    for dim_set in dimension_sets:
        if not isinstance(dim_set, list) or not all(isinstance(key, str) for key in dim_set):
            raise InvalidEmf("bad_dimensions", f"{where}.Dimensions must be an array of arrays of strings")
        if len(dim_set) > MAX_DIMENSIONS_PER_SET:
            raise InvalidEmf("bad_dimensions", f"{where} has a dimension set of more than 30 keys")
        for key in dim_set:
            value = root.get(key)
            if not isinstance(value, str) or not value:
                raise InvalidEmf("bad_dimension_value", f"dimension {key!r} needs a non-empty string member")
            dimensions[key] = value
        sets.append(tuple(dim_set))
    definitions = directive.get("Metrics")
    if not isinstance(definitions, list):
        raise InvalidEmf("bad_metrics", f"{where}.Metrics must be an array")
    if len(definitions) > MAX_METRICS_PER_DIRECTIVE:
        raise InvalidEmf("too_many_metrics", f"{where} declares {len(definitions)} metrics (limit 100)")
    out = []
    for definition in definitions:
        name, unit = _definition(where, definition)
        out.append(EmfMetric(namespace, name, unit, _values(root, name), tuple(sets), dict(dimensions)))
    return out


def _definition(where: str, definition: Any) -> tuple[str, str]:
    if not isinstance(definition, dict):
        raise InvalidEmf("bad_metrics", f"{where}.Metrics entries must be objects")
    name = definition.get("Name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        raise InvalidEmf("bad_metric_name", f"{where} has a metric without a Name")
    unit = definition.get("Unit", "None")
    if unit not in VALID_UNITS:
        raise InvalidEmf("bad_unit", f"metric {name!r} has unit {unit!r}, not a CloudWatch unit")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in (1, 60):
        raise InvalidEmf("bad_resolution", f"metric {name!r} has StorageResolution {resolution!r} (1 or 60)")
    return name, str(unit)


def _values(root: dict[str, Any], name: str) -> tuple[float, ...]:
    if name not in root:
        raise InvalidEmf("missing_value", f"metric {name!r} has no member with its values")
    raw = root[name]
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise InvalidEmf("bad_value", f"metric {name!r} has an empty array of values")
    if len(values) > MAX_VALUES_PER_METRIC:
        raise InvalidEmf("too_many_values", f"metric {name!r} has {len(values)} values (limit 100)")
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidEmf("bad_value", f"metric {name!r} has a value that is not a finite number")
        out.append(float(value))
    return tuple(out)
