"""In-memory stand-ins for the webhook's stores: same contract, no AWS."""

from __future__ import annotations

from typing import Any

from lark_service.stores import DependencyError


class MemoryDedupe:
    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.fail = False

    def claim(self, key: str) -> bool:
        if self.fail:
            raise DependencyError("DynamoDB PutItem failed (ServiceUnavailable)")
        if key in self.records:
            return False
        self.records[key] = "IN_PROGRESS"
        return True

    def confirm(self, key: str) -> None:
        self.records[key] = "COMPLETED"

    def release(self, key: str) -> None:
        if self.records.get(key) == "IN_PROGRESS":
            del self.records[key]

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
