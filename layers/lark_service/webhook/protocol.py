"""Requests, replies and the shapes of Lark pushes.

Lark sends five shapes to one URL: events in schema 2.0 and 1.0, the ``url_verification``
challenge, the ``card.action.trigger`` callback (2.0 layout) and the legacy message-card
callback. ``classify`` names the shape once; the pipeline authenticates by that name and
``parse`` turns the push into a ``Challenge`` or an ``Envelope``, so nothing downstream, the
worker included, branches on the layout again.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lark_service.envelope import Envelope

CARD_EVENT_TYPE = "card.action.trigger"
"""Both card callback generations are routed under this type; ``Envelope.schema`` tells them apart."""

SIGNATURE = "x-lark-signature"
TIMESTAMP = "x-lark-request-timestamp"
NONCE = "x-lark-request-nonce"

MAX_DEPTH = 64
"""Deepest JSON nesting accepted. Lark's pushes nest a handful of levels; a deeper document could
only exhaust the parser, the worker or its handlers, so it is refused for good at the door."""


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
    """Bounded label for the ack-latency metric: challenge, event, card, duplicate,
    in_progress, rejected, error, health."""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        # ASCII escapes: a reply echoing a lone surrogate (a challenge, a path) still encodes.
        return json.dumps(self.body, separators=(",", ":"))


class Rejected(Exception):
    """A request refused before the ack. ``reason`` is a metric label; ``message`` goes to the caller.

    Messages name the problem and never include secrets, the body or exception text.
    """

    def __init__(self, status: int, reason: str, message: str, *, event_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.event_id = event_id
        """Set when a signed push is refused for good, so the log line names the lost event."""

    def reply(self) -> Reply:
        route = "in_progress" if self.reason == "in_progress" else "rejected"
        return Reply(self.status, {"error": self.reason, "msg": self.message}, route)


class Shape(enum.Enum):
    CHALLENGE = "url_verification"
    EVENT_V2 = "event 2.0"
    EVENT_V1 = "event 1.0"
    CARD_ACTION = "card.action.trigger"
    LEGACY_CARD = "legacy card"


@dataclass(frozen=True, slots=True)
class Challenge:
    """``url_verification``: answered with the challenge as received, never encrypted."""

    challenge: str


def load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object no deeper than ``MAX_DEPTH``; anything else is a 400 naming the problem."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise Rejected(400, "too_deep", f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "bad_json", f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise Rejected(400, "bad_json", f"{what} is not a JSON object")
    # Depth needs at least as many brackets: the walk runs only for bodies that could be too deep.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(doc, MAX_DEPTH):
        raise Rejected(
            400, "too_deep", f"{what} nests deeper than {MAX_DEPTH} levels", event_id=event_id(doc)
        )
    return doc


def _deeper_than(doc: Any, limit: int) -> bool:
    """Iterative, so the check itself cannot overflow the stack it protects."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def classify(doc: Mapping[str, Any]) -> Shape | None:
    """The push's shape, decided once; ``None`` when it matches none."""
    kind = doc.get("type")
    if kind == "url_verification":
        return Shape.CHALLENGE
    if doc.get("schema") == "2.0":
        header = doc.get("header")
        if isinstance(header, dict) and header.get("event_type") == CARD_EVENT_TYPE:
            return Shape.CARD_ACTION
        return Shape.EVENT_V2
    if kind == "event_callback":
        return Shape.EVENT_V1
    if (
        isinstance(doc.get("action"), dict)
        and "schema" not in doc
        and "type" not in doc
        and ("open_message_id" in doc or "open_id" in doc)
    ):
        return Shape.LEGACY_CARD
    return None


def push_token(doc: Mapping[str, Any]) -> str | None:
    """The Verification Token a push carries (2.0 in ``header``, 1.0 and challenges at top level)."""
    header = doc.get("header")
    if doc.get("schema") == "2.0" and isinstance(header, dict):
        return _optional_text(header, "token")
    return _optional_text(doc, "token")


def event_id(doc: Mapping[str, Any]) -> str | None:
    """The event id, when the document carries one (for log lines about refused pushes)."""
    header = doc.get("header")
    found = header.get("event_id") if isinstance(header, dict) else doc.get("uuid")
    return found[:128] if isinstance(found, str) else None


def created_at(shape: Shape, doc: Mapping[str, Any]) -> float | None:
    """When Lark created the push (epoch seconds): 2.0 ``header.create_time`` (ms), 1.0 ``ts`` (s)."""
    if shape in (Shape.EVENT_V2, Shape.CARD_ACTION):
        header = doc.get("header")
        raw, scale = (header.get("create_time") if isinstance(header, dict) else None), 1000.0
    elif shape is Shape.EVENT_V1:
        raw, scale = doc.get("ts"), 1.0
    else:
        return None
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None
    try:
        value = float(raw) / scale
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def parse(shape: Shape, doc: dict[str, Any], raw: bytes, received_at: float) -> Challenge | Envelope:
    """Build the typed push for ``shape``; a missing required field is a 400 naming it.

    The Verification Token is dropped here: the worker never needs it, and a queued message
    (or one parked in the dead-letter queue for two weeks) must not carry a secret.
    """
    if shape is Shape.CHALLENGE:
        return Challenge(_text(doc, "challenge", ""))
    if shape in (Shape.EVENT_V2, Shape.CARD_ACTION):
        header = doc.get("header")
        if not isinstance(header, dict):
            raise Rejected(400, "bad_shape", "header is missing or not an object in a schema 2.0 push")
        card = shape is Shape.CARD_ACTION
        return Envelope(
            kind="card" if card else "event",
            schema="card.v2" if card else "2.0",
            event_id=_identifier(header, "event_id", "header."),
            event_type=_identifier(header, "event_type", "header."),
            tenant_key=_optional_text(header, "tenant_key"),
            received_at=received_at,
            body={**doc, "header": {k: v for k, v in header.items() if k != "token"}},
        )
    if shape is Shape.EVENT_V1:
        event = doc.get("event")
        if not isinstance(event, dict):
            raise Rejected(400, "bad_shape", "event is missing or not an object in a schema 1.0 push")
        return Envelope(
            kind="event",
            schema="1.0",
            event_id=_identifier(doc, "uuid", ""),
            event_type=_identifier(event, "type", "event."),
            tenant_key=_optional_text(event, "tenant_key") or _optional_text(doc, "tenant_key"),
            received_at=received_at,
            body={k: v for k, v in doc.items() if k != "token"},
        )
    # The legacy callback has no event id; a digest of the exact bytes makes a redelivery or a
    # replay of the same request a duplicate, while two clicks (different bodies) stay apart. Its
    # ``token`` is the card's update token (not the Verification Token): the worker needs it.
    return Envelope(
        kind="card",
        schema="card.v1",
        event_id="card1-" + hashlib.sha256(raw).hexdigest()[:40],
        event_type=CARD_EVENT_TYPE,
        tenant_key=_optional_text(doc, "tenant_key"),
        received_at=received_at,
        body=doc,
    )


def card_action(envelope: Envelope) -> str | None:
    """The ``action`` field of a card button's value: the key card handlers register under."""
    action = envelope.event.get("action")
    value = action.get("value") if isinstance(action, dict) else None
    name = value.get("action") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None


def _text(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise Rejected(400, "bad_shape", f"{where}{key} is missing or not a string")
    return value


MAX_IDENTIFIER = 256


def _identifier(doc: Mapping[str, Any], key: str, where: str) -> str:
    """An event id or type: it becomes a DynamoDB key, a metric dimension and a log field, so it
    must be text those accept (bounded, valid Unicode) or the push could never be recorded."""
    value = _text(doc, key, where)
    if len(value) > MAX_IDENTIFIER:
        raise Rejected(400, "bad_shape", f"{where}{key} is longer than {MAX_IDENTIFIER} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected(400, "bad_shape", f"{where}{key} is not valid Unicode text") from None
    return value


def _optional_text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None
