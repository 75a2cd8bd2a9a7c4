"""The webhook: its stores and the pipeline, with no HTTP client and no AWS import at build time."""

from __future__ import annotations

from lark_service.config import WebhookSettings
from lark_service.observability import emit, logger
from lark_service.stores.dedupe import DynamoDedupeStore
from lark_service.stores.queue import SqsEventQueue
from lark_service.webhook.pipeline import Webhook


def build_webhook(settings: WebhookSettings) -> Webhook:
    """The settings' required fields were checked at parse time; this only assembles."""
    return Webhook(
        settings,
        DynamoDedupeStore(settings.idempotency_table, lease_seconds=settings.dedupe_lease_seconds),
        SqsEventQueue(settings.events_queue_url),
        emit=emit,
        log=logger,
        correlate=logger.set_correlation_id,
    )
