"""The interactive card for one alert group (Lark's message card JSON).

Card layout follows Lark's message card format: ``config``, a ``header`` whose ``template`` sets
its colour, and ``elements`` (``div`` with ``fields``, ``action`` with link buttons, ``note``).
``update_multi: true`` makes it a shared card, which is what Lark's "update a message card"
API (``PATCH /open-apis/im/v1/messages/:message_id``) requires for an update everyone sees.
Alert text goes in ``plain_text`` elements only: a label value must never become markdown, a
link or an @-mention. The card is a pure function of the group, so a redelivered notification
renders byte-identical and can be recognised as such.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lark_service.alerts.model import Alert, AlertGroup

COLOURS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}
RESOLVED_COLOUR = "green"
UNKNOWN_COLOUR = "grey"
MAX_ALERTS = 10
"""More would overflow the 30 KB a card update may carry; the rest are counted, not shown."""
MAX_TEXT = 1000
SEVERITY_ORDER = ("critical", "error", "warning", "info")


def runbook_for(alert: Alert, runbook_base: str | None) -> str | None:
    """The alert's own ``runbook_url`` annotation, else the runbook page's anchor for its name."""
    if alert.runbook_url:
        return alert.runbook_url
    if runbook_base:
        return f"{runbook_base}#{alert.name.lower()}"
    return None


def colour(group: AlertGroup) -> str:
    if group.status == "resolved":
        return RESOLVED_COLOUR
    firing = {a.severity.lower() for a in group.alerts if a.status == "firing"}
    for severity in SEVERITY_ORDER:
        if severity in firing:
            return COLOURS[severity]
    return UNKNOWN_COLOUR


def render_card(group: AlertGroup, runbook_base: str | None = None) -> dict[str, Any]:
    firing = sum(1 for a in group.alerts if a.status == "firing")
    if group.status == "firing":
        title = f"[FIRING:{firing}] {group.title}" if len(group.alerts) > 1 else f"[FIRING] {group.title}"
    else:
        title = f"[RESOLVED] {group.title}"
    elements: list[dict[str, Any]] = []
    shown = group.alerts[:MAX_ALERTS]
    for index, alert in enumerate(shown):
        if index:
            elements.append({"tag": "hr"})
        elements.extend(_alert_elements(alert, runbook_for(alert, runbook_base)))
    hidden = len(group.alerts) - len(shown) + group.truncated
    if hidden:
        elements.append(_plain(f"… and {hidden} more alert(s) in this group."))
    source, place = (
        ("Alertmanager", "Alertmanager")
        if group.source == "alertmanager"
        else ("CloudWatch alarm", "CloudWatch")
    )
    if group.link:
        elements.append({"tag": "action", "actions": [_button(f"Open in {place}", group.link, "default")]})
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": f"Source: {source}"}]})
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {"template": colour(group), "title": {"tag": "plain_text", "content": _cut(title, 200)}},
        "elements": elements,
    }


def _alert_elements(alert: Alert, runbook: str | None) -> list[dict[str, Any]]:
    elements = [_plain(alert.summary or alert.name)]
    if alert.description:
        elements.append(_plain(alert.description))
    facts = [("Severity", alert.severity), ("Status", alert.status)]
    if alert.starts_at:
        facts.append(("Started", _time(alert.starts_at)))
    if alert.status == "resolved" and alert.ends_at:
        facts.append(("Resolved", _time(alert.ends_at)))
    elements.append(
        {
            "tag": "div",
            "fields": [
                {"is_short": True, "text": {"tag": "plain_text", "content": f"{name}: {value}"}}
                for name, value in facts
            ],
        }
    )
    shown = {k: v for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")}
    if shown:
        elements.append(_plain("Labels: " + ", ".join(f"{k}={v}" for k, v in shown.items())))
    if runbook:
        elements.append({"tag": "action", "actions": [_button("Runbook", runbook, "primary")]})
    return elements


def _plain(content: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "plain_text", "content": _cut(content, MAX_TEXT)}}


def _button(label: str, url: str, kind: str) -> dict[str, Any]:
    return {"tag": "button", "text": {"tag": "plain_text", "content": label}, "type": kind, "url": url}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
