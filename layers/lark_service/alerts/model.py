"""What the notifier works on, whichever system raised the alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["firing", "resolved"]


class MalformedAlert(ValueError):
    """The payload is not what its source documents; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    status: Status
    severity: str
    summary: str
    description: str
    labels: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None = None
    runbook_url: str | None = None


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """One notification: ``key`` identifies the group across notifications (and so its card)."""

    key: str
    source: Literal["alertmanager", "cloudwatch"]
    status: Status
    title: str
    alerts: list[Alert] = field(default_factory=list)
    link: str | None = None
    """Where the group can be seen at its source (Alertmanager's UI, the alarm's console page)."""
    truncated: int = 0
    """Alerts the source left out of the payload (Alertmanager's ``max_alerts``)."""
