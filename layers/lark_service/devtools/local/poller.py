"""Lambda's SQS event source mapping, emulated for the local runner and the tests.

It does what the mapping does and nothing more: receive up to ten messages, hand them to the
function as one SQS event, delete the ones not listed in ``batchItemFailures``, and leave the
failures for SQS to redeliver after the visibility timeout. SQS itself counts receives and moves
a message to the DLQ at the redrive limit, so the local DLQ behaves as the real one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class PollResult:
    received: int
    deleted: int
    failed: int


def sqs_client() -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client("sqs")


class SqsPoller:
    def __init__(
        self,
        queue_url: str,
        invoke: Invoke,
        *,
        client: Any | None = None,
        batch_size: int = 10,
        wait_seconds: int = 1,
        visibility_timeout: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be between 1 and 10 (the SQS receive limit)")
        self.queue_url = queue_url
        self.stop = stop or threading.Event()
        self._invoke = invoke
        self._client = client or sqs_client()
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._visibility_timeout = visibility_timeout
        self._arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._arn is None:
            attrs = self._client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._arn = str(attrs["Attributes"]["QueueArn"])
        return self._arn

    def poll_once(self) -> PollResult:
        """Receive one batch, invoke, delete the successes."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self._batch_size,
            "WaitTimeSeconds": self._wait_seconds,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self._visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self._visibility_timeout
        messages = self._client.receive_message(**kwargs).get("Messages", [])
        if not messages:
            return PollResult(0, 0, 0)
        event = self.event_for(messages)
        try:
            result = self._invoke(event)
        except Exception as exc:  # an invocation error fails the whole batch, as in Lambda
            logger.warning(
                "worker invocation failed; %d messages return to the queue: %s", len(messages), exc
            )
            return PollResult(len(messages), 0, len(messages))
        failed = _failed_ids(result, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return PollResult(len(messages), len(done), len(failed))

    def run(self, max_batches: int | None = None) -> None:
        """Poll until ``stop`` is set (or ``max_batches`` non-empty batches were handled)."""
        handled = 0
        while not self.stop.is_set() and (max_batches is None or handled < max_batches):
            try:
                result = self.poll_once()
            except Exception as exc:  # the queue is unreachable: back off, keep the loop alive
                logger.warning("polling %s failed: %s", self.queue_url, exc)
                self.stop.wait(1.0)
                continue
            handled += 1 if result.received else 0

    def event_for(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda would pass for these messages."""
        region = self.queue_arn.split(":")[3]
        return {"Records": [_record(m, self.queue_arn, region) for m in messages]}


def _record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    attrs = message.get("Attributes", {})
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attrs.get("SentTimestamp", "0"),
            "SenderId": attrs.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attrs.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def _failed_ids(result: Any, batch: set[str]) -> set[str]:
    """Lambda's reading of a partial-batch response: anything malformed fails the whole batch."""
    if result is None:
        return set()
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures", []), list):
        return set(batch)
    failed: set[str] = set()
    for item in result.get("batchItemFailures", []):
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if ident not in batch:
            return set(batch)
        failed.add(str(ident))
    return failed
