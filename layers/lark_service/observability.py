"""The logger, the metric emitter and the tracer: one of each per process.

Powertools is the only observability import on the Lambda path; the EMF it prints on stdout is
what CloudWatch (in AWS) or the local receiver (on a laptop) turns into metrics.

The tracer is created on first use, not at import: Powertools' ``Tracer`` loads the X-Ray SDK and
patches libraries, about 15 ms of CPU at a cold start even after botocore and httpx are loaded
(``bench/tracer_import.py``), a tenth of the webhook's whole cold start. The worker, the token
refresh and the alert notifier take that at init; the webhook never does, because everything it
runs comes before Lark's ack. Lambda's active tracing still records the webhook's invocation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lark_service.metrics.catalog import BY_EMF_NAME, NAMESPACE

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
# No shared ``Metrics`` object: ``emit`` prints each metric as its own EMF document
# (``single_metric``), which never goes through ``Metrics.flush_metrics`` or its
# "No application metrics to publish" warning.


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


Handler = TypeVar("Handler", bound=Callable[[Any, Any], Any])


def log_lambda_context(handler: Handler) -> Handler:
    """Powertools' ``inject_lambda_context`` (request id, function name, cold start on every log
    line), for handlers that are also called without a context (tests, in-process callers)."""
    injected = logger.inject_lambda_context(clear_state=True)(handler)

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        return injected(event, context) if context is not None else handler(event, context)

    return wrapper  # type: ignore[return-value]


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


_tracer: Tracer | None = None
TRACED_MODULES = ("botocore", "httpx")
"""What the functions call AWS and Lark through. The X-Ray SDK's default patches every library it
supports that imports (sqlite3, ``http.client`` under botocore's own calls, ...): more subsegments
and more start-up for nothing the functions use."""


def tracer() -> Tracer:
    """The process's Powertools tracer (X-Ray), created on first call; never call it before an ack."""
    global _tracer  # noqa: PLW0603 - one tracer a process
    if _tracer is None:
        from aws_lambda_powertools import Tracer  # noqa: PLC0415 - 230-270 ms: see the module docstring

        _tracer = Tracer(patch_modules=TRACED_MODULES)
    return _tracer


def annotate(**annotations: str | bool) -> None:
    """Put searchable X-Ray annotations on the current (sub)segment, when this process traces.

    A no-op where no tracer was created (the webhook, tests), so domain code may call it freely.
    Keys follow X-Ray's rule (letters, digits, underscores); values never carry secrets.
    """
    if _tracer is None:
        return
    for key, value in annotations.items():
        _tracer.put_annotation(key=key, value=value)
