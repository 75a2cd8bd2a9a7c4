"""Synchronous replies to card callbacks.

Lark shows whatever the callback answers within 3 s (a toast, a new card), so the registered card
handler runs in the webhook. Card handler modules are imported on the first card callback only:
an event push never pays for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from lark_service.envelope import Envelope
from lark_service.handlers.manifest import CARD_MODULES
from lark_service.webhook.protocol import card_action


class CardReplies:
    def __init__(self, modules: Sequence[str] = CARD_MODULES) -> None:
        self._modules = tuple(modules)
        self._loaded = False

    def reply(self, envelope: Envelope) -> dict[str, Any]:
        """The registered handler's body for this action, or ``{}`` when none is registered."""
        from lark_service.router import router  # noqa: PLC0415 - only card callbacks need it

        if not self._loaded:
            for module in self._modules:
                importlib.import_module(module)
            self._loaded = True
        handler = router.card_handler_for(card_action(envelope))
        if handler is None:
            return {}
        return handler(envelope) or {}
