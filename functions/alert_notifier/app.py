"""AlertNotifierFunction: CloudWatch alarms (SNS) and Alertmanager's webhook, as cards in a Lark chat."""

from __future__ import annotations

from typing import Any

from lark_service.alerts.entry import handle_event
from lark_service.config import load_settings
from lark_service.observability import count_cold_start, logger
from lark_service.wiring.alert_notifier import build_notifier

notifier = build_notifier(load_settings(), log=logger)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_cold_start(context, "alert_notifier")
    return handle_event(notifier, event, logger)
