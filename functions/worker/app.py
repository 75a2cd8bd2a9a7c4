"""WorkerFunction: an SQS batch of Lark events, each run once by its registered handler."""

from __future__ import annotations

from typing import Any

from lark_service.observability import count_cold_start, logger
from lark_service.worker.runtime import build_worker

worker = build_worker()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_cold_start(context, "worker")
    return worker.handle(event, context)
