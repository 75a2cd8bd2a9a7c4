"""The alert notifier: its own settings, the Lark client and the card store."""

from __future__ import annotations

from typing import Any

from lark_service.alerts.notifier import AlertNotifier
from lark_service.alerts.store import AlertCardStore
from lark_service.config import AlertNotifierSettings
from lark_service.wiring.lark import build_services


def build_notifier(settings: AlertNotifierSettings, log: Any = None) -> AlertNotifier:
    """Everything the function needs, built once per cold start; nothing here touches the network."""
    services = build_services(settings)
    return AlertNotifier(
        services.client,
        AlertCardStore(settings.idempotency_table),
        settings.chat_id,
        runbook_url=settings.runbook_url or None,
        tenant_key=settings.tenant_key or None,
        log=log,
    )
