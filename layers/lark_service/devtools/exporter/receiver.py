"""EMF in, Prometheus series out, through the metric catalog.

The receiver is a library first: ``lark-service dev`` hands it every output line of the function
processes in-process (``feed_line``), and the ``exporter`` command wraps the same object with
sockets, stdin and files. Nothing here blocks on I/O except the optional HTTP server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

from lark_service.devtools.exporter.emf import EmfMetric, InvalidEmf, parse_line
from lark_service.metrics.catalog import (
    CATALOG,
    NAMESPACE,
    QUEUE_DEPTH_METRIC,
    MetricDef,
)

log = logging.getLogger("lark_service.devtools.exporter")

Outcome = Literal["ignored", "invalid", "mapped"]
_TIME_UNITS = {"Seconds": 1.0, "Milliseconds": 1e-3, "Microseconds": 1e-6}
_LOG_FIRST = 20
_LOG_EVERY = 100


class Receiver:
    """Maps valid EMF documents onto prometheus-client series; counts and logs the rest."""

    def __init__(self, registry: CollectorRegistry | None = None, catalog: Iterable[MetricDef] = CATALOG):
        self.registry = registry if registry is not None else CollectorRegistry()
        self._by_name = {spec.emf_name: spec for spec in catalog}
        self._series: dict[str, Any] = {}
        for spec in self._by_name.values():
            self._series[spec.emf_name] = _make_series(spec, self.registry)
        self._documents = Counter(
            "emf_receiver_documents",
            "EMF documents received, by outcome (mapped or invalid).",
            ["outcome"],
            registry=self.registry,
        )
        self._invalid = Counter(
            "emf_receiver_invalid_documents",
            "EMF documents that break the specification, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._unmapped = Counter(
            "emf_receiver_unmapped_metrics",
            "Valid EMF metrics that did not map to a catalog series, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._ignored = Counter(
            "emf_receiver_ignored_lines",
            "Lines that were not EMF (ordinary log output).",
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            QUEUE_DEPTH_METRIC,
            "Messages visible in a watched SQS queue (the local AWS/SQS ApproximateNumberOfMessagesVisible).",
            ["queue_name"],
            registry=self.registry,
        )
        self._problems: dict[str, int] = {}
        self._lock = threading.Lock()
        self._http: list[Any] = []

    # -- input -----------------------------------------------------------------------------------
    def feed_line(self, line: str | bytes) -> Outcome:
        """Take one line of function output; never raises on bad input."""
        try:
            document = parse_line(line)
        except InvalidEmf as exc:
            return self.reject(exc.reason, exc.detail)
        if document is None:
            self._ignored.inc()
            return "ignored"
        self._documents.labels("mapped").inc()
        for metric in document.metrics:
            self._map(metric)
        return "mapped"

    def reject(self, reason: str, detail: str) -> Outcome:
        """Count and log a document that cannot be used; the sources call this for oversized lines."""
        self._documents.labels("invalid").inc()
        self._invalid.labels(reason).inc()
        self._warn(reason, "invalid EMF document (%s): %s", reason, detail)
        return "invalid"

    def feed_text(self, text: str | bytes) -> None:
        """Take a chunk holding any number of newline-separated lines (a UDP datagram, a log file)."""
        lines = text.splitlines()
        for line in lines:
            if line.strip():
                self.feed_line(line)

    def feed_lines(self, lines: Iterable[str | bytes]) -> None:
        for line in lines:
            self.feed_line(line)

    def set_queue_depth(self, queue_name: str, messages: float) -> None:
        self._queue_depth.labels(queue_name).set(messages)

    # -- output ----------------------------------------------------------------------------------
    def start_http(self, port: int = 9090, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` in a daemon thread; returns the bound port (useful with port 0)."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._http.append((server, thread))
        bound: int = server.server_port
        return bound

    def stop(self) -> None:
        for server, thread in self._http:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._http.clear()

    # -- mapping ---------------------------------------------------------------------------------
    def _map(self, metric: EmfMetric) -> None:
        if metric.namespace != NAMESPACE:
            self._unmapped.labels("other_namespace").inc()
            return
        spec = self._by_name.get(metric.name)
        if spec is None:
            self._unmapped.labels("unknown_metric").inc()
            self._warn(f"unknown:{metric.name}", "EMF metric %r is not in the catalog", metric.name)
            return
        missing = [key for key in spec.dimensions if key not in metric.dimensions]
        if missing:
            self._unmapped.labels("missing_dimension").inc()
            self._warn(f"dims:{spec.emf_name}", "EMF metric %s lacks dimensions %s", spec.emf_name, missing)
            return
        labels = [metric.dimensions[key] for key in spec.dimensions]
        series = self._series[spec.emf_name]
        series = series.labels(*labels) if labels else series
        values = _in_catalog_unit(spec, metric)
        if spec.prom_type == "counter":
            if any(value < 0 for value in values):
                self._unmapped.labels("negative_count").inc()
                self._warn(f"neg:{spec.emf_name}", "EMF metric %s has a negative count", spec.emf_name)
                return
            series.inc(sum(values))
        elif spec.prom_type == "histogram":
            for value in values:
                series.observe(value)
        else:
            series.set(values[-1])

    def _warn(self, key: str, message: str, *args: object) -> None:
        """Log a problem, but not every one of a flood of identical ones."""
        with self._lock:
            seen = self._problems[key] = self._problems.get(key, 0) + 1
        if seen <= _LOG_FIRST or seen % _LOG_EVERY == 0:
            log.warning(message + " [seen %d times]", *args, seen)


def _make_series(spec: MetricDef, registry: CollectorRegistry) -> Any:
    labels = list(spec.dimensions)
    if spec.prom_type == "counter":
        return Counter(spec.prom_name.removesuffix("_total"), spec.help, labels, registry=registry)
    if spec.prom_type == "histogram":
        return Histogram(spec.prom_name, spec.help, labels, registry=registry, buckets=spec.buckets)
    return Gauge(spec.prom_name, spec.help, labels, registry=registry)


def _in_catalog_unit(spec: MetricDef, metric: EmfMetric) -> tuple[float, ...]:
    """Durations may arrive in ms or µs (another EMF producer's habit); Prometheus wants seconds."""
    have, want = _TIME_UNITS.get(metric.unit), _TIME_UNITS.get(spec.unit)
    if have is None or want is None or have == want:
        return metric.values
    return tuple(value * have / want for value in metric.values)
