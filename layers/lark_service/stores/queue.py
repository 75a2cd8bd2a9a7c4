"""The events queue: the webhook's only way to hand work to the worker."""

from __future__ import annotations

from typing import Any

from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code


class SqsEventQueue:
    def __init__(self, queue_url: str, *, sqs: Any = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    def send(self, body: str) -> None:
        """Send one ``Envelope.to_json()``; any failure is a ``DependencyError`` (the push is not queued)."""
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except Exception as exc:
            raise DependencyError(f"SQS SendMessage failed ({error_code(exc)})") from exc

    def check(self) -> None:
        try:
            self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        except Exception as exc:
            raise DependencyError(f"SQS GetQueueAttributes failed ({error_code(exc)})") from exc
