"""How prometheus/cloudwatch_exporter names, fetches and stamps what it exports, transliterated.

Every function here follows one method of prometheus/cloudwatch_exporter (``src/main/java/io/
prometheus/cloudwatch/``), so the series our recording rules read are the ones the exporter
really exposes, and a stand-in for the exporter in tests behaves as the real one does:

* ``CloudWatchCollector.toSnakeCase``, ``safeName``, ``safeLabelName`` and ``scrape()`` (the base
  name ``safeName(namespace.toLowerCase() + "_" + toSnakeCase(metric))``, the ``job`` label
  ``safeName(namespace.toLowerCase())``, ``instance=""``, then one label per dimension);
* ``CloudWatchCollector.sampleLabelSuffixBy`` (``_sum``, ``_sample_count``, ...) and the extended
  statistics' suffix ``"_" + safeName(toSnakeCase(stat))`` (``p99.99`` becomes ``_p99_99``);
* ``GetMetricStatisticsDataGetter.metricStatisticsRequestBuilder`` (the request window:
  ``[start - delay - range, start - delay)``) and ``getNewestDatapoint`` (only the newest
  datapoint of the window is exported);
* ``CloudWatchCollector.scrape`` again for ``set_timestamp``: with it (the default) a sample
  carries the datapoint's own timestamp, without it the scrape time.

Java's ``String.replaceAll`` and ``toLowerCase`` (ASCII here) behave as ``re.sub`` and
``str.lower`` for these patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

STATISTIC_SUFFIX = {
    "Sum": "_sum",
    "SampleCount": "_sample_count",
    "Minimum": "_minimum",
    "Maximum": "_maximum",
    "Average": "_average",
}
"""``CloudWatchCollector.sampleLabelSuffixBy``."""


def to_snake_case(name: str) -> str:
    """``CloudWatchCollector.toSnakeCase``: ``replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase()``.

    Note what it does not do: ``LarkService`` becomes ``lark_service`` here, but a namespace is
    never passed through it (``scrape`` only lower-cases the namespace).
    """
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def safe_name(name: str) -> str:
    """``CloudWatchCollector.safeName``: invalid characters to ``_``, runs of ``_`` merged."""
    return re.sub(r"__+", "_", re.sub(r"[^a-zA-Z0-9:_]", "_", name))


def safe_label_name(name: str) -> str:
    """``CloudWatchCollector.safeLabelName``: as ``safe_name`` but ``:`` is invalid too."""
    return re.sub(r"__+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", name))


def base_name(namespace: str, metric_name: str) -> str:
    """The stem of every series of one metric (``scrape``: ``baseName``)."""
    return safe_name(namespace.lower() + "_" + to_snake_case(metric_name))


def job_name(namespace: str) -> str:
    """The ``job`` label the exporter puts on every sample of a namespace (``scrape``: ``jobName``)."""
    return safe_name(namespace.lower())


def label_name(dimension: str) -> str:
    """A dimension's label (``scrape``: ``safeLabelName(toSnakeCase(d.name()))``)."""
    return safe_label_name(to_snake_case(dimension))


def statistic_suffix(statistic: str) -> str:
    """The suffix of a statistic or an extended statistic (``p95``) on the base name."""
    if statistic in STATISTIC_SUFFIX:
        return STATISTIC_SUFFIX[statistic]
    return "_" + safe_name(to_snake_case(statistic))


def series_name(namespace: str, metric_name: str, statistic: str) -> str:
    return base_name(namespace, metric_name) + statistic_suffix(statistic)


def sample_labels(namespace: str, dimensions: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``job``, ``instance`` (empty), then each dimension in the order CloudWatch listed it."""
    labels = [("job", job_name(namespace)), ("instance", "")]
    labels += [(label_name(name), value) for name, value in dimensions]
    return labels


@dataclass(frozen=True, slots=True)
class Timing:
    """``period_seconds``, ``range_seconds``, ``delay_seconds`` and ``set_timestamp`` of one rule."""

    period_seconds: int = 60
    range_seconds: int = 600
    delay_seconds: int = 600
    set_timestamp: bool = True
    """The exporter's own defaults (``CloudWatchCollector.loadConfig``)."""


def request_window(start_ms: int, timing: Timing) -> tuple[int, int]:
    """(StartTime, EndTime) in milliseconds of the GetMetricStatistics request of a scrape.

    ``metricStatisticsRequestBuilder``: ``endTime = start - 1000 * delay``, ``startTime = start -
    1000 * (delay + range)``, ``start`` being the scrape's ``System.currentTimeMillis()``.
    """
    end = start_ms - 1000 * timing.delay_seconds
    return end - 1000 * timing.range_seconds, end


@dataclass(frozen=True, slots=True)
class Datapoint:
    """One period's statistics as GetMetricStatistics returns them (``Datapoint``)."""

    timestamp_ms: int
    statistics: dict[str, float]
    """Statistic (``Sum``) or extended statistic (``p95``) to value."""


def newest(datapoints: Iterable[Datapoint]) -> Datapoint | None:
    """``getNewestDatapoint``: the datapoint with the latest timestamp, the first one on a tie."""
    found: Datapoint | None = None
    for point in datapoints:
        if found is None or found.timestamp_ms < point.timestamp_ms:
            found = point
    return found


def sample_timestamp_ms(datapoint: Datapoint, timing: Timing) -> int | None:
    """The timestamp a sample is exposed with: the datapoint's (``set_timestamp``), else none.

    Without a timestamp Prometheus stamps the sample with its scrape time.
    """
    return datapoint.timestamp_ms if timing.set_timestamp else None
