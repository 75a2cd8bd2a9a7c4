"""The demo bot: answer a text message in the same chat, so a new install shows the whole loop.

It replies with Lark's ``uuid`` de-duplication key derived from the event id: should a retry
run the handler again after a reply went out (a crash between the reply and the idempotency
record), Lark drops the second reply instead of posting it twice.
"""

from __future__ import annotations

import json
import re

from lark_service.app import Envelope, HandlerContext, app

MENTION = re.compile(r"@_user_\d+\s*")


def reply_text(text: str) -> str:
    """What the bot answers; mentions of the bot itself are dropped from the echo."""
    said = MENTION.sub("", text).strip()
    return f"You said: {said}" if said else "Hello! Send me some text and I will echo it."


@app.event("im.message.receive_v1")
def on_message(envelope: Envelope, ctx: HandlerContext) -> None:
    event = envelope.event
    sender = event.get("sender") or {}
    message = event.get("message") or {}
    if sender.get("sender_type") == "app":
        return  # never answer a bot, our own replies included
    if message.get("message_type") != "text":
        ctx.log.info("demo bot ignores non-text message", extra={"message_type": message.get("message_type")})
        return
    message_id = message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("im.message.receive_v1 without event.message.message_id")
    try:
        text = json.loads(message.get("content") or "{}").get("text", "")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ValueError("text message content is not a JSON object") from exc
    ctx.lark.reply_message(
        message_id,
        msg_type="text",
        content={"text": reply_text(str(text))},
        uuid=f"reply-{envelope.event_id}",
        tenant_key=envelope.tenant_key,
    )
