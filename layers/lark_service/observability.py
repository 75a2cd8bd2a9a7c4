"""Logger and metrics, one of each per process.

Powertools is the only observability import on the Lambda path; the EMF it prints on stdout is
what CloudWatch (in AWS) or the local receiver (on a laptop) turns into metrics.
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lark_service.metrics.catalog import BY_EMF_NAME, NAMESPACE

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)

# ``emit`` flushes each metric on its own, so the shared metric set that ``log_metrics`` flushes is
# empty by design; Powertools would warn about that on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def emit(name: str, value: float = 1.0, **dimensions: str) -> None:
    """Emit one catalog metric with exactly its declared dimensions.

    Each metric carries its own dimensions (a rejection's reason, an API's endpoint), which a
    shared Powertools metric set cannot express, so every call is its own EMF document.
    """
    spec = BY_EMF_NAME.get(name)
    if spec is None:
        raise KeyError(f"metric {name!r} is not in the catalog")
    if set(dimensions) != set(spec.dimensions):
        raise ValueError(f"metric {name} takes dimensions {spec.dimensions}, got {tuple(dimensions)}")
    with single_metric(name=name, unit=MetricUnit(spec.unit), value=value, namespace=NAMESPACE) as metric:
        for key in spec.dimensions:
            metric.add_dimension(name=key, value=dimensions[key] or "none")


_cold = True


def count_cold_start(context: Any, fallback_name: str) -> None:
    """Count the process's first invocation as Powertools' ``ColdStart`` metric does.

    Powertools' own ``capture_cold_start_metric`` needs a full Lambda context; the functions
    are also invoked with none (tests, ``lark-service invoke``), so the count is kept here.
    """
    global _cold  # noqa: PLW0603 - a process has one cold start
    if _cold:
        _cold = False
        emit("ColdStart", function_name=getattr(context, "function_name", None) or fallback_name)
