"""Store apps: keep the ``app_ticket`` Lark pushes (hourly, and after a resend request).

The token refresh needs it to obtain the app access token; it arrives as a schema 1.0 event
(``event.type == "app_ticket"``) and is stored in the token table, where the refresh reads it.
"""

from __future__ import annotations

import time

from lark_service.app import Envelope, HandlerContext, app


@app.event("app_ticket")
def on_app_ticket(envelope: Envelope, ctx: HandlerContext) -> None:
    event = envelope.event
    ticket, app_id = event.get("app_ticket"), event.get("app_id")
    if not isinstance(ticket, str) or not ticket or not isinstance(app_id, str) or not app_id:
        raise ValueError("app_ticket event without event.app_ticket or event.app_id")
    if ctx.app_id and app_id != ctx.app_id:
        ctx.log.warning("app_ticket for another app ignored", extra={"app_id": app_id})
        return
    received = envelope.received_at or time.time()
    if ctx.tokens.put_ticket(app_id, ticket, received, _created_at(envelope) or received):
        ctx.log.info("app_ticket stored", extra={"app_id": app_id})
    else:
        ctx.log.info("older app_ticket ignored: a newer one is stored", extra={"app_id": app_id})


def _created_at(envelope: Envelope) -> float | None:
    """Lark's create time of the push: ``ts`` (epoch seconds, as text) in schema 1.0."""
    ts = envelope.body.get("ts")
    try:
        return float(ts) if isinstance(ts, str | int | float) else None
    except ValueError:
        return None
