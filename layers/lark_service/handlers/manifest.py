"""What the handlers handle, readable without importing them.

The webhook acknowledges every verified push but enqueues only the types listed here, and it
must learn them without paying for handler imports on its cold path. A unit test loads every
handler module and fails when this list and the router disagree.
"""

from __future__ import annotations

HANDLER_MODULES: tuple[str, ...] = (
    "lark_service.handlers.demo_bot",
    "lark_service.handlers.app_ticket",
)

EVENT_TYPES: frozenset[str] = frozenset({"im.message.receive_v1", "app_ticket"})
"""Event types with a registered worker handler."""

CARD_MODULES: tuple[str, ...] = ("lark_service.handlers.demo_card",)
"""Modules holding card handlers: the webhook imports these, and only these, on a card callback."""
