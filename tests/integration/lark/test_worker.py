"""The worker function fed by the local event source mapping from moto's real queue and DLQ."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from lark_service.envelope import Envelope
from lark_service.local.aws import MAX_RECEIVE_COUNT, Stack
from lark_service.local.poller import SqsPoller
from tests.conftest import load_function
from tests.integration.lark.conftest import FakeLambdaContext, Sandbox, emf_metrics

pytestmark = pytest.mark.integration


def message_event(text: str, message_id: str | None = None, event_id: str | None = None) -> Envelope:
    """An ``im.message.receive_v1`` push as the webhook enqueues it."""
    event_id = event_id or uuid.uuid4().hex
    message_id = message_id or "om_" + uuid.uuid4().hex[:24]
    body = {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": "verification-token",
            "app_id": "cli_test_app",
            "tenant_key": "tenant-1",
        },
        "event": {
            "sender": {"sender_id": {"open_id": "ou_user"}, "sender_type": "user", "tenant_key": "tenant-1"},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_chat",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
    }
    return Envelope("event", "2.0", event_id, "im.message.receive_v1", "tenant-1", time.time(), body)


class Harness:
    """The worker function behind a poller, with every invocation's event and result kept."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sqs = boto3.client("sqs")
        self.function = load_function("worker")
        self.invocations: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.poller = SqsPoller(
            stack.events_queue_url, self._invoke, client=self.sqs, wait_seconds=0, visibility_timeout=1
        )

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.function.handler(event, FakeLambdaContext())
        self.invocations.append((event, result))
        return result

    def send(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.stack.events_queue_url, MessageBody=body)["MessageId"])

    def queue_depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attrs[n]) for n in names)

    def drain(self, until: Callable[[], bool], timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "queue did not settle in time"
            if not self.poller.poll_once().received:
                time.sleep(0.2)

    def dlq_bodies(self) -> list[str]:
        got = self.sqs.receive_message(QueueUrl=self.stack.dead_letter_queue_url, MaxNumberOfMessages=10)
        return [m["Body"] for m in got.get("Messages", [])]


@pytest.fixture
def harness(lark_env: Stack) -> Harness:
    return Harness(lark_env)


def _reply_calls(sandbox: Sandbox, message_id: str) -> list[dict[str, Any]]:
    return sandbox.calls(f"/open-apis/im/v1/messages/{message_id}/reply")


def test_poison_message_fails_alone_and_reaches_the_dlq(
    harness: Harness, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [message_event("one"), message_event("two")]
    poison_body = '{"kind": "event", "truncated'
    harness.send(good[0].to_json())
    poison_id = harness.send(poison_body)
    harness.send(good[1].to_json())

    def settled() -> bool:
        return harness.queue_depth(harness.stack.events_queue_url) == 0 and bool(
            harness.queue_depth(harness.stack.dead_letter_queue_url)
        )

    harness.drain(settled)
    first_event, first_result = harness.invocations[0]
    assert first_result == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert len(first_event["Records"]) == 3
    assert harness.dlq_bodies() == [poison_body]
    poison_receives = [r for e, _ in harness.invocations for r in e["Records"] if r["messageId"] == poison_id]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in poison_receives] == [
        str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)
    ]
    for envelope in good:  # the good messages ran once; the poison's retries did not redo them
        message_id = envelope.event["message"]["message_id"]
        assert len(_reply_calls(sandbox, message_id)) == 1
    assert sorted(json.loads(m["body"]["content"])["text"] for m in sandbox.control.messages()) == [
        "You said: one",
        "You said: two",
    ]
    metrics = emf_metrics(capsys.readouterr().out)
    counts = {
        name: sum(1 for m in metrics if m["name"] == name)
        for name in ("WorkerEventsProcessed", "WorkerEventsFailed", "WorkerEventsDeadLettered")
    }
    assert counts == {
        "WorkerEventsProcessed": 2,
        "WorkerEventsFailed": MAX_RECEIVE_COUNT,
        "WorkerEventsDeadLettered": 1,
    }


def test_failed_handler_is_retried_without_redoing_the_rest(harness: Harness, sandbox: Sandbox) -> None:
    flaky, steady = message_event("flaky"), message_event("steady")
    flaky_id = flaky.event["message"]["message_id"]
    steady_id = steady.event["message"]["message_id"]
    sandbox.control.add_fault(f"/open-apis/im/v1/messages/{flaky_id}/reply", "server_error", count=1)
    harness.send(flaky.to_json())
    harness.send(steady.to_json())
    harness.drain(lambda: harness.queue_depth(harness.stack.events_queue_url) == 0)
    assert [c["status"] for c in _reply_calls(sandbox, flaky_id)] == [500, 200]
    assert len(_reply_calls(sandbox, steady_id)) == 1
    assert harness.dlq_bodies() == []
    assert len(sandbox.control.messages()) == 2


def test_demo_bot_replies_once_to_a_message_delivered_twice(harness: Harness, sandbox: Sandbox) -> None:
    envelope = message_event("hello")
    message_id = envelope.event["message"]["message_id"]
    harness.send(envelope.to_json())
    harness.send(envelope.to_json())  # SQS at-least-once: the same event twice
    harness.drain(lambda: harness.queue_depth(harness.stack.events_queue_url) == 0)
    delivered = [r for e, _ in harness.invocations for r in e["Records"]]
    assert len(delivered) == 2
    assert all(result == {"batchItemFailures": []} for _, result in harness.invocations)
    assert len(_reply_calls(sandbox, message_id)) == 1  # the handler ran to completion once
    (reply,) = sandbox.control.messages()
    assert reply["parent_id"] == message_id
    assert json.loads(reply["body"]["content"]) == {"text": "You said: hello"}


def test_the_event_fixture_runs_through_the_worker(lark_env: Stack, sandbox: Sandbox) -> None:
    """``tests/events/worker_sqs_message.json`` is what ``invoke worker --event`` feeds the function."""
    from tests.conftest import EVENTS

    event = json.loads((EVENTS / "worker_sqs_message.json").read_text())
    assert load_function("worker").handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    (reply,) = sandbox.control.messages()
    assert reply["parent_id"] == "om_fixture0000000000000001"
    assert json.loads(reply["body"]["content"]) == {"text": "You said: hello from the fixture"}
