"""The handler API: the one object a bot author imports.

    from lark_service.app import Envelope, HandlerContext, app

    @app.event("im.chat.member.user.added_v1")
    def greet(event: Envelope, ctx: HandlerContext) -> None: ...

A handler module registers on import, and ``lark_service.handlers.load`` imports every module of
the ``lark_service.handlers`` package, so writing the module is the only step: there is no list
of modules or event types to keep in sync. The webhook queues every verified event without
knowing which types are handled (Lark pushes only the types the app subscribed to); the worker
counts and drops the ones nobody handles.

Event and command handlers run in the worker, with a ``HandlerContext`` whose Lark client calls
the Open API as the app. Card handlers run in the webhook, inside Lark's 3 s deadline, with a
``CardContext`` that has no Lark client on purpose: the webhook image carries no HTTP client so
that every push is acknowledged fast. A click is also queued as a ``card.action.trigger`` event,
so work that calls Lark goes in ``@app.event("card.action.trigger")``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from lark_service.envelope import Envelope

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from lark_service.config import Settings
    from lark_service.lark.client import LarkClient
    from lark_service.tokens.store import TokenStore

__all__ = ["CardContext", "Envelope", "HandlerContext", "LarkApp", "app"]

MESSAGE_EVENT = "im.message.receive_v1"
CARD_EVENT = "card.action.trigger"
_MENTION = re.compile(r"@_user_\d+\s*")
_COMMAND = re.compile(r"/[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


@dataclass(slots=True)
class HandlerContext:
    """What a worker handler gets besides the event.

    ``lark`` calls the Open API as the app (tokens, refresh and rate limits handled);
    ``tokens`` is the token table (the app_ticket keeper writes there); ``log`` is the function's
    logger, already carrying the event id; ``emit`` records a metric from the catalog.
    """

    settings: Settings
    lark: LarkClient
    tokens: TokenStore
    log: Logger
    emit: Callable[..., None]
    lambda_context: Any = None

    @property
    def app_id(self) -> str:
        return self.settings.app_id


@dataclass(frozen=True, slots=True)
class CardContext:
    """What a card handler gets in the webhook: settings and logger, no Lark client (see above)."""

    settings: Settings
    log: Logger


EventHandler = Callable[[Envelope, HandlerContext], None]
CommandHandler = Callable[[Envelope, HandlerContext, str], None]
"""``(event, ctx, args)``: ``args`` is the text after the command, stripped."""
CardHandler = Callable[[Envelope, CardContext], "dict[str, Any] | None"]
"""Returns the toast/card body Lark shows, or None for ``{}``."""

F = TypeVar("F", bound=Callable[..., Any])


def message_text(event: Envelope) -> str | None:
    """The text of an ``im.message.receive_v1`` text message, mentions removed; None otherwise."""
    message = event.event.get("message")
    if not isinstance(message, dict) or message.get("message_type") != "text":
        return None
    content = message.get("content")
    if not isinstance(content, str):
        return None
    import json  # noqa: PLC0415 - only text messages need it

    try:
        text = json.loads(content).get("text")
    except (ValueError, AttributeError):
        return None
    return _MENTION.sub("", text).strip() if isinstance(text, str) else None


class LarkApp:
    """The registry of handlers, in the style of Bolt's ``@app.event``."""

    def __init__(self) -> None:
        self.events: dict[str, EventHandler] = {}
        self.commands: dict[str, CommandHandler] = {}
        self.cards: dict[str | None, CardHandler] = {}

    def event(self, event_type: str) -> Callable[[F], F]:
        """Handle an event type (2.0 ``header.event_type``, 1.0 ``event.type``) in the worker."""
        return self._register(self.events, event_type, "an event handler")

    def command(self, name: str) -> Callable[[F], F]:
        """Handle text messages that start with ``name`` (``/help``), before any message handler."""
        if not _COMMAND.match(name):
            raise ValueError(f"command {name!r} must look like /name (letters, digits, _ . -)")
        return self._register(self.commands, name.lower(), "a command handler")

    def card(self, action: str | None = None) -> Callable[[F], F]:
        """Answer a card click whose button value has ``{"action": action}`` (None: any other)."""
        return self._register(self.cards, action, "a card handler")

    @staticmethod
    def _register(table: dict[Any, Any], key: Any, what: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if key in table:
                other = table[key]
                raise ValueError(
                    f"{what} for {key!r} is registered already "
                    f"({other.__module__}.{other.__qualname__}); {fn.__module__}.{fn.__qualname__} "
                    "would replace it"
                )
            table[key] = fn
            return fn

        return register

    def handler_for(self, event: Envelope) -> EventHandler | None:
        """The worker handler for this event: a matching command first, then the event type's."""
        if self.commands and event.event_type == MESSAGE_EVENT:
            text = message_text(event)
            if text and text.startswith("/"):
                name, _, args = text.partition(" ")
                command = self.commands.get(name.lower())
                if command is not None:
                    return lambda ev, ctx: command(ev, ctx, args.strip())
        return self.events.get(event.event_type)

    def card_handler_for(self, action: str | None) -> CardHandler | None:
        return self.cards.get(action) or self.cards.get(None)

    def clear(self) -> None:
        """Forget every registration (tests that load handler modules afresh)."""
        self.events.clear()
        self.commands.clear()
        self.cards.clear()


app = LarkApp()
"""The process's handlers; ``lark_service.handlers.load`` fills it."""
