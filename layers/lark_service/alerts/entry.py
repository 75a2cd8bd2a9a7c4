"""The alert notifier function's two doors, and its configuration.

In AWS the function is subscribed to the stack's alerts topic and gets SNS events carrying
CloudWatch alarms; a malformed one raises ``MalformedAlert`` (a Lambda error naming the field).
Locally it is served over HTTP (``lark-service dev``: ``POST /alerts``) and gets Alertmanager's
webhook as a Function URL event: a malformed body is answered 400, a failure worth retrying
(Lark rate limit, Lark or DynamoDB down) 503, which Alertmanager retries.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from lark_service.alerts.alertmanager import parse_webhook
from lark_service.alerts.cloudwatch import is_sns_event, parse_sns_event
from lark_service.alerts.model import MalformedAlert
from lark_service.alerts.notifier import AlertNotifier
from lark_service.lark.errors import LarkError, LarkRateLimited, LarkTransientError
from lark_service.stores import DependencyError

PATH = "/alerts"


def handle_event(notifier: AlertNotifier, event: Any, log: Any) -> dict[str, Any]:
    if is_sns_event(event):
        groups = parse_sns_event(event)
        deliveries = [notifier.deliver(group) for group in groups if group is not None]
        for delivery in deliveries:
            log.info("alert delivered", extra={"group": delivery.group_key, "outcome": delivery.outcome})
        return {"deliveries": [{"group": d.group_key, "outcome": d.outcome} for d in deliveries]}
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        return _http(notifier, event, log)
    raise MalformedAlert("event is neither an SNS notification nor an HTTP request")


def _http(notifier: AlertNotifier, event: dict[str, Any], log: Any) -> dict[str, Any]:
    http = event["requestContext"].get("http") or {}
    method, path = http.get("method", ""), event.get("rawPath") or http.get("path", "")
    if path != PATH:
        return _reply(404, {"error": "not_found", "msg": f"POST Alertmanager's webhook to {PATH}"})
    if method != "POST":
        return _reply(405, {"error": "method_not_allowed", "msg": f"{PATH} takes POST"})
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
        group = parse_webhook(raw)
    except binascii.Error:
        return _reply(400, {"error": "malformed", "msg": "body is not valid base64"})
    except MalformedAlert as exc:
        log.warning("malformed alert payload", extra={"error": str(exc)})
        return _reply(400, {"error": "malformed", "msg": str(exc)})
    try:
        delivery = notifier.deliver(group)
    except (LarkRateLimited, LarkTransientError, DependencyError) as exc:
        log.warning("alert not delivered; Alertmanager will retry", extra={"error": str(exc)})
        return _reply(503, {"error": "unavailable", "msg": str(exc)})
    except LarkError as exc:
        log.error("Lark refused the alert card", extra={"error": str(exc)})
        return _reply(500, {"error": "lark_error", "msg": str(exc)})
    log.info("alert delivered", extra={"group": delivery.group_key, "outcome": delivery.outcome})
    return _reply(200, {"status": "ok", "outcome": delivery.outcome, "message_id": delivery.message_id})


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
