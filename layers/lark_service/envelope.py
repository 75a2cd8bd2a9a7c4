"""The message the webhook puts on the queue and the worker takes off it.

Lark pushes come in four shapes (events 2.0 and 1.0, card callbacks new and old); the webhook
normalises them once so the worker routes on ``event_type`` and de-duplicates on ``event_id``
without knowing which shape arrived.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["event", "card"]


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    schema: str  # "2.0", "1.0", "card.v2" (card.action.trigger) or "card.v1" (legacy card)
    event_id: str
    event_type: str
    tenant_key: str | None = None
    received_at: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> dict[str, Any]:
        """The event's own payload: ``event`` for 2.0 pushes and 1.0 events, the body otherwise."""
        inner = self.body.get("event")
        return inner if isinstance(inner, dict) else self.body

    def to_json(self) -> str:
        """ASCII JSON: lossless for any string Lark sends (lone surrogates and U+FFFE included, as
        escapes), and always inside SQS's allowed characters (#x9 #xA #xD #x20-#xD7FF ...)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Envelope:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("envelope is not a JSON object")
        try:
            return cls(
                kind=doc["kind"],
                schema=str(doc["schema"]),
                event_id=str(doc["event_id"]),
                event_type=str(doc["event_type"]),
                tenant_key=doc.get("tenant_key"),
                received_at=float(doc.get("received_at", 0.0)),
                body=dict(doc.get("body") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"envelope is missing or mistypes {exc}") from None
