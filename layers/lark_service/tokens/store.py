"""The token table: tokens with their absolute expiry, the app_ticket, and refresh locks.

Items are ``{pk, token, expires_at, fetched_at, ttl}``; ``expires_at`` is absolute (epoch
seconds) because Lark's ``expire`` is the remaining lifetime at the moment of the answer and
means nothing once stored. ``ttl`` lets DynamoDB drop dead tokens and stale locks on its own.

Every AWS failure leaves here as ``DependencyError`` (the stores' one error contract), so the
refresh can tell "the table is down" from a Lark failure without importing botocore.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lark_service.stores import DependencyError
from lark_service.stores.aws import client, error_code
from lark_service.tokens.keys import lock_key, ticket_key

TTL_GRACE = 60 * 60  # keep an expired token an hour: the refresher still finds its tenant
CONDITION_FAILED = "ConditionalCheckFailedException"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredToken:
    token: str
    expires_at: float
    fetched_at: float

    def remaining(self, now: float) -> float:
        return self.expires_at - now

    def __repr__(self) -> str:
        return f"StoredToken(token=<redacted>, expires_at={self.expires_at}, fetched_at={self.fetched_at})"


class TokenStore:
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            raise DependencyError(f"DynamoDB {operation} failed ({error_code(exc)})") from exc

    def get(self, pk: str) -> StoredToken | None:
        item = self._get_item(pk)
        if not item or "token" not in item:
            return None
        return StoredToken(
            token=item["token"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            fetched_at=float(item.get("fetched_at", {"N": "0"})["N"]),
        )

    def _get_item(self, pk: str) -> dict[str, Any] | None:
        answer = self._call(
            "GetItem",
            lambda: self.client.get_item(
                TableName=self.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True
            ),
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def put(self, pk: str, token: StoredToken) -> None:
        item = {
            "pk": {"S": pk},
            "token": {"S": token.token},
            "expires_at": {"N": repr(token.expires_at)},
            "fetched_at": {"N": repr(token.fetched_at)},
            "ttl": {"N": str(math.ceil(token.expires_at) + TTL_GRACE)},
        }
        self._call("PutItem", lambda: self.client.put_item(TableName=self.table_name, Item=item))

    def expiries_with_prefix(self, prefix: str) -> dict[str, float]:
        """``{pk: expires_at}`` of every token key starting with ``prefix`` (a store app's tenants).

        The expiry comes along so the refresh can renew the stalest tokens first.
        """
        found: dict[str, float] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": prefix}},
            "ProjectionExpression": "pk, expires_at",
        }
        while True:
            page = self._call("Scan", lambda: self.client.scan(**kwargs))
            for item in page.get("Items", []):
                found[item["pk"]["S"]] = float(item.get("expires_at", {"N": "0"})["N"])
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- app_ticket --------------------------------------------------------------------------
    def get_ticket(self, app_id: str) -> str | None:
        item = self._get_item(ticket_key(app_id))
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
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise DependencyError(f"DynamoDB PutItem failed ({error_code(exc)})") from exc
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
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise DependencyError(f"DynamoDB PutItem failed ({error_code(exc)})") from exc
        return True

    def unlock(self, pk: str, owner: str) -> None:
        """Release the lock if it is still ours (a lease that ran out may belong to another now)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": lock_key(pk)}},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise DependencyError(f"DynamoDB DeleteItem failed ({error_code(exc)})") from exc
