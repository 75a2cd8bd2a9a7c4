"""Handler registration, in the style of Bolt's ``@app.event``.

Handler modules register on the process-wide ``router``; the worker imports them all, while the
webhook only needs to know *which* types are handled, which it reads from
``lark_service.handlers.manifest`` without importing handler code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lark_service.envelope import Envelope

EventHandler = Callable[[Envelope, Any], None]
"""Runs in the worker: ``(envelope, context)``; the context carries the Lark client."""
CardHandler = Callable[[Envelope], "dict[str, Any] | None"]
"""Runs in the webhook within Lark's 3 s deadline: returns the toast/card body, or None for ``{}``."""

F = TypeVar("F", bound=Callable[..., Any])


class Router:
    def __init__(self) -> None:
        self.events: dict[str, EventHandler] = {}
        self.cards: dict[str | None, CardHandler] = {}

    def event(self, event_type: str) -> Callable[[F], F]:
        """Register the worker handler for an event type (2.0 ``header.event_type`` or 1.0 ``event.type``)."""

        def register(fn: F) -> F:
            if event_type in self.events:
                raise ValueError(f"a handler for {event_type!r} is registered already")
            self.events[event_type] = fn
            return fn

        return register

    def card(self, action: str | None = None) -> Callable[[F], F]:
        """Register a card-action handler, keyed by the action value's ``action`` field (None: default)."""

        def register(fn: F) -> F:
            if action in self.cards:
                raise ValueError(f"a card handler for {action!r} is registered already")
            self.cards[action] = fn
            return fn

        return register

    def card_handler_for(self, action: str | None) -> CardHandler | None:
        return self.cards.get(action) or self.cards.get(None)


router = Router()
