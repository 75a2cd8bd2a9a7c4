"""The alert notifier: its own settings, the Lark client and the card store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lark_service.alerts.notifier import AlertNotifier
from lark_service.alerts.store import AlertCardStore
from lark_service.config import Settings, parse_environment
from lark_service.wiring.lark import build_services


class AlertSettings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    chat_id: str = Field(alias="LARK_ALERT_CHAT_ID", min_length=1)
    runbook_url: str | None = Field(None, alias="LARK_ALERT_RUNBOOK_URL")
    tenant_key: str | None = Field(None, alias="LARK_ALERT_TENANT_KEY")


def build_notifier(
    settings: Settings, environ: Mapping[str, str] | None = None, log: Any = None
) -> AlertNotifier:
    """Everything the function needs, built once per cold start; nothing here touches the network."""
    alerts = parse_environment(AlertSettings, environ)
    services = build_services(settings)
    return AlertNotifier(
        services.client,
        AlertCardStore(settings.require("idempotency_table")),
        alerts.chat_id,
        runbook_url=alerts.runbook_url or None,
        tenant_key=alerts.tenant_key or None,
        log=log,
    )
