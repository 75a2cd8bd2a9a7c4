"""In-memory stand-ins for the webhook's stores: same contract, no AWS."""

from __future__ import annotations

from typing import Any

from lark_service.stores import DependencyError
from lark_service.stores.dedupe import Claim


class MemoryDedupe:
    """``DynamoDedupeStore``'s contract in memory: claim ids, leases and expiry on a clock."""

    def __init__(self, clock: Any = None, lease_seconds: float = 10.0) -> None:
        import time

        self.clock = clock or time.time
        self.lease = lease_seconds
        # key -> (status, claim id, lease end, expiration)
        self.items: dict[str, tuple[str, str, float, float]] = {}
        self.fail = False

    @property
    def records(self) -> dict[str, str]:
        return {key: item[0] for key, item in self.items.items()}

    def claim(self, key: str, claim_id: str, expires_at: float) -> Claim:
        if self.fail:
            raise DependencyError("DynamoDB PutItem failed (ServiceUnavailable)")
        now = self.clock()
        old = self.items.get(key)
        if old is None or old[3] < now or (old[0] == "IN_PROGRESS" and old[2] < now):
            self.items[key] = ("IN_PROGRESS", claim_id, now + self.lease, expires_at)
            return Claim.CLAIMED
        if old[1] == claim_id:
            return Claim.CLAIMED
        return Claim.DUPLICATE if old[0] == "COMPLETED" else Claim.BUSY

    def confirm(self, key: str, claim_id: str) -> None:
        _, owner, lease, expires = self.items[key]
        self.items[key] = ("COMPLETED", owner, lease, expires)

    def release(self, key: str, claim_id: str) -> None:
        item = self.items.get(key)
        if item and item[0] == "IN_PROGRESS" and item[1] == claim_id:
            del self.items[key]

    def check(self) -> None:
        if self.fail:
            raise DependencyError("DynamoDB DescribeTable failed (ServiceUnavailable)")


class ListQueue:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.fail = False

    def send(self, body: str) -> None:
        if self.fail:
            raise DependencyError("SQS SendMessage failed (QueueDoesNotExist)")
        self.messages.append(body)

    def check(self) -> None:
        if self.fail:
            raise DependencyError("SQS GetQueueAttributes failed (QueueDoesNotExist)")


class Recorder:
    """Collects emitted metrics as (name, dimensions) pairs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, name: str, value: float = 1.0, **dimensions: str) -> None:
        self.calls.append((name, dimensions))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def find(self, name: str) -> list[dict[str, Any]]:
        return [dims for n, dims in self.calls if n == name]
