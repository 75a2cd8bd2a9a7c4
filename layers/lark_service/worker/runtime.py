"""Assembling the worker at cold start: settings, handlers, Lark services, idempotency store."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from lark_service import handlers
from lark_service.app import HandlerContext, app
from lark_service.config import Settings, load_settings
from lark_service.lark.factory import build_services
from lark_service.observability import emit, logger
from lark_service.worker.processor import Worker
from lark_service.worker.tuning import load_worker_tuning


def build_worker(settings: Settings | None = None) -> Worker:
    settings = settings or load_settings()
    handlers.load(demo=settings.demo_handlers)
    services = build_services(settings)
    tuning = load_worker_tuning()
    persistence = DynamoDBPersistenceLayer(table_name=settings.require("idempotency_table"))
    context = HandlerContext(
        settings=settings, lark=services.client, tokens=services.store, log=logger, emit=emit
    )
    return Worker(
        app,
        context,
        persistence,
        max_receive_count=tuning.max_receive_count,
        idempotency_ttl=tuning.idempotency_ttl,
    )
