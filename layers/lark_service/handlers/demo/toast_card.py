"""The demo card handler: a button whose value is ``{"action": "demo_toast"}`` gets a toast.

It shows the shape of a card handler: it runs inside Lark's 3 s deadline, so it only builds the
reply; anything slow belongs in a worker handler for ``card.action.trigger``.
"""

from __future__ import annotations

from typing import Any

from lark_service.app import CardContext, Envelope, app

DEMO_ACTION = "demo_toast"


@app.card(DEMO_ACTION)
def demo_toast(envelope: Envelope, ctx: CardContext) -> dict[str, Any] | None:
    if envelope.schema != "card.v2":
        # Legacy callbacks cannot show a toast; their reply is a card or nothing.
        return None
    operator = envelope.event.get("operator")
    who = operator.get("open_id") if isinstance(operator, dict) else None
    return {"toast": {"type": "success", "content": f"Button pressed by {who or 'someone'}"}}
