"""A replayed or late ``app_ticket`` push never overwrites a newer ticket (token table on moto)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pytest

from lark_service.envelope import Envelope
from lark_service.handlers.app_ticket import on_app_ticket
from lark_service.local.aws import Stack
from lark_service.tokens.store import TokenStore

pytestmark = pytest.mark.integration

APP_ID = "cli_ticket_app"


LOG = logging.getLogger("app_ticket")


@dataclass
class Ctx:
    tokens: TokenStore
    app_id: str = APP_ID
    log: logging.Logger = LOG


def _ticket_push(ticket: str, created: float, uuid: str) -> Envelope:
    body = {
        "uuid": uuid,
        "ts": f"{created:.7f}",  # Lark's 1.0 layout: "ts": "1502199207.7171419"
        "type": "event_callback",
        "event": {"app_id": APP_ID, "app_ticket": ticket, "type": "app_ticket"},
    }
    return Envelope("event", "1.0", uuid, "app_ticket", None, time.time(), body)


def test_an_older_ticket_arriving_later_is_ignored(stack: Stack) -> None:
    store = TokenStore(stack.token_table)
    now = time.time()
    on_app_ticket(_ticket_push("ticket-new", now, "u-new"), Ctx(store))
    on_app_ticket(_ticket_push("ticket-old", now - 3600, "u-old"), Ctx(store))  # Lark's late retry
    assert store.get_ticket(APP_ID) == "ticket-new"
    on_app_ticket(_ticket_push("ticket-newer", now + 3600, "u-newer"), Ctx(store))
    assert store.get_ticket(APP_ID) == "ticket-newer"
