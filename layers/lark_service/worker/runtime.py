"""Assembling the worker at cold start: settings, handlers, Lark services, idempotency store."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from lark_service.config import Settings, load_settings
from lark_service.handlers import load_all
from lark_service.lark.factory import build_services
from lark_service.router import router
from lark_service.worker.context import HandlerContext
from lark_service.worker.processor import Worker
from lark_service.worker.tuning import load_worker_tuning


def build_worker(settings: Settings | None = None) -> Worker:
    settings = settings or load_settings()
    load_all()
    services = build_services(settings)
    tuning = load_worker_tuning()
    persistence = DynamoDBPersistenceLayer(table_name=settings.require("idempotency_table"))
    context = HandlerContext(settings=settings, lark=services.client, tokens=services.store)
    return Worker(
        router,
        context,
        persistence,
        max_receive_count=tuning.max_receive_count,
        idempotency_ttl=tuning.idempotency_ttl,
    )
