"""The webhook's de-duplication record: one conditional DynamoDB write per push.

The table is the one Powertools idempotency uses in the worker (key ``id``, TTL attribute
``expiration`` in epoch seconds); the webhook's keys carry their own prefix. A claim starts
``IN_PROGRESS`` with a short lease and becomes ``COMPLETED`` once the push is queued: a failed
enqueue deletes the claim, and a claim left behind by a crashed invocation lapses after the
lease, so in neither case does the record block Lark's retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
LEASE_SECONDS = 10
"""Longer than the webhook's 5 s timeout, shorter than Lark's first retry (~15 s)."""


class DynamoDedupeStore:
    def __init__(
        self,
        table: str,
        ttl_seconds: int,
        *,
        dynamodb: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.ttl = ttl_seconds
        self._dynamodb = dynamodb
        self.clock = clock

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def claim(self, key: str) -> bool:
        now = int(self.clock())
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": key},
                    "expiration": {"N": str(now + self.ttl)},
                    "status": {"S": IN_PROGRESS},
                    "in_progress_expiration": {"N": str(now + LEASE_SECONDS)},
                },
                # Free when absent, past its TTL (DynamoDB deletes lazily), or an abandoned lease.
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now"
                    " OR (#status = :in_progress AND in_progress_expiration < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":in_progress": {"S": IN_PROGRESS}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise DependencyError(f"DynamoDB PutItem failed ({error_code(exc)})") from exc
        return True

    def confirm(self, key: str) -> None:
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

    def release(self, key: str) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                # Never delete a record another invocation completed.
                ConditionExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": {"S": IN_PROGRESS}},
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
