"""Requests, replies and the shapes of Lark pushes.

Lark sends five shapes to one URL: events in schema 2.0 and 1.0, the ``url_verification``
challenge, the ``card.action.trigger`` callback (2.0 layout) and the legacy message-card
callback. ``parse_push`` recognises each and turns it into either a ``Challenge`` or an
``Envelope`` so the rest of the pipeline, and the worker, never branch on the shape again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lark_service.envelope import Envelope

CARD_EVENT_TYPE = "card.action.trigger"
"""Both card callback generations are routed under this type; ``Envelope.schema`` tells them apart."""

SIGNATURE = "x-lark-signature"
TIMESTAMP = "x-lark-request-timestamp"
NONCE = "x-lark-request-nonce"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, independent of how it arrived (Function URL, local server, test)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def create(cls, method: str, path: str, headers: Mapping[str, str] | None, body: bytes) -> Request:
        # Header names are case-insensitive in HTTP; Function URLs lower-case them, other
        # front ends may not, so they are folded once here and looked up lower-case after.
        folded = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        return cls(method.upper(), path, folded, body)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    route: str
    """Bounded label for the ack-latency metric: challenge, event, card, duplicate, unhandled, rejected, error, health."""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)


class Rejected(Exception):
    """A request refused before the ack. ``reason`` is a metric label; ``message`` goes to the caller.

    Messages name the problem and never include secrets, the body or exception text.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.reason, "msg": self.message}, "rejected")


@dataclass(frozen=True, slots=True)
class Challenge:
    """``url_verification``: answered with the challenge as received, never encrypted."""

    challenge: str
    token: str | None


def load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "bad_json", f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise Rejected(400, "bad_json", f"{what} is not a JSON object")
    return doc


def _text(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise Rejected(400, "bad_shape", f"{where}{key} is missing or not a string")
    return value


def _optional_text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def is_legacy_card(doc: Mapping[str, Any]) -> bool:
    """The pre-2.0 card callback: the action at top level, no ``schema`` and no ``type``."""
    return (
        isinstance(doc.get("action"), dict)
        and "schema" not in doc
        and "type" not in doc
        and ("open_message_id" in doc or "open_id" in doc)
    )


def push_token(doc: Mapping[str, Any]) -> str | None:
    """The Verification Token a push carries (2.0 in ``header``, 1.0 and challenges at top level)."""
    header = doc.get("header")
    if doc.get("schema") == "2.0" and isinstance(header, dict):
        return _optional_text(header, "token")
    return _optional_text(doc, "token")


def parse_push(doc: dict[str, Any], raw: bytes, received_at: float) -> Challenge | Envelope:
    """Recognise the push's shape; a push that matches none is a 400 naming what was expected."""
    if doc.get("type") == "url_verification":
        return Challenge(_text(doc, "challenge", ""), _optional_text(doc, "token"))
    if doc.get("schema") == "2.0":
        header = doc.get("header")
        if not isinstance(header, dict):
            raise Rejected(400, "bad_shape", "header is missing or not an object in a schema 2.0 push")
        event_type = _text(header, "event_type", "header.")
        card = event_type == CARD_EVENT_TYPE
        return Envelope(
            kind="card" if card else "event",
            schema="card.v2" if card else "2.0",
            event_id=_text(header, "event_id", "header."),
            event_type=event_type,
            tenant_key=_optional_text(header, "tenant_key"),
            received_at=received_at,
            body=doc,
        )
    if doc.get("type") == "event_callback":
        event = doc.get("event")
        if not isinstance(event, dict):
            raise Rejected(400, "bad_shape", "event is missing or not an object in a schema 1.0 push")
        return Envelope(
            kind="event",
            schema="1.0",
            event_id=_text(doc, "uuid", ""),
            event_type=_text(event, "type", "event."),
            tenant_key=_optional_text(event, "tenant_key") or _optional_text(doc, "tenant_key"),
            received_at=received_at,
            body=doc,
        )
    if is_legacy_card(doc):
        # The legacy callback has no event id; a digest of the exact bytes makes a redelivery or a
        # replay of the same request a duplicate, while two clicks (different bodies) stay apart.
        return Envelope(
            kind="card",
            schema="card.v1",
            event_id="card1-" + hashlib.sha256(raw).hexdigest()[:40],
            event_type=CARD_EVENT_TYPE,
            tenant_key=_optional_text(doc, "tenant_key"),
            received_at=received_at,
            body=doc,
        )
    raise Rejected(
        400,
        "bad_shape",
        "unrecognised push: expected schema 2.0, a 1.0 event_callback, url_verification or a card callback",
    )


def card_action(envelope: Envelope) -> str | None:
    """The ``action`` field of a card button's value: the key card handlers register under."""
    action = envelope.event.get("action")
    value = action.get("value") if isinstance(action, dict) else None
    name = value.get("action") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None
