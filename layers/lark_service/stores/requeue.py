"""The worker's way back to its queues: a delayed copy on the events queue, or straight to the DLQ.

SQS counts every receive of a message toward the redrive limit, whatever the reason it failed.
Two kinds of event must not be counted that way: one Lark is merely rate-limiting (it will
succeed later, so it goes back as a *new* message with a delay and a fresh receive count) and
one that can never succeed (it goes to the DLQ now instead of after five useless receives).
"""

from __future__ import annotations

from typing import Any

from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code

MAX_DELAY_SECONDS = 900
"""SQS's limit for ``DelaySeconds`` (SendMessage API reference)."""
DEFERRALS_ATTRIBUTE = "lark-deferrals"
"""How many times an event has been put back for a rate limit (a message attribute)."""
REASON_ATTRIBUTE = "lark-dead-letter-reason"
"""Why the worker sent a message to the DLQ itself (a message attribute)."""


class SqsRequeue:
    def __init__(self, events_queue_url: str, dead_letter_queue_url: str, *, sqs: Any = None) -> None:
        self.events_queue_url = events_queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    def defer(self, body: str, *, delay_seconds: int, deferrals: int) -> None:
        """Put ``body`` back on the events queue, invisible for ``delay_seconds`` (0 to 900)."""
        attributes = {DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)}}
        self._send(self.events_queue_url, body, attributes, max(0, min(MAX_DELAY_SECONDS, delay_seconds)))

    def dead_letter(self, body: str, *, reason: str) -> None:
        """Send ``body`` to the DLQ unchanged, so a redrive replays exactly what Lark pushed."""
        attributes = {REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason}}
        self._send(self.dead_letter_queue_url, body, attributes, 0)

    def _send(self, url: str, body: str, attributes: dict[str, Any], delay: int) -> None:
        try:
            self.sqs.send_message(
                QueueUrl=url, MessageBody=body, DelaySeconds=delay, MessageAttributes=attributes
            )
        except Exception as exc:
            raise DependencyError(f"SQS SendMessage failed ({error_code(exc)})") from exc
