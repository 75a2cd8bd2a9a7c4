"""TokenRefreshFunction: on its schedule, fetch every access token the app uses and store it."""

from __future__ import annotations

from typing import Any

from lark_service.config import load_settings
from lark_service.observability import annotate, count_cold_start, logger, tracer
from lark_service.tokens.refresh_job import run_refresh
from lark_service.wiring.lark import build_services

services = build_services(load_settings())


@tracer().capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_cold_start(context, "token_refresh")
    annotate(event_type="schedule")
    try:
        summary = run_refresh(services.refresher, context)
    except Exception:
        annotate(outcome="failed")
        raise
    annotate(outcome="ok")
    return summary
