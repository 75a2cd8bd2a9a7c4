"""Alertmanager's webhook payload, version 4, as its source defines it.

prometheus/alertmanager ``notify/webhook/webhook.go`` (``Message``): the embedded
``template.Data`` plus ``version`` ("4"), ``groupKey`` and ``truncatedAlerts``.
``template/template.go`` (``Data``, ``Alert``): ``receiver``, ``status``, ``alerts``,
``groupLabels``, ``commonLabels``, ``commonAnnotations``, ``externalURL``; each alert has
``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt`` (Go ``time.Time``, RFC 3339;
the zero time when unset), ``generatorURL`` and ``fingerprint``. The group's ``status`` is
"resolved" only when every alert in it is.
"""

from __future__ import annotations

import json
from typing import Any

from lark_service.alerts import fields
from lark_service.alerts.model import Alert, AlertGroup, MalformedAlert

VERSION = "4"
DEFAULT_SEVERITY = "warning"


def parse_webhook(raw: bytes | str) -> AlertGroup:
    """Parse one webhook request body; ``MalformedAlert`` names what does not match version 4."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedAlert(f"body is not JSON ({exc.__class__.__name__})") from None
    return parse_message(doc)


def parse_message(doc: Any) -> AlertGroup:
    body = fields.mapping(doc, "body")
    if body.get("version") != VERSION:
        raise MalformedAlert(
            f"version must be {VERSION!r} (Alertmanager's webhook), got {body.get('version')!r}"
        )
    group_key = fields.text(body, "groupKey", "body")
    status = fields.status(body.get("status"), "body.status")
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list) or not raw_alerts:
        raise MalformedAlert("body.alerts must be a non-empty list")
    common = fields.labels(body, "commonAnnotations", "body")
    alerts = [_alert(item, f"body.alerts[{i}]", common) for i, item in enumerate(raw_alerts)]
    group_labels = fields.labels(body, "groupLabels", "body")
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or truncated < 0:
        raise MalformedAlert("body.truncatedAlerts must be a non-negative integer")
    return AlertGroup(
        key=f"alertmanager:{group_key}",
        source="alertmanager",
        status=status,
        title=group_labels.get("alertname") or alerts[0].name,
        alerts=alerts,
        link=fields.text(body, "externalURL", "body", required=False) or None,
        truncated=truncated,
    )


def _alert(doc: Any, where: str, common: dict[str, str]) -> Alert:
    item = fields.mapping(doc, where)
    labels = fields.labels(item, "labels", where)
    annotations = {**common, **fields.labels(item, "annotations", where)}
    return Alert(
        name=labels.get("alertname", "alert"),
        status=fields.status(item.get("status"), f"{where}.status"),
        severity=labels.get("severity", DEFAULT_SEVERITY),
        summary=annotations.get("summary", ""),
        description=annotations.get("description", ""),
        labels=labels,
        starts_at=fields.timestamp(item.get("startsAt"), f"{where}.startsAt"),
        ends_at=fields.timestamp(item.get("endsAt", "0001-01-01T00:00:00Z"), f"{where}.endsAt"),
        runbook_url=annotations.get("runbook_url") or None,
    )
