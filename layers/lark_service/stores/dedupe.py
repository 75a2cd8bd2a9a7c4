"""The webhook's de-duplication record: one conditional DynamoDB write per push.

The table is the one Powertools idempotency uses in the worker (key ``id``, TTL attribute
``expiration`` in epoch seconds); the webhook's keys carry their own prefix.

A record's life:

* ``claim`` writes ``IN_PROGRESS`` with this request's own ``claim`` id and a short lease. The
  write succeeds when no live record exists: none at all, one past ``expiration`` (DynamoDB's TTL
  sweeper deletes lazily, so an expired record may still be there), or an ``IN_PROGRESS`` record
  whose lease ran out (its request crashed or timed out).
* botocore retries a PutItem whose answer was lost (read timeout, connection reset) although the
  first attempt was written. The retry then meets this request's own record; the failed condition
  returns that record (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), and a record carrying our
  claim id is ours: ``CLAIMED``, not a duplicate.
* ``confirm`` marks the record ``COMPLETED`` once the push is on the queue. A ``COMPLETED``
  record means "queued": only then is a redelivery a ``DUPLICATE``.
* ``release`` deletes the record when the enqueue failed, so Lark's retry is not refused; it
  deletes only an ``IN_PROGRESS`` record holding this request's claim id, never a ``COMPLETED``
  record and never another request's claim.
* A record held ``IN_PROGRESS`` by another request is ``BUSY``: that delivery may still fail, so
  this copy must not be acknowledged as done; the webhook answers so that Lark retries.

``expiration`` is chosen by the caller: at least the end of the replay window of the push's
(signed) timestamp, so a replay the signature check would still accept always meets the record.
"""

from __future__ import annotations

import enum
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
LEASE_SECONDS = 10
"""Longer than the webhook's 5 s timeout (a live request never loses its claim), shorter than
Lark's first retry (~15 s), so a claim left by a crashed request never blocks that retry."""


class Claim(enum.Enum):
    CLAIMED = "claimed"
    """The record is this request's: go on and enqueue."""
    DUPLICATE = "duplicate"
    """A ``COMPLETED`` record: the push is on the queue already."""
    BUSY = "busy"
    """Another request holds a live ``IN_PROGRESS`` claim: not done yet, let Lark retry."""


def new_claim_id() -> str:
    return uuid.uuid4().hex


class DynamoDedupeStore:
    def __init__(
        self,
        table: str,
        *,
        lease_seconds: float = LEASE_SECONDS,
        dynamodb: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.lease = lease_seconds
        self._dynamodb = dynamodb
        self.clock = clock

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def claim(self, key: str, claim_id: str, expires_at: float) -> Claim:
        now = self.clock()
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": key},
                    "claim": {"S": claim_id},
                    "expiration": {"N": str(math.ceil(expires_at))},
                    "status": {"S": IN_PROGRESS},
                    "in_progress_expiration": {"N": _number(now + self.lease)},
                },
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now"
                    " OR (#status = :in_progress AND in_progress_expiration < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": _number(now)},
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise DependencyError(f"DynamoDB PutItem failed ({error_code(exc)})") from exc
            return _holder(getattr(exc, "response", {}).get("Item") or {}, claim_id)
        return Claim.CLAIMED

    def confirm(self, key: str, claim_id: str) -> None:
        """Mark the push as queued (idempotent: botocore may send it twice)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                UpdateExpression="SET #status = :completed REMOVE in_progress_expiration",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":completed": {"S": COMPLETED}},
            )
        except Exception as exc:
            raise DependencyError(f"DynamoDB UpdateItem failed ({error_code(exc)})") from exc

    def release(self, key: str, claim_id: str) -> None:
        """Drop this request's unconfirmed claim; anything else (COMPLETED, another claim) stays."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                ConditionExpression="#status = :in_progress AND #claim = :claim",
                ExpressionAttributeNames={"#status": "status", "#claim": "claim"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":claim": {"S": claim_id},
                },
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise DependencyError(f"DynamoDB DeleteItem failed ({error_code(exc)})") from exc

    def check(self) -> None:
        try:
            self.dynamodb.describe_table(TableName=self.table)
        except Exception as exc:
            raise DependencyError(f"DynamoDB DescribeTable failed ({error_code(exc)})") from exc


def _holder(item: dict[str, Any], claim_id: str) -> Claim:
    """What the record that failed our condition means for this request."""
    if item.get("claim", {}).get("S") == claim_id:
        return Claim.CLAIMED  # our own earlier attempt was written; its answer was lost
    if item.get("status", {}).get("S") == COMPLETED:
        return Claim.DUPLICATE
    return Claim.BUSY


def _number(value: float) -> str:
    return f"{value:.3f}"
