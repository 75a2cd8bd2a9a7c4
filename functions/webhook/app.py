"""Lambda handler for ``POST /lark/events`` and ``GET /health`` behind a Function URL.

Thin on purpose: translate the Function URL event, run the pipeline, shape the response and
time it. Configuration and stores are built once per cold start; botocore is imported only when
the first push needs DynamoDB or SQS, so a challenge or a refused request is answered without it.
"""

from __future__ import annotations

import time
from typing import Any

from lark_service.config import ConfigError, load_settings
from lark_service.observability import count_cold_start, emit, log_lambda_context, logger
from lark_service.webhook.function_url import to_request, to_response
from lark_service.wiring.webhook import build_webhook

try:
    settings = load_settings()
    webhook = build_webhook(settings)
except ConfigError as exc:
    logger.error("configuration error", extra={"error": str(exc)})
    raise


@log_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    count_cold_start(context, "webhook")
    reply = webhook.answer(lambda: to_request(event))
    if reply.status >= 500:
        emit("WebhookErrors", route=reply.route)  # Lark retries these: the error-rate alert watches them
    emit("WebhookAckDuration", time.perf_counter() - started, route=reply.route)
    return to_response(reply)
