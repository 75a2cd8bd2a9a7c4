"""AlertNotifierFunction: CloudWatch alarms (SNS) and Alertmanager's webhook, as cards in a Lark chat."""

from __future__ import annotations

from typing import Any

from lark_service.alerts.entry import handle_event
from lark_service.config import AlertNotifierSettings
from lark_service.observability import annotate, count_cold_start, logger, tracer
from lark_service.wiring.alert_notifier import build_notifier

notifier = build_notifier(AlertNotifierSettings.from_environment(), log=logger)


@tracer().capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_cold_start(context, "alert_notifier")
    annotate(event_type="sns" if "Records" in event else "alertmanager")
    try:
        answer = handle_event(notifier, event, logger)
    except Exception:
        annotate(outcome="failed")
        raise
    annotate(outcome="ok")
    return answer
