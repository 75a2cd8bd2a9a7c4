"""What CloudWatch answers a GetMetricStatistics request with, as its API reference documents it.

Shared by the promtool test generator (which replays the exporter's scrapes against it) and by
the CloudWatch stand-in of the end-to-end test, so both follow one reading of the documentation
(Amazon CloudWatch API Reference, ``GetMetricStatistics``):

* ``StartTime`` is inclusive and, for data less than 15 days old, rounded down to the whole
  minute (12:32:34 becomes 12:32:00) when the period is 60 s or more; ``EndTime`` is exclusive.
* Values are stored at one-minute resolution (``MetricDatum.StorageResolution`` 60, the default,
  which the functions' EMF keeps): CloudWatch keeps a minute's values as one aggregate, so a
  request sees a minute whole or not at all. A minute is in the answer when it starts inside the
  requested window: an ``EndTime`` of 12:05:30 returns all of 12:05, never just its first 30 s.
* Datapoints are the periods of length ``Period`` from the rounded start, each aggregating the
  minutes that fall in it; a period without values has no datapoint.
* A metric is identified by namespace, name and its *complete* dimension set: a request returns
  only values stored with exactly the dimensions it names.
* Percentile statistics (``p95``) come from the period's values; this stand-in takes the
  nearest-rank percentile of the raw values (CloudWatch's exact method is unpublished; EMF
  values are raw samples, so it is exact up to CloudWatch's ~1 % bucketing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lark_service.metrics.cloudwatch_exporter import Datapoint

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Value:
    """One value as stored: what EMF extraction (or PutMetricData) put in."""

    timestamp_ms: int
    value: float


def round_start(start_ms: int, period_seconds: int) -> int:
    """``StartTime`` as CloudWatch uses it: whole minutes for periods of a minute or more."""
    step = MINUTE_MS if period_seconds >= 60 else period_seconds * 1000
    return start_ms - start_ms % step


def percentile(values: Sequence[float], statistic: str) -> float:
    """Nearest-rank percentile for ``pNN`` / ``pNN.N``."""
    rank = float(statistic[1:]) / 100.0
    ordered = sorted(values)
    index = max(0, math.ceil(rank * len(ordered)) - 1)
    return ordered[index]


def statistic_of(values: Sequence[float], statistic: str) -> float:
    if statistic == "Sum":
        return float(sum(values))
    if statistic == "SampleCount":
        return float(len(values))
    if statistic == "Minimum":
        return float(min(values))
    if statistic == "Maximum":
        return float(max(values))
    if statistic == "Average":
        return float(sum(values)) / len(values)
    if statistic.startswith("p"):
        return percentile(values, statistic)
    raise ValueError(f"unsupported statistic {statistic!r}")


def get_metric_statistics(
    stored: Iterable[Value],
    start_ms: int,
    end_ms: int,
    period_seconds: int,
    statistics: Sequence[str],
) -> list[Datapoint]:
    """The datapoints of one metric (its values already matched by exact dimension set)."""
    start = round_start(start_ms, period_seconds)
    period_ms = period_seconds * 1000
    buckets: dict[int, list[float]] = {}
    for item in stored:
        minute = item.timestamp_ms - item.timestamp_ms % MINUTE_MS
        if start <= minute < end_ms:
            bucket = start + (minute - start) // period_ms * period_ms
            buckets.setdefault(bucket, []).append(item.value)
    return [
        Datapoint(bucket, {stat: statistic_of(values, stat) for stat in statistics})
        for bucket, values in sorted(buckets.items())
    ]
