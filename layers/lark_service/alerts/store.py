"""Which Lark message shows which alert group: one DynamoDB item per group.

The items live in the stack's idempotency table (key ``id``, TTL attribute ``expiration``) under
their own ``alert-card#`` prefix; the group key is hashed because Alertmanager's group keys
carry label values of any length. An item lives as long as Lark lets an app update a message
(14 days): after that the next notification for the group starts a new card.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark_service.alerts.model import Status
from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code

PREFIX = "alert-card#"
CARD_LIFETIME_SECONDS = 14 * 24 * 60 * 60
"""Lark updates only messages sent within the last 14 days."""


@dataclass(frozen=True, slots=True)
class CardRecord:
    message_id: str
    episode: int
    """Counts firing episodes of the group: a group that fires again after resolving gets a new card."""
    status: Status
    card_sha256: str


def record_id(group_key: str) -> str:
    return PREFIX + hashlib.sha256(group_key.encode("utf-8")).hexdigest()


class AlertCardStore:
    def __init__(self, table: str, *, dynamodb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self._dynamodb = dynamodb
        self._clock = clock

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def get(self, group_key: str) -> CardRecord | None:
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table, Key={"id": {"S": record_id(group_key)}}, ConsistentRead=True
            )
        except Exception as exc:
            raise DependencyError(f"DynamoDB GetItem failed ({error_code(exc)})") from exc
        item = answer.get("Item")
        # DynamoDB deletes expired items lazily: an item past its TTL is gone for us.
        if not item or int(item["expiration"]["N"]) < self._clock():
            return None
        status = item["status"]["S"]
        return CardRecord(
            message_id=item["message_id"]["S"],
            episode=int(item["episode"]["N"]),
            status="resolved" if status == "resolved" else "firing",
            card_sha256=item["card_sha256"]["S"],
        )

    def put(self, group_key: str, record: CardRecord, *, new_card: bool) -> None:
        """Save the group's card; ``new_card`` restarts its lifetime (an update keeps the old one)."""
        now = int(self._clock())
        key = {"id": {"S": record_id(group_key)}}
        values = {
            ":message_id": {"S": record.message_id},
            ":episode": {"N": str(record.episode)},
            ":status": {"S": record.status},
            ":card": {"S": record.card_sha256},
            ":expiration": {"N": str(now + CARD_LIFETIME_SECONDS)},
        }
        expiration = ":expiration" if new_card else "if_not_exists(expiration, :expiration)"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=(
                    "SET message_id = :message_id, episode = :episode, #status = :status,"
                    f" card_sha256 = :card, expiration = {expiration}"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            raise DependencyError(f"DynamoDB UpdateItem failed ({error_code(exc)})") from exc
