"""The queue's message limit at its exact boundary, and what a refusal leaves behind."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from lark_service.local.aws import Stack
from tests import lark_oracle as lark
from tests.integration.webhook_support import TOKEN, drain, load_webhook, push, record

pytestmark = pytest.mark.integration

LIMIT = 262_144
"""256 KiB: the largest message the webhook queues (docs/webhook.md)."""


@pytest.fixture
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_webhook(monkeypatch)


def test_262144_bytes_are_queued_and_262145_refused_with_no_claim_left(app: ModuleType, stack: Stack) -> None:
    now = float(int(time.time()))
    app.webhook.clock = lambda: now  # the message holds received_at: its digits must not vary
    # Learn the message's overhead from a small push, measured on the queue itself: the queued
    # size grows one byte per ASCII character of message text.
    assert push(app, lark.event_v2("evt-size-0", TOKEN, text="a", created=now), now=now)[0] == 200
    [probe] = drain_raw(stack)
    overhead = len(probe.encode()) - 1

    fits = lark.event_v2("evt-size-1", TOKEN, text="a" * (LIMIT - overhead), created=now)
    assert push(app, fits, now=now) == (200, {"msg": "success"})
    [message] = drain_raw(stack)
    assert len(message.encode()) == LIMIT

    over = lark.event_v2("evt-size-2", TOKEN, text="a" * (LIMIT - overhead + 1), created=now)
    status, reply = push(app, over, now=now)
    assert (status, reply["error"]) == (413, "too_large")
    assert drain(stack) == []
    assert record(stack, "evt-size-2") is None  # nothing claimed, nothing left in progress


def drain_raw(stack: Stack) -> list[str]:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    got = sqs.receive_message(QueueUrl=stack.events_queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=stack.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in got]
