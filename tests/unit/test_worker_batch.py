"""The worker's batch decisions without AWS: a fake Lark transport, in-memory idempotency and queues.

Lark's side answers as its documentation says: ``POST /open-apis/im/v1/messages/:message_id/reply``
with ``{"msg_type": "text", "content": "<JSON string>"}`` returns ``{"code": 0, "msg": "success",
"data": {...message...}}``; a rate limit is HTTP 429, code 99991400 and ``x-ogw-ratelimit-reset``.
The SQS records follow the shape of ``tests/events/worker_sqs_message.json`` (Lambda's SQS event).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from lark_service.app import HandlerContext, LarkApp
from lark_service.config import load_settings
from lark_service.envelope import Envelope
from lark_service.handlers.demo.echo_bot import on_message
from lark_service.lark.client import LarkClient
from lark_service.lark.transport import Transport
from lark_service.observability import emit, logger
from lark_service.tokens.store import TokenStore
from lark_service.worker.processor import Worker
from lark_service.worker.tuning import load_worker_tuning
from tests.conftest import EVENTS


class MemoryPersistence(BasePersistenceLayer):
    """Powertools' persistence contract in memory, with the conditions of its DynamoDB layer.

    ``DynamoDBPersistenceLayer._put_record`` (aws-powertools/powertools-lambda-python,
    aws_lambda_powertools/utilities/idempotency/persistence/dynamodb.py) writes only when the key
    is absent, expired, or in progress past its in-progress expiry; otherwise it raises
    ``IdempotencyItemAlreadyExistsError``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.items:
            raise IdempotencyItemNotFoundError
        return self.items[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        old = self.items.get(data_record.idempotency_key)
        now = time.time()
        stale = old is None or old.expiry_timestamp is None or old.expiry_timestamp < now
        stuck = (
            old is not None
            and old.status == "INPROGRESS"
            and old.in_progress_expiry_timestamp is not None
            and old.in_progress_expiry_timestamp < now * 1000
        )
        if not (stale or stuck):
            raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        self.items[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.items[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.items.pop(data_record.idempotency_key, None)


@dataclass
class ListRequeue:
    deferred: list[tuple[str, int, int]] = field(default_factory=list)
    dead: list[tuple[str, str]] = field(default_factory=list)

    def defer(self, body: str, *, delay_seconds: int, deferrals: int) -> None:
        self.deferred.append((body, delay_seconds, deferrals))

    def dead_letter(self, body: str, *, reason: str) -> None:
        self.dead.append((body, reason))


class StaticTokens:
    def tenant_token(self, tenant_key: str | None = None) -> str:
        return "t-static"

    def invalidate(self, token: str) -> None:
        raise AssertionError("no token is refused in these tests")


@dataclass
class Context:
    left_seconds: float = 30.0
    function_name: str = "worker"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:worker"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.left_seconds * 1000)


Answer = Callable[[httpx.Request], httpx.Response]


def documented_reply(request: httpx.Request) -> httpx.Response:
    message_id = request.url.path.split("/")[-2]
    data = {"message_id": "om_reply_" + message_id[3:], "parent_id": message_id, "msg_type": "text"}
    return httpx.Response(200, json={"code": 0, "msg": "success", "data": data})


def rate_limited(reset: str) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"code": 99991400, "msg": "request trigger frequency limit"}
        return httpx.Response(429, json=body, headers={"x-ogw-ratelimit-reset": reset})

    return answer


class Lark:
    """Records every request; answers by message id, the documented success otherwise."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, Answer] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        message_id = request.url.path.split("/")[-2]
        return self.answers.get(message_id, documented_reply)(request)


def build(
    lark: Lark, requeue: ListRequeue | None, **env: str
) -> tuple[Worker, Callable[[list[str], Context | None, list[dict[str, Any]] | None], dict[str, Any]]]:
    app = LarkApp()
    app.event("im.message.receive_v1")(on_message)
    http = httpx.Client(base_url="https://open.feishu.cn", transport=httpx.MockTransport(lark))
    client = LarkClient(
        Transport("https://open.feishu.cn", client=http), StaticTokens(), rate_limit_max_wait=0
    )
    settings = load_settings({"LARK_APP_ID": "cli_test_app", "LARK_APP_SECRET": "s"})
    context = HandlerContext(
        settings=settings, lark=client, tokens=TokenStore("unused"), log=logger, emit=emit
    )
    worker = Worker(
        app,
        context,
        MemoryPersistence(),
        tuning=load_worker_tuning(env),
        requeue=requeue,  # type: ignore[arg-type]
    )

    def run(
        bodies: list[str], ctx: Context | None = None, attributes: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        template = json.loads((EVENTS / "worker_sqs_message.json").read_text())["Records"][0]
        records = [
            {
                **template,
                "messageId": f"m{n}",
                "body": body,
                "messageAttributes": (attributes or [{}] * len(bodies))[n],
            }
            for n, body in enumerate(bodies)
        ]
        return worker.handle({"Records": records}, ctx or Context())

    return worker, run


def message(text: str) -> Envelope:
    event_id = uuid.uuid4().hex
    message_id = "om_" + uuid.uuid4().hex[:24]
    body = {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "tenant_key": "tenant-1"},
        "event": {
            "sender": {"sender_type": "user"},
            "message": {
                "message_id": message_id,
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
    }
    return Envelope("event", "2.0", event_id, "im.message.receive_v1", "tenant-1", time.time(), body)


def msg_id(envelope: Envelope) -> str:
    return str(envelope.event["message"]["message_id"])


def test_a_mixed_batch_fails_nothing_that_should_not_count_a_receive() -> None:
    lark, requeue = Lark(), ListRequeue()
    _, run = build(lark, requeue)
    good, limited = message("hi"), message("later")
    lark.answers[msg_id(limited)] = rate_limited("30")
    unhandled = Envelope("event", "2.0", "e-x", "contact.user.created_v3", None, 0.0, {}).to_json()
    bodies = [good.to_json(), "not json", unhandled, limited.to_json()]

    assert run(bodies, None, None) == {"batchItemFailures": []}

    replies = [(r.url.path, json.loads(r.content)) for r in lark.requests]
    assert replies == [
        (
            f"/open-apis/im/v1/messages/{msg_id(good)}/reply",
            {
                "msg_type": "text",
                "content": json.dumps({"text": "You said: hi"}),
                "uuid": f"reply-{good.event_id}",
            },
        ),
        (
            f"/open-apis/im/v1/messages/{msg_id(limited)}/reply",
            {
                "msg_type": "text",
                "content": json.dumps({"text": "You said: later"}),
                "uuid": f"reply-{limited.event_id}",
            },
        ),
    ]
    assert requeue.deferred == [(limited.to_json(), 30, 1)]
    assert requeue.dead == [("not json", "unparseable")]  # the unhandled type is dropped, not dead-lettered


def test_the_same_event_twice_replies_once() -> None:
    lark = Lark()
    _, run = build(lark, ListRequeue())
    envelope = message("once")
    assert run([envelope.to_json(), envelope.to_json()], None, None) == {"batchItemFailures": []}
    assert len(lark.requests) == 1


@pytest.mark.parametrize(
    ("reset", "delay"), [("0", 1), ("2.5", 3), ("900", 900), ("86400", 900), ("1e400", 900)]
)
def test_the_delay_is_larks_reset_within_sqs_limits(reset: str, delay: int) -> None:
    """SQS DelaySeconds is 0..900 (SendMessage API reference); a deferred event waits at least 1 s."""
    lark, requeue = Lark(), ListRequeue()
    _, run = build(lark, requeue)
    envelope = message("x")
    lark.answers[msg_id(envelope)] = rate_limited(reset)
    assert run([envelope.to_json()], None, None) == {"batchItemFailures": []}
    assert requeue.deferred == [(envelope.to_json(), delay, 1)]


def test_an_event_put_back_too_often_fails_like_any_other() -> None:
    lark, requeue = Lark(), ListRequeue()
    _, run = build(lark, requeue, LARK_WORKER_MAX_DEFERRALS="3")
    envelope = message("x")
    lark.answers[msg_id(envelope)] = rate_limited("5")
    again = [{"lark-deferrals": {"stringValue": "2", "dataType": "Number"}}]
    assert run([envelope.to_json()], None, again) == {"batchItemFailures": []}
    assert requeue.deferred == [(envelope.to_json(), 5, 3)]
    last = [{"lark-deferrals": {"stringValue": "3", "dataType": "Number"}}]
    assert run([envelope.to_json()], None, last) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert len(requeue.deferred) == 1


def test_without_queues_hopeless_and_limited_events_take_the_redrive_path() -> None:
    lark = Lark()
    _, run = build(lark, None)
    limited = message("x")
    lark.answers[msg_id(limited)] = rate_limited("5")
    failures = run(["not json", limited.to_json()], None, None)["batchItemFailures"]
    assert failures == [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]


def test_records_are_not_started_without_the_reserve() -> None:
    lark = Lark()
    _, run = build(lark, ListRequeue(), LARK_WORKER_RECORD_RESERVE_SECONDS="5")
    bodies = [message("a").to_json(), message("b").to_json()]
    assert run(bodies, Context(left_seconds=4.9), None) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]
    }
    assert lark.requests == []
    assert run(bodies, Context(left_seconds=5.0), None) == {"batchItemFailures": []}
    assert len(lark.requests) == 2
