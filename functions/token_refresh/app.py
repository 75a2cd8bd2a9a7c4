"""TokenRefreshFunction: on its schedule, fetch every access token the app uses and store it."""

from __future__ import annotations

from typing import Any

from lark_service.config import load_settings
from lark_service.lark.factory import build_services
from lark_service.observability import logger, metrics
from lark_service.tokens.refresh_job import run_refresh

services = build_services(load_settings())


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_refresh(services.refresher, context)
