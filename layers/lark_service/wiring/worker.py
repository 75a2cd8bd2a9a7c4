"""Assembling the worker at cold start: settings, handlers, Lark services, idempotency store, queues."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from lark_service import handlers
from lark_service.app import HandlerContext, app
from lark_service.config import Settings, load_settings
from lark_service.observability import emit, logger
from lark_service.stores.requeue import SqsRequeue
from lark_service.wiring.lark import build_services
from lark_service.worker.processor import Worker
from lark_service.worker.tuning import WorkerTuning, load_worker_tuning


def build_worker(settings: Settings | None = None, tuning: WorkerTuning | None = None) -> Worker:
    settings = settings or load_settings()
    tuning = tuning or load_worker_tuning()
    handlers.load(demo=settings.demo_handlers)
    services = build_services(settings)
    persistence = DynamoDBPersistenceLayer(table_name=settings.require("idempotency_table"))
    context = HandlerContext(
        settings=settings, lark=services.client, tokens=services.store, log=logger, emit=emit
    )
    return Worker(app, context, persistence, tuning=tuning, requeue=_requeue(settings, tuning))


def _requeue(settings: Settings, tuning: WorkerTuning) -> SqsRequeue | None:
    missing = [
        name
        for name, value in (
            ("EVENTS_QUEUE_URL", settings.events_queue_url),
            ("EVENTS_DLQ_URL", tuning.dead_letter_queue_url),
        )
        if not value
    ]
    if missing or not settings.events_queue_url or not tuning.dead_letter_queue_url:
        # Everything still works, only less well: rate-limited and hopeless events then take the
        # queue's redrive path (counted receives), which is what this warning is about.
        logger.warning(
            "worker cannot requeue: rate-limited events count toward the redrive limit and "
            "hopeless ones reach the DLQ only after it",
            extra={"missing": missing},
        )
        return None
    return SqsRequeue(settings.events_queue_url, tuning.dead_letter_queue_url)
