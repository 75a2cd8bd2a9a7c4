"""Delivery drill: Lark's retry behaviour against the real webhook under AWS faults, then the worker.

N pushes are sent the way Lark sends them: each retried on Lark's schedule (~15 s, 5 min, 1 h,
6 h; compressed onto a virtual clock the webhook and its de-duplication store read, so no test
time passes) whenever the answer isn't a 200 within Lark's 3 s deadline, and some redelivered
after a 200 (Lark is at-least-once too). Meanwhile the fault proxy makes DynamoDB and SQS answer
late, reset connections, throttle and fail; bad requests are mixed in. Then the real worker
drains the queue (Lambda's SQS event source emulated, the Lark sandbox failing some replies).

The table printed at the end is the drill's report; the asserts are its verdict: 0 lost,
0 processed twice, 0 5xx for bad input. ``LARK_DRILL_PUSHES`` scales it (``make drill``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest

from lark_service.local.aws import Stack
from lark_service.local.poller import SqsPoller
from lark_service.local.samples import function_url_event
from tests import lark_oracle as lark
from tests.conftest import load_function
from tests.integration.drills.fault_proxy import FaultProxy
from tests.integration.lark.conftest import FakeLambdaContext, Sandbox
from tests.integration.webhook_support import KEY, TOKEN, load_webhook

pytestmark = pytest.mark.integration

PUSHES = int(os.environ.get("LARK_DRILL_PUSHES", "12"))
LARK_RETRY_SCHEDULE = (0, 15, 300, 3600, 6 * 3600)
"""Seconds after the first attempt at which Lark tries a push (first attempt, then four retries)."""
LARK_DEADLINE = 3.0
LATE = 10_000
"""Added to a status Lark never saw because it came after the deadline."""
FAULT_PLAN = (
    # (operation, fault, times), applied round-robin while pushes are delivered.
    ("PutItem", "late", 1),
    ("PutItem", "throttle", 3),
    ("SendMessage", "server_error", 3),
    ("PutItem", "reset_after", 1),
    ("SendMessage", "late", 1),
    ("UpdateItem", "late", 1),
    ("PutItem", "throttling", 1),
    ("DeleteItem", "reset_after", 1),
    ("SendMessage", "reset", 1),
)
BAD_INPUTS: tuple[tuple[dict[str, str], bytes], ...] = (
    ({}, b"[" * 100_000),
    ({}, b'{"type":"url_verification","token":"\\ud800","challenge":"x"}'),
    (
        {"x-lark-request-timestamp": "1\udfff", "x-lark-request-nonce": "n", "x-lark-signature": "ab"},
        b'{"encrypt":"x"}',
    ),
    ({}, b'{"schema":"2.0","header":{"token":"wrong","event_type":"im.message.receive_v1"}}'),
    ({}, b"\xff\xfe not json"),
)


class VirtualClock:
    def __init__(self) -> None:
        self.now = time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def set(self, value: float) -> None:
        with self._lock:
            self.now = value


@dataclass
class Push:
    event_id: str
    headers: dict[str, str]
    body: bytes
    message_id: str
    statuses: list[int] = field(default_factory=list)
    acknowledged: bool = False


@dataclass
class Report:
    sent: int = 0
    attempts: int = 0
    acknowledged: int = 0
    redelivered: int = 0
    queued_messages: int = 0
    queued_events: int = 0
    processed: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    dlq: int = 0
    bad_inputs: int = 0
    bad_input_5xx: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def table(self) -> str:
        rows = [
            ("pushes sent", self.sent),
            ("delivery attempts", self.attempts),
            ("answers by status", {_label(k): v for k, v in sorted(self.statuses.items())}),
            ("acknowledged (200)", self.acknowledged),
            ("redelivered after a 200", self.redelivered),
            ("worker receives / distinct events", f"{self.queued_messages} / {self.queued_events}"),
            ("processed (events with a reply)", len(self.processed)),
            ("processed twice", sum(1 for n in self.processed.values() if n > 1)),
            ("replies in the sandbox", self.replies),
            ("dead-lettered", self.dlq),
            ("bad requests / answered 5xx", f"{self.bad_inputs} / {self.bad_input_5xx}"),
            ("lost", self.sent - len(self.processed)),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def _label(status: int) -> str:
    return f"{status - LATE} after 3 s" if status > LATE else str(status)


def _deliver(app: ModuleType, push: Push) -> int:
    started = time.monotonic()
    response = app.handler(function_url_event("POST", "/lark/events", push.headers, push.body), None)
    status = int(response["statusCode"])
    # Lark gives up on an answer after its deadline: a late 200 counts as a failure to retry.
    return status if time.monotonic() - started <= LARK_DEADLINE else LATE + status


def test_lark_style_delivery_under_faults_loses_nothing_and_runs_nothing_twice(
    stack: Stack,
    lark_env: Stack,
    sandbox: Sandbox,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("LARK_DEMO_HANDLERS", "true")
    app = load_webhook(monkeypatch)
    clock = VirtualClock()
    app.webhook.clock = clock
    app.webhook.dedupe.clock = clock
    report = Report()
    start = clock()
    pushes = []
    for n in range(PUSHES):
        doc = lark.event_v2(f"drill-{n:04d}-{os.urandom(4).hex()}", TOKEN, created=start, text=f"drill {n}")
        headers, body = lark.signed_push(doc, KEY, now=start, spaced=n % 2 == 1)
        pushes.append(Push(doc["header"]["event_id"], headers, body, doc["event"]["message"]["message_id"]))
    report.sent = len(pushes)
    for operation, fault, times in FAULT_PLAN * max(1, PUSHES // 12):
        proxy.add(operation, fault, times)

    with ThreadPoolExecutor(4) as pool:
        for offset in LARK_RETRY_SCHEDULE:
            clock.set(start + offset)
            due = [p for p in pushes if not p.acknowledged]
            if not due:
                break
            for push, status in zip(due, pool.map(lambda p: _deliver(app, p), due), strict=True):
                push.statuses.append(status)
                report.attempts += 1
                report.statuses[status] += 1
                push.acknowledged = status == 200
            # Lark's at-least-once delivery: every fourth acknowledged push comes again.
            again = [p for p in due if p.acknowledged and int(p.event_id[6:10]) % 4 == 0]
            for push, status in zip(again, pool.map(lambda p: _deliver(app, p), again), strict=True):
                report.redelivered += 1
                report.statuses[status] += 1
                assert status == 200, f"{push.event_id}: an acknowledged push redelivered got {status}"
            for headers, body in BAD_INPUTS:
                event = function_url_event("POST", "/lark/events", headers, body, base64_body=True)
                answer = app.handler(event, None)
                report.bad_inputs += 1
                report.bad_input_5xx += answer["statusCode"] >= 500
    report.acknowledged = sum(p.acknowledged for p in pushes)
    proxy.clear()
    unacknowledged = [(p.event_id, p.statuses) for p in pushes if not p.acknowledged]

    # The worker drains the queue: Lambda's SQS event source, emulated, straight to moto.
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)
    worker = load_function("worker")
    received: list[str] = []

    def invoke(event: dict[str, Any]) -> Any:
        received.extend(json.loads(r["body"])["event_id"] for r in event["Records"])
        return worker.handler(event, FakeLambdaContext())

    for push in pushes[::5]:  # Lark fails some replies once; SQS brings those events back
        sandbox.control.add_fault(
            f"/open-apis/im/v1/messages/{push.message_id}/reply", "server_error", count=1
        )
    poller = SqsPoller(stack.events_queue_url, invoke, client=sqs, wait_seconds=0, visibility_timeout=1)
    deadline = time.monotonic() + 120
    while _depth(sqs, stack.events_queue_url):
        assert time.monotonic() < deadline, "the worker did not drain the queue in time"
        if not poller.poll_once().received:
            time.sleep(0.1)  # messages in flight become visible again after 1 s

    replies = sandbox.control.messages()
    report.replies = len(replies)
    report.processed = Counter(r["parent_id"] for r in replies)
    report.queued_events = len(set(received))
    report.queued_messages = len(received)
    report.dlq = _depth(sqs, stack.dead_letter_queue_url)
    table = report.table()
    with capsys.disabled():
        print(f"\ndelivery drill: {PUSHES} pushes, faults {dict(proxy.faults_applied)}\n{table}")

    assert unacknowledged == [], f"Lark never got a 200 for these:\n{table}"
    assert set(report.processed) == {p.message_id for p in pushes}, f"lost events:\n{table}"
    assert all(n == 1 for n in report.processed.values()), f"processed twice:\n{table}"
    assert report.bad_input_5xx == 0, table
    assert report.dlq == 0, table


def _depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)
