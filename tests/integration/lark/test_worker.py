"""The worker function fed by the local event source mapping from moto's real queue and DLQ."""

from __future__ import annotations

import itertools
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
from tests.integration.lark.function_logs import captured_logs

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

    def __init__(self, stack: Stack, context: Callable[[], Any] = FakeLambdaContext) -> None:
        self.stack = stack
        self.sqs = boto3.client("sqs")
        self.function = load_function("worker")
        self.context = context
        self.invocations: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.poller = SqsPoller(
            stack.events_queue_url, self._invoke, client=self.sqs, wait_seconds=0, visibility_timeout=1
        )

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.function.handler(event, self.context())
        self.invocations.append((event, result))
        return result

    def send(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.stack.events_queue_url, MessageBody=body)["MessageId"])

    def queue_depth(self, url: str) -> int:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attrs.get(n, 0)) for n in names)

    def drain(self, until: Callable[[], bool], timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "queue did not settle in time"
            if not self.poller.poll_once().received:
                time.sleep(0.2)

    def records(self) -> list[dict[str, Any]]:
        return [r for event, _ in self.invocations for r in event["Records"]]

    def dead_letters(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.stack.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        return list(got.get("Messages", []))

    def dlq_bodies(self) -> list[str]:
        return [m["Body"] for m in self.dead_letters()]


@pytest.fixture
def harness(lark_env: Stack) -> Harness:
    return Harness(lark_env)


def _reply_calls(sandbox: Sandbox, message_id: str) -> list[dict[str, Any]]:
    return sandbox.calls(f"/open-apis/im/v1/messages/{message_id}/reply")


def _count(metrics: list[dict[str, Any]], name: str, **dims: str) -> int:
    return sum(1 for m in metrics if m["name"] == name and all(m.get(k) == v for k, v in dims.items()))


def test_hopeless_messages_reach_the_dlq_at_once(
    harness: Harness, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not an envelope: dead-lettered on the first receive, not the fifth; no handler: dropped."""
    good = [message_event("one"), message_event("two")]
    unparseable = '{"kind": "event", "truncated'
    unhandled = Envelope(
        "event", "2.0", uuid.uuid4().hex, "no.such.event_v1", None, time.time(), {}
    ).to_json()
    harness.send(good[0].to_json())
    harness.send(unparseable)
    harness.send(unhandled)
    harness.send(good[1].to_json())

    harness.drain(lambda: harness.queue_depth(harness.stack.events_queue_url) == 0)
    assert all(result == {"batchItemFailures": []} for _, result in harness.invocations)
    assert len(harness.records()) == 4  # each message was received exactly once
    assert {r["attributes"]["ApproximateReceiveCount"] for r in harness.records()} == {"1"}
    dead = harness.dead_letters()
    assert [m["Body"] for m in dead] == [unparseable]  # byte for byte
    assert dead[0]["MessageAttributes"]["lark-dead-letter-reason"]["StringValue"] == "unparseable"
    for envelope in good:  # the good messages ran once
        assert len(_reply_calls(sandbox, envelope.event["message"]["message_id"])) == 1
    metrics = emf_metrics(capsys.readouterr().out)
    assert _count(metrics, "WorkerEventsProcessed") == 2
    assert _count(metrics, "WorkerEventsUnhandled", event_type="no.such.event_v1") == 1
    assert _count(metrics, "WorkerEventsFailed") == 0
    assert _count(metrics, "WorkerEventsDeadLettered", event_type="invalid") == 1


def test_a_failing_handler_still_takes_the_redrive_path(
    harness: Harness, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error that may heal (Lark's 5xx) is retried by SQS up to maxReceiveCount, then dead-lettered."""
    envelope = message_event("never answered")
    message_id = envelope.event["message"]["message_id"]
    sandbox.control.add_fault(f"/open-apis/im/v1/messages/{message_id}/reply", "server_error", count=None)
    sent_id = harness.send(envelope.to_json())

    harness.drain(lambda: harness.queue_depth(harness.stack.events_queue_url) == 0)
    assert [r["attributes"]["ApproximateReceiveCount"] for r in harness.records()] == [
        str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)
    ]
    assert all(
        result == {"batchItemFailures": [{"itemIdentifier": sent_id}]} for _, result in harness.invocations
    )
    assert harness.dlq_bodies() == [envelope.to_json()]
    metrics = emf_metrics(capsys.readouterr().out)
    assert _count(metrics, "WorkerEventsFailed", event_type="im.message.receive_v1") == MAX_RECEIVE_COUNT
    assert _count(metrics, "WorkerEventsDeadLettered", event_type="im.message.receive_v1") == 1


def test_rate_limited_events_never_reach_the_dlq(
    lark_env: Stack, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lark rate-limits the reply more times than maxReceiveCount: the event waits, then runs once."""
    monkeypatch.setenv("LARK_RATE_LIMIT_MAX_WAIT_SECONDS", "0")  # every reset is longer than the wait
    harness = Harness(lark_env)
    envelope = message_event("patience")
    reply_path = f"/open-apis/im/v1/messages/{envelope.event['message']['message_id']}/reply"
    limits = MAX_RECEIVE_COUNT + 1
    sandbox.control.add_fault(reply_path, "rate_limit", count=limits, reset=1)
    harness.send(envelope.to_json())

    harness.drain(lambda: len(sandbox.control.messages()) == 1, timeout=60)
    harness.drain(lambda: harness.queue_depth(lark_env.events_queue_url) == 0)
    assert harness.dlq_bodies() == []
    assert all(result == {"batchItemFailures": []} for _, result in harness.invocations)
    records = harness.records()
    assert len(records) == limits + 1
    assert {r["body"] for r in records} == {envelope.to_json()}
    # Each deferral is a new message: its receive count starts again at 1 ...
    assert {r["attributes"]["ApproximateReceiveCount"] for r in records} == {"1"}
    # ... and carries how often the event has been put back.
    deferrals = [r["messageAttributes"].get("lark-deferrals", {}).get("stringValue") for r in records]
    assert deferrals == [None] + [str(n) for n in range(1, limits + 1)]
    calls = sandbox.calls(reply_path)
    assert [c["status"] for c in calls] == [429] * limits + [200]
    for limited, retried in itertools.pairwise(calls):
        assert retried["at"] - limited["at"] >= 1.0  # never before x-ogw-ratelimit-reset
    metrics = emf_metrics(capsys.readouterr().out)
    assert _count(metrics, "WorkerEventsDeferred", reason="rate_limited") == limits
    assert _count(metrics, "WorkerEventsFailed") == 0
    assert _count(metrics, "WorkerEventsDeadLettered") == 0
    assert _count(metrics, "WorkerEventsProcessed") == 1


def test_a_batch_does_not_start_records_it_cannot_finish(
    lark_env: Stack, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A slow Lark eats the invocation: the rest of the batch is returned unstarted, then runs later."""
    monkeypatch.setenv("LARK_HTTP_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("LARK_WORKER_RECORD_RESERVE_SECONDS", "4")
    contexts = iter([FakeLambdaContext(timeout_seconds=6.5)])  # then fresh 30 s invocations
    harness = Harness(lark_env, context=lambda: next(contexts, None) or FakeLambdaContext())
    events = [message_event(f"slow {n}") for n in range(3)]
    sandbox.control.add_fault("/open-apis/im/v1/messages/*/reply", "timeout", count=1, delay=3)
    ids = [harness.send(e.to_json()) for e in events]

    assert harness.poller.poll_once().received == 3
    ((first_event, first_result),) = harness.invocations
    order = [r["messageId"] for r in first_event["Records"]]
    assert sorted(order) == sorted(ids)
    # The first record ran (slowly, 3 s); with under 4 s left the other two were not started.
    assert first_result == {"batchItemFailures": [{"itemIdentifier": i} for i in order[1:]]}
    replies = [c for c in sandbox.control.requests() if c["path"].endswith("/reply")]
    assert len(replies) == 1
    metrics = emf_metrics(capsys.readouterr().out)
    assert (
        _count(metrics, "WorkerEventsDeferred", event_type="im.message.receive_v1", reason="out_of_time") == 2
    )

    harness.drain(lambda: harness.queue_depth(lark_env.events_queue_url) == 0)
    texts = sorted(json.loads(m["body"]["content"])["text"] for m in sandbox.control.messages())
    assert texts == sorted(f"You said: slow {n}" for n in range(3))  # each exactly once
    assert harness.dlq_bodies() == []


def test_log_lines_carry_the_event_id_as_correlation_id(harness: Harness, sandbox: Sandbox) -> None:
    events = [message_event("a"), message_event("b")]
    with captured_logs() as lines:
        for envelope in events:
            harness.send(envelope.to_json())
        harness.drain(lambda: harness.queue_depth(harness.stack.events_queue_url) == 0)
    processed = [line for line in lines if line["message"] == "event processed"]
    assert sorted(line["correlation_id"] for line in processed) == sorted(e.event_id for e in events)
    for line in processed:
        assert line["correlation_id"] == line["event_id"]
    # The on-demand token refresh inside the first event's run logs under that event too.
    (stored,) = [line for line in lines if line["message"] == "token stored"]
    assert stored["correlation_id"] in {e.event_id for e in events}


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
