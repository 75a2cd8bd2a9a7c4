"""The real handler against moto's server over HTTP: DynamoDB for de-duplication, SQS for the queue."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from lark_service.envelope import Envelope
from lark_service.local import samples
from lark_service.local.aws import Stack
from lark_service.local.samples import Credentials, function_url_event, signed_request
from lark_service.webhook import crypto
from tests.conftest import EVENTS
from tests.integration.webhook_support import (
    CREDS,
    KEY,
    TOKEN,
    drain,
    function_logs,
    load_webhook,
    post,
    send,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return load_webhook(monkeypatch)


def test_event_is_acknowledged_and_queued_as_an_envelope(app, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    status, body = send(app, "message", event_id="evt-1")
    assert (status, body) == (200, {"msg": "success"})
    [message] = drain(stack)
    envelope = Envelope.from_json(json.dumps(message))
    assert (envelope.event_id, envelope.event_type, envelope.schema) == (
        "evt-1",
        "im.message.receive_v1",
        "2.0",
    )
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint)
    item = ddb.get_item(TableName=stack.idempotency_table, Key={"id": {"S": "webhook#evt-1"}})["Item"]
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expiration"]["N"]) >= time.time() + 24 * 3600 - 5


def test_concurrent_duplicate_deliveries_enqueue_exactly_once(app, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """One copy wins the claim and queues; the others are 200 only if it had finished, else 409."""
    headers, body = signed_request("message", CREDS, event_id="evt-concurrent")
    deliveries = 8
    barrier = threading.Barrier(deliveries)

    def deliver(_: int) -> tuple[int, dict[str, str]]:
        barrier.wait(timeout=10)
        return post(app, headers, body)

    with ThreadPoolExecutor(deliveries) as pool:
        results = list(pool.map(deliver, range(deliveries)))
    assert {status for status, _ in results} <= {200, 409}, results
    assert (200, {"msg": "success"}) in results
    assert all(reply["error"] == "in_progress" for status, reply in results if status == 409)
    messages = drain(stack)
    assert [m["event_id"] for m in messages] == ["evt-concurrent"]
    assert post(app, headers, body) == (200, {"msg": "success"})  # Lark's retry of a 409'd copy
    assert drain(stack) == []


def test_enqueue_failure_then_retry_queues_exactly_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    gone = sqs.create_queue(QueueName=f"{stack.idempotency_table}-gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)
    broken = load_webhook(monkeypatch, EVENTS_QUEUE_URL=gone)
    headers, body = signed_request("message", CREDS, event_id="evt-retry")
    status, reply = post(broken, headers, body)
    assert status == 503
    assert reply["error"] == "queue_unavailable"
    assert "QueueDoesNotExist" not in json.dumps(reply)  # no internals in the reply
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [doc["route"] for doc in emf if "WebhookErrors" in doc] == [
        "error"
    ]  # the error-rate alert's input
    # Lark retries the same delivery; the function has recovered (its queue is back).
    healthy = load_webhook(monkeypatch, EVENTS_QUEUE_URL=stack.events_queue_url)
    assert post(healthy, headers, body) == (200, {"msg": "success"})
    assert post(healthy, headers, body) == (200, {"msg": "success"})  # and a late duplicate
    assert [m["event_id"] for m in drain(stack)] == ["evt-retry"]


def _tamper_signature(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "x-lark-signature": "0" * 64}


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def _resigned(body: bytes) -> tuple[dict[str, str], bytes]:
    headers, _ = signed_request("message", CREDS)
    ts, nonce = headers["x-lark-request-timestamp"], headers["x-lark-request-nonce"]
    return {**headers, "x-lark-signature": crypto.signature(ts, nonce, KEY, body)}, body


def _rows() -> list[tuple[str, tuple[dict[str, str], bytes], int, str]]:
    message = signed_request("message", CREDS)
    return [
        ("body not JSON", ({}, b"{not json"), 400, "body is not valid JSON"),
        ("encrypt not base64", _resigned(b'{"encrypt":"@@@"}'), 400, "encrypt is not valid base64"),
        (
            "encrypt wrong length",
            _resigned(json.dumps({"encrypt": base64.b64encode(b"x" * 40).decode()}).encode()),
            400,
            "wrong length",
        ),
        (
            "encrypt bad padding",
            _resigned(json.dumps({"encrypt": base64.b64encode(b"x" * 48).decode()}).encode()),
            400,
            "bad padding",
        ),
        (
            "signature missing",
            (_without(message[0], "x-lark-signature"), message[1]),
            401,
            "x-lark-signature",
        ),
        ("signature wrong", (_tamper_signature(message[0]), message[1]), 401, "does not match"),
        (
            "token wrong",
            signed_request("message", Credentials("wrong-token", KEY)),
            401,
            "verification token",
        ),
        ("timestamp old", signed_request("message", CREDS, now=time.time() - 90_000), 401, "replay window"),
        ("timestamp future", signed_request("message", CREDS, now=time.time() + 900), 401, "in the future"),
        (
            "plaintext push",
            signed_request("message", Credentials(TOKEN, None)),
            401,
            "plaintext push refused",
        ),
        ("body too large", ({}, b"{" + b" " * (1024 * 1024) + b"}"), 413, "limit"),
    ]


@pytest.mark.parametrize(
    ("headers_body", "status", "words"), [r[1:] for r in _rows()], ids=[r[0] for r in _rows()]
)
def test_every_bad_input_gets_its_answer_and_nothing_is_queued(
    app,  # type: ignore[no-untyped-def]
    stack: Stack,
    headers_body: tuple[dict[str, str], bytes],
    status: int,
    words: str,
) -> None:
    got_status, reply = post(app, *headers_body)
    assert got_status == status
    assert words in reply["msg"]
    assert set(reply) == {"error", "msg"}
    assert KEY not in reply["msg"]
    assert TOKEN not in reply["msg"]
    assert drain(stack) == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/lark/events", 405), ("DELETE", "/lark/events", 405), ("POST", "/x", 404)],
)
def test_methods_and_paths(app, method: str, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    response = app.handler(function_url_event(method, path, {}, b""), None)
    assert response["statusCode"] == status
    assert response["headers"]["content-type"] == "application/json"


def test_an_event_type_no_handler_knows_is_still_queued(app, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    assert send(app, "unknown") == (200, {"msg": "success"})
    assert [doc["event_type"] for doc in drain(stack)] == ["contact.user.created_v3"]


def test_fixtures_are_answered_as_documented(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    env = json.loads((EVENTS / "env.json").read_text())
    app = load_webhook(monkeypatch, **{**env["Parameters"], **env["WebhookFunction"]})
    expected = {
        "url_verification": (200, "challenge"),
        "url_verification_plain": (200, "challenge"),
        "event_v2_message": (200, "msg"),
        "event_v2_message_base64": (200, "msg"),
        "event_v2_unknown_type": (200, "msg"),
        "event_v1_app_ticket": (200, "msg"),
        "card_action_trigger": (200, "toast"),
        "card_legacy": (200, None),
        "health": (200, "checks"),
    }
    fixtures = [Path(EVENTS) / f"{name}.json" for name in sorted(samples.fixtures())]
    assert {p.stem for p in fixtures} == set(expected)
    for path in fixtures:
        response = app.handler(json.loads(path.read_text()), None)
        status, key = expected[path.stem]
        body = json.loads(response["body"])
        assert response["statusCode"] == status, (path.stem, body)
        assert key is None or key in body, (path.stem, body)
    queued = sorted(m["event_type"] for m in drain(stack))
    assert queued == [
        "app_ticket",
        "card.action.trigger",  # both card generations: clicks are queued for worker handlers
        "card.action.trigger",
        "contact.user.created_v3",  # no handler: the worker counts and drops it
        "im.message.receive_v1",
        "im.message.receive_v1",
    ]


def test_health_reports_each_dependency(app, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    ok = app.handler(function_url_event("GET", "/health", {}, b""), None)
    assert ok["statusCode"] == 200
    assert json.loads(ok["body"])["checks"] == {"config": "ok", "table": "ok", "queue": "ok"}
    boto3.client("dynamodb", endpoint_url=stack.endpoint).delete_table(TableName=stack.idempotency_table)
    assert app.handler(function_url_event("GET", "/health", {}, b""), None)["statusCode"] == 200  # cached
    app.webhook.health_cache_seconds = 0
    down = app.handler(function_url_event("GET", "/health", {}, b""), None)
    assert down["statusCode"] == 503
    assert (
        json.loads(down["body"])["checks"]["table"]
        == "DynamoDB DescribeTable failed (ResourceNotFoundException)"
    )


def test_dedupe_store_failure_is_503_and_nothing_queued(app, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    boto3.client("dynamodb", endpoint_url=stack.endpoint).delete_table(TableName=stack.idempotency_table)
    status, reply = send(app, "message")
    assert (status, reply["error"]) == (503, "dedupe_unavailable")
    assert drain(stack) == []


def test_missing_configuration_stops_the_cold_start(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from lark_service.config import ConfigError

    monkeypatch.delenv("EVENTS_QUEUE_URL")
    with pytest.raises(ConfigError, match="EVENTS_QUEUE_URL"):
        load_webhook(monkeypatch)


def test_only_a_5xx_counts_as_a_webhook_error(app, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """``WebhookErrors`` is the numerator of the error-rate alert: refusals and acks are not errors."""
    assert send(app, "message")[0] == 200
    assert send(app, "message", creds=Credentials("wrong-token", KEY))[0] == 401
    boto3.client("dynamodb", endpoint_url=stack.endpoint).delete_table(TableName=stack.idempotency_table)
    assert send(app, "message")[0] == 503
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(doc["route"], doc["WebhookErrors"]) for doc in emf if "WebhookErrors" in doc] == [
        ("error", [1.0])
    ]
    assert sorted(doc["route"] for doc in emf if "WebhookAckDuration" in doc) == [
        "error",
        "event",
        "rejected",
    ]


def test_log_lines_after_verification_carry_the_event_id_and_only_for_that_request(
    app,  # type: ignore[no-untyped-def]
    stack: Stack,
) -> None:
    with function_logs() as lines:
        boto3.client("dynamodb", endpoint_url=stack.endpoint).delete_table(TableName=stack.idempotency_table)
        assert send(app, "message", event_id="evt-corr")[0] == 503  # logs "de-duplication store failed"
        assert send(app, "message", creds=Credentials("wrong-token", KEY))[0] == 401
    logs = [json.loads(line) for line in lines.getvalue().splitlines() if '"level"' in line]
    failed = [line for line in logs if line["message"] == "de-duplication store failed"]
    assert [line.get("correlation_id") for line in failed] == ["evt-corr"]
    refused = [line for line in logs if line.get("reason") == "bad_token"]
    assert refused
    assert all("correlation_id" not in line for line in refused)  # not the previous request's id
