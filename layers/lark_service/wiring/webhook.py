"""The webhook: its stores and the pipeline, with no HTTP client and no AWS import at build time."""

from __future__ import annotations

from lark_service.config import Settings
from lark_service.observability import emit, logger
from lark_service.stores.dedupe import DynamoDedupeStore
from lark_service.stores.queue import SqsEventQueue
from lark_service.webhook.pipeline import Webhook


def build_webhook(settings: Settings) -> Webhook:
    """Stop at start, naming the variable, when the webhook could neither verify nor deliver."""
    settings.require("verification_token")
    return Webhook(
        settings,
        DynamoDedupeStore(settings.require("idempotency_table"), lease_seconds=settings.dedupe_lease_seconds),
        SqsEventQueue(settings.require("events_queue_url")),
        emit=emit,
        log=logger,
        correlate=logger.set_correlation_id,
    )
