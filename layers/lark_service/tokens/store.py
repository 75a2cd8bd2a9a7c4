"""The token table: tokens with their absolute expiry, the app_ticket, and refresh locks.

Items are ``{pk, token, expires_at, fetched_at, ttl}``; ``expires_at`` is absolute (epoch
seconds) because Lark's ``expire`` is the remaining lifetime at the moment of the answer and
means nothing once stored. ``ttl`` lets DynamoDB drop dead tokens and stale locks on its own.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

from lark_service.tokens.keys import lock_key, ticket_key

TTL_GRACE = 60 * 60  # keep an expired token an hour: the refresher still finds its tenant


@dataclass(frozen=True, slots=True)
class StoredToken:
    token: str
    expires_at: float
    fetched_at: float

    def remaining(self, now: float) -> float:
        return self.expires_at - now

    def __repr__(self) -> str:
        return f"StoredToken(token=<redacted>, expires_at={self.expires_at}, fetched_at={self.fetched_at})"


def dynamodb_client() -> Any:
    """boto3 honours ``AWS_ENDPOINT_URL``, which is how the local runner points it at moto."""
    import boto3  # noqa: PLC0415 - boto3 costs ~150 ms; only paid when the table is used

    return boto3.client("dynamodb")


class TokenStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def get(self, pk: str) -> StoredToken | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True
        ).get("Item")
        if not item or "token" not in item:
            return None
        return StoredToken(
            token=item["token"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            fetched_at=float(item.get("fetched_at", {"N": "0"})["N"]),
        )

    def put(self, pk: str, token: StoredToken) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": pk},
                "token": {"S": token.token},
                "expires_at": {"N": repr(token.expires_at)},
                "fetched_at": {"N": repr(token.fetched_at)},
                "ttl": {"N": str(math.ceil(token.expires_at) + TTL_GRACE)},
            },
        )

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Every token key starting with ``prefix`` (the store app's tenants); paginated scan."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": prefix}},
            "ProjectionExpression": "pk",
        }
        while True:
            page = self.client.scan(**kwargs)
            keys += [item["pk"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(keys)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- app_ticket --------------------------------------------------------------------------
    def get_ticket(self, app_id: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": ticket_key(app_id)}}, ConsistentRead=True
        ).get("Item")
        return item["ticket"]["S"] if item and "ticket" in item else None

    def put_ticket(
        self, app_id: str, ticket: str, received_at: float, created_at: float | None = None
    ) -> bool:
        """Store the ticket unless one Lark created later is stored already (False then).

        Lark pushes a new ticket hourly and retries old pushes for hours: a late or replayed push
        of an older ticket must not overwrite the newer one.
        """
        created = received_at if created_at is None else created_at
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": ticket_key(app_id)},
                    "ticket": {"S": ticket},
                    "received_at": {"N": repr(received_at)},
                    "created_at": {"N": repr(created)},
                },
                ConditionExpression="attribute_not_exists(created_at) OR created_at < :created",
                ExpressionAttributeValues={":created": {"N": repr(created)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- single-flight lock ------------------------------------------------------------------
    def try_lock(self, pk: str, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the refresh lock for ``pk`` unless someone holds an unexpired lease."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": lock_key(pk)},
                    "owner": {"S": owner},
                    "lease_until": {"N": repr(now + lease_seconds)},
                    "ttl": {"N": str(math.ceil(now + lease_seconds) + TTL_GRACE)},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                ExpressionAttributeValues={":now": {"N": repr(now)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def unlock(self, pk: str, owner: str) -> None:
        """Release the lock if it is still ours (a lease that ran out may belong to another now)."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": lock_key(pk)}},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
