"""WorkerFunction: an SQS batch of Lark events, each run once by its registered handler."""

from __future__ import annotations

from typing import Any

from lark_service.observability import logger, metrics
from lark_service.worker.runtime import build_worker

worker = build_worker()


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return worker.handle(event, context)
