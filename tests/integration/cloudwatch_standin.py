"""Stand-ins for CloudWatch and for prometheus/cloudwatch_exporter, each built from its source.

**CloudWatch** is moto's server (the real CloudWatch wire protocol, reached with boto3 over
HTTP) with two read paths replaced, because moto's own (``moto/cloudwatch/models.py``, 5.2)
differ from CloudWatch where the exporter depends on them: its ``get_metric_statistics`` starts
periods at the first datum instead of the rounded ``StartTime``, ignores ``ExtendedStatistics``
(no percentiles) and matches dimensions as a subset, and ``are_dimensions_same`` compares every
pair of dimensions (so ``list_metrics`` repeats multi-dimension metrics). The replacements follow
the GetMetricStatistics and ListMetrics API reference (``exporter.cloudwatch_semantics``):
exact dimension sets, minute-rounded start, exclusive end, minutes read whole, percentiles.
Metrics get in the way CloudWatch Logs puts them in: each EMF document is extracted per the EMF
specification (``exporter.emf``), one metric per dimension set, and stored with ``PutMetricData``.

**The exporter** follows ``CloudWatchCollector.scrape`` with the default data getter
(``GetMetricStatisticsDataGetter``) and dimension source (``DefaultDimensionSource.listDimensions``):
per configured metric one ListMetrics call filtered on the dimension names (``RecentlyActive``
when the range is under 3 hours), metrics with more dimensions dropped, ``aws_dimension_select_regex``
applied; per combination one GetMetricStatistics call for the window of ``request_window``; the
newest datapoint exported under the transliterated names and labels, stamped with its own
timestamp when ``set_timestamp`` holds. It serves the Prometheus text format on ``/metrics``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto.cloudwatch import models as cw_models
from moto.cloudwatch import responses as cw_responses
from moto.core.responses import ActionResult
from moto.server import ThreadedMotoServer

from lark_service.devtools.exporter.cloudwatch_semantics import Value, get_metric_statistics
from lark_service.devtools.exporter.emf import parse_line
from lark_service.devtools.local.aws import free_port
from lark_service.metrics import cloudwatch_exporter as exporter

REGION = "us-east-1"


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)


def _dims(items: Iterable[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((d.name, d.value) for d in items)


Series = dict[tuple[str, str, frozenset[tuple[str, str]]], list[Value]]
_SERIES: dict[int, tuple[int, Series]] = {}
"""moto backend -> (its datum count, its data by namespace, name and dimension set)."""


def _series(backend: Any) -> Series:
    """The backend's data grouped by metric, regrouped only after a put (moto only appends).

    Every exporter scrape asks for each metric once per dimension set; scanning every stored datum
    on each of those calls made a scrape slow enough, on a busy machine, to miss a minute.
    """
    data = backend.metric_data
    count = len(data)
    cached = _SERIES.get(id(backend))
    if cached is None or cached[0] != count:
        grouped: Series = {}
        for md in data[:count]:
            if isinstance(md, cw_models.MetricDatum):
                key = (md.namespace, md.name, _dims(md.dimensions))
                grouped.setdefault(key, []).append(Value(_ms(md.timestamp), md.value))
        cached = (count, grouped)
        _SERIES[id(backend)] = cached
    return cached[1]


def _exact_statistics(self: cw_responses.CloudWatchResponse) -> ActionResult:
    """GetMetricStatistics as the API reference describes it (replaces moto's handler)."""
    namespace = self._get_param("Namespace")
    name = self._get_param("MetricName")
    wanted = frozenset((d["Name"], d["Value"]) for d in self._get_param("Dimensions", []))
    statistics = [*self._get_param("Statistics", []), *self._get_param("ExtendedStatistics", [])]
    stored = _series(self.cloudwatch_backend).get((namespace, name, wanted), [])
    points = get_metric_statistics(
        stored,
        _ms(self._get_param("StartTime")),
        _ms(self._get_param("EndTime")),
        int(self._get_param("Period")),
        statistics,
    )
    datapoints = []
    for point in points:
        item: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(point.timestamp_ms / 1000, UTC)}
        extended = {k: v for k, v in point.statistics.items() if k.startswith("p")}
        item.update({k: v for k, v in point.statistics.items() if not k.startswith("p")})
        if extended:
            item["ExtendedStatistics"] = extended
        datapoints.append(item)
    return ActionResult({"Label": name, "Datapoints": datapoints})


def _exact_list_metrics(self: cw_responses.CloudWatchResponse) -> ActionResult:
    """ListMetrics: every metric that has the filter's dimensions (possibly more), each once."""
    backend = self.cloudwatch_backend
    namespace = self._get_param("Namespace")
    name = self._get_param("MetricName")
    filters = self._get_params().get("Dimensions", [])
    seen: dict[tuple[str, str, frozenset[tuple[str, str]]], list[dict[str, str]]] = {}
    for md in backend.metric_data:
        if md.namespace != namespace or (name and md.name != name):
            continue
        present = {d.name: d.value for d in md.dimensions}
        if all(f["Name"] in present and f.get("Value") in (None, present[f["Name"]]) for f in filters):
            key = (md.namespace, md.name, _dims(md.dimensions))
            seen.setdefault(key, [{"Name": d.name, "Value": d.value} for d in md.dimensions])
    metrics = [
        {"Namespace": ns, "MetricName": metric, "Dimensions": dims} for (ns, metric, _), dims in seen.items()
    ]
    return ActionResult({"Metrics": metrics})


class CloudWatch:
    """moto's server in this process, with exact GetMetricStatistics and ListMetrics."""

    def __init__(self, region: str = REGION) -> None:
        self._saved = (
            cw_responses.CloudWatchResponse.get_metric_statistics,
            cw_responses.CloudWatchResponse.list_metrics,
        )
        cw_responses.CloudWatchResponse.get_metric_statistics = _exact_statistics  # type: ignore[method-assign]
        cw_responses.CloudWatchResponse.list_metrics = _exact_list_metrics  # type: ignore[method-assign]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.client = boto3.client("cloudwatch", endpoint_url=self.endpoint, region_name=region)

    def close(self) -> None:
        self.server.stop()
        _SERIES.clear()
        (
            cw_responses.CloudWatchResponse.get_metric_statistics,
            cw_responses.CloudWatchResponse.list_metrics,
        ) = self._saved  # type: ignore[method-assign]

    def put_emf(self, lines: Iterable[str], shift_ms: int = 0) -> int:
        return put_emf(self.client, lines, shift_ms)

    def put(self, namespace: str, name: str, dimensions: dict[str, str], value: float, at_ms: int) -> None:
        put_value(self.client, namespace, name, dimensions, value, at_ms)


def put_emf(client: Any, lines: Iterable[str], shift_ms: int = 0) -> int:
    """Extract EMF documents as CloudWatch Logs does (one metric per dimension set) and store them.

    ``shift_ms`` moves every timestamp: the end-to-end test replays a recorded workload into
    the minutes the exporter is about to read, instead of waiting out its delay.
    """
    data: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        document = parse_line(line)
        if document is None:
            continue
        stamp = datetime.fromtimestamp((document.timestamp_ms + shift_ms) / 1000, UTC)
        for metric in document.metrics:
            for dimension_set in metric.dimension_sets:
                data.setdefault(metric.namespace, []).append(
                    {
                        "MetricName": metric.name,
                        "Dimensions": [{"Name": k, "Value": metric.dimensions[k]} for k in dimension_set],
                        "Timestamp": stamp,
                        "Values": list(metric.values),
                        "Unit": metric.unit,
                    }
                )
    count = 0
    for namespace, items in data.items():
        for first in range(0, len(items), 500):  # PutMetricData takes up to 1000 items
            client.put_metric_data(Namespace=namespace, MetricData=items[first : first + 500])
        count += len(items)
    return count


def put_value(
    client: Any, namespace: str, name: str, dimensions: dict[str, str], value: float, at_ms: int
) -> None:
    """A metric AWS itself publishes (SQS queue depth)."""
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": datetime.fromtimestamp(at_ms / 1000, UTC),
                "Value": value,
            }
        ],
    )


class Exporter:
    """prometheus/cloudwatch_exporter's scrape over a config file's ``metrics``, served over HTTP."""

    def __init__(self, config: dict[str, Any], cloudwatch: Any, clock: Callable[[], float]) -> None:
        self.config = config
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.requests: dict[str, int] = {"listMetrics": 0, "getMetricStatistics": 0}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None

    def _timing(self, rule: dict[str, Any]) -> exporter.Timing:
        def pick(key: str, default: Any) -> Any:
            return rule.get(key, self.config.get(key, default))

        return exporter.Timing(
            period_seconds=pick("period_seconds", 60),
            range_seconds=pick("range_seconds", 600),
            delay_seconds=pick("delay_seconds", 600),
            set_timestamp=pick("set_timestamp", True),
        )

    def _dimensions(self, rule: dict[str, Any], timing: exporter.Timing) -> list[list[dict[str, str]]]:
        request: dict[str, Any] = {
            "Namespace": rule["aws_namespace"],
            "MetricName": rule["aws_metric_name"],
            "Dimensions": [{"Name": name} for name in rule["aws_dimensions"]],
        }
        if timing.range_seconds < 10800:
            request["RecentlyActive"] = "PT3H"
        found = []
        token = None
        while True:
            answer = self.cloudwatch.list_metrics(**request, **({"NextToken": token} if token else {}))
            self.requests["listMetrics"] += 1
            for metric in answer.get("Metrics", []):
                if len(metric["Dimensions"]) != len(rule["aws_dimensions"]):
                    continue  # "AWS returns all the metrics with dimensions beyond the ones we ask for"
                regexes = rule.get("aws_dimension_select_regex") or {}
                if all(
                    any(re.fullmatch(pattern, d["Value"]) for pattern in regexes[d["Name"]])
                    for d in metric["Dimensions"]
                    if d["Name"] in regexes
                ):
                    found.append(metric["Dimensions"])
            token = answer.get("NextToken")
            if not token:
                return found

    def scrape(self) -> list[str]:
        """One scrape: the text-format lines the exporter would serve now."""
        start_ms = int(self.clock() * 1000)
        lines: list[str] = []
        for rule in self.config["metrics"]:
            timing = self._timing(rule)
            begin, end = exporter.request_window(start_ms, timing)
            statistics = rule.get("aws_statistics", [])
            extended = rule.get("aws_extended_statistics", [])
            for dimensions in self._dimensions(rule, timing):
                answer = self.cloudwatch.get_metric_statistics(
                    Namespace=rule["aws_namespace"],
                    MetricName=rule["aws_metric_name"],
                    Dimensions=dimensions,
                    StartTime=datetime.fromtimestamp(begin / 1000, UTC),
                    EndTime=datetime.fromtimestamp(end / 1000, UTC),
                    Period=timing.period_seconds,
                    **({"Statistics": statistics} if statistics else {}),
                    **({"ExtendedStatistics": extended} if extended else {}),
                )
                self.requests["getMetricStatistics"] += 1
                points = []
                for dp in answer["Datapoints"]:
                    values = {k: float(v) for k, v in dp.items() if k in exporter.STATISTIC_SUFFIX}
                    values.update({k: float(v) for k, v in dp.get("ExtendedStatistics", {}).items()})
                    points.append(exporter.Datapoint(_ms(dp["Timestamp"]), values))
                point = exporter.newest(points)
                if point is None:
                    continue
                labels = exporter.sample_labels(
                    rule["aws_namespace"], [(d["Name"], d["Value"]) for d in dimensions]
                )
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                stamp = exporter.sample_timestamp_ms(point, timing)
                for statistic, value in point.statistics.items():
                    name = exporter.series_name(rule["aws_namespace"], rule["aws_metric_name"], statistic)
                    suffix = f" {stamp}" if stamp is not None else ""
                    lines.append(f"{name}{{{rendered}}} {value!r}{suffix}")
        return lines

    def serve(self) -> int:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    with owner._lock:
                        body = ("\n".join(owner.scrape()) + "\n").encode()
                    status = 200
                except Exception as exc:  # a failed scrape is an error sample in the real exporter
                    owner.errors.append(f"{type(exc).__name__}: {exc}")
                    body, status = b"cloudwatch_exporter_scrape_error 1\n", 200
                self.send_response(status)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return int(self._http.server_address[1])

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
