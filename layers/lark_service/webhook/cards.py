"""Synchronous replies to card callbacks.

Lark shows whatever the callback answers within 3 s (a toast, a new card), so the registered card
handler runs in the webhook. Handler modules are imported on the first card callback only: an
event push never pays for them.
"""

from __future__ import annotations

from typing import Any

from lark_service.config import Settings
from lark_service.envelope import Envelope
from lark_service.webhook.protocol import card_action


class CardReplies:
    def __init__(self, settings: Settings, log: Any) -> None:
        self._settings = settings
        self._log = log
        self._loaded = False

    def reply(self, envelope: Envelope) -> dict[str, Any]:
        """The registered handler's body for this action, or ``{}`` when none is registered."""
        # Deferred: only card callbacks need the handler modules.
        from lark_service import handlers  # noqa: PLC0415
        from lark_service.app import CardContext, app  # noqa: PLC0415

        if not self._loaded:
            handlers.load(demo=self._settings.demo_handlers)
            self._loaded = True
        handler = app.card_handler_for(card_action(envelope))
        if handler is None:
            return {}
        return handler(envelope, CardContext(settings=self._settings, log=self._log)) or {}
