"""Drills: the real webhook and its real botocore clients, AWS faults injected by a TCP proxy.

Each drill reproduces a fault as AWS shows it to a Lambda function and checks the rule that
matters: a push is answered 200 only when it is on the queue, and Lark's retry of anything else
is queued exactly once.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from lark_service.local.aws import Stack
from lark_service.local.samples import function_url_event
from tests import lark_oracle as lark
from tests.integration.drills.fault_proxy import FaultProxy
from tests.integration.webhook_support import TOKEN, drain, emf, load_webhook, push, record

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # the functions' clients; drain() reads moto
    return load_webhook(monkeypatch)


def _queued_ids(stack: Stack) -> list[str]:
    return [m["event_id"] for m in drain(stack)]


@pytest.mark.parametrize("fault", ["late", "reset_after"])
def test_a_claim_written_but_unanswered_is_recognised_as_ours(
    app: ModuleType, stack: Stack, proxy: FaultProxy, fault: str
) -> None:
    """The reproduced loss: botocore's retry met the webhook's own record and got a 'duplicate'."""
    proxy.add("PutItem", fault)
    assert push(app, lark.event_v2("evt-own", TOKEN)) == (200, {"msg": "success"})
    assert proxy.faults_applied[("PutItem", fault)] == 1
    assert proxy.calls["PutItem"] == 2  # the write, then botocore's retry of it
    assert _queued_ids(stack) == ["evt-own"]
    item = record(stack, "evt-own")
    assert item is not None
    assert item["status"]["S"] == "COMPLETED"


@pytest.mark.parametrize("fault", ["reset", "throttle", "throttling", "server_error"])
def test_one_failed_claim_attempt_is_retried_by_botocore(
    app: ModuleType, stack: Stack, proxy: FaultProxy, fault: str
) -> None:
    proxy.add("PutItem", fault)
    assert push(app, lark.event_v2("evt-retried", TOKEN))[0] == 200
    assert proxy.calls["PutItem"] == 2
    assert _queued_ids(stack) == ["evt-retried"]


def test_throttling_beyond_the_retries_is_503_and_larks_retry_queues_once(
    app: ModuleType, stack: Stack, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = lark.event_v2("evt-throttled", TOKEN)
    # Every attempt: Config(retries={"max_attempts": 2}) is two retries after the first call.
    proxy.add("PutItem", "throttle", times=3)
    status, reply = push(app, doc)
    assert (status, reply["error"]) == (503, "dedupe_unavailable")
    assert _queued_ids(stack) == []
    assert [d["route"] for d in emf(capsys.readouterr().out) if "WebhookErrors" in d] == ["error"]
    assert push(app, doc)[0] == 200  # Lark's retry
    assert push(app, doc)[0] == 200  # and a late copy: a duplicate
    assert _queued_ids(stack) == ["evt-throttled"]


def test_sqs_failing_twice_releases_the_claim_and_the_retry_goes_through(
    app: ModuleType, stack: Stack, proxy: FaultProxy
) -> None:
    doc = lark.event_v2("evt-sqs", TOKEN)
    proxy.add("SendMessage", "server_error", times=3)
    status, reply = push(app, doc)
    assert (status, reply["error"]) == (503, "queue_unavailable")
    assert record(stack, "evt-sqs") is None  # released: Lark's retry is not refused
    assert push(app, doc)[0] == 200
    assert _queued_ids(stack) == ["evt-sqs"]


def test_an_sqs_answer_lost_after_the_send_may_queue_twice_never_zero(
    app: ModuleType, stack: Stack, proxy: FaultProxy
) -> None:
    """SQS is at-least-once: a retried SendMessage can leave two copies; the worker's idempotency
    runs the event once (tests/integration/lark/test_worker.py and the delivery drill)."""
    proxy.add("SendMessage", "late")
    assert push(app, lark.event_v2("evt-twice", TOKEN))[0] == 200
    assert _queued_ids(stack) == ["evt-twice", "evt-twice"]


@pytest.mark.parametrize("operation", ["UpdateItem", "DeleteItem"])
def test_confirm_and_release_survive_a_lost_answer(
    app: ModuleType, stack: Stack, proxy: FaultProxy, operation: str
) -> None:
    doc = lark.event_v2("evt-" + operation, TOKEN)
    if operation == "DeleteItem":
        proxy.add("SendMessage", "server_error", times=3)
    proxy.add(operation, "late")
    first = push(app, doc)[0]
    assert first == (200 if operation == "UpdateItem" else 503)
    assert proxy.faults_applied[(operation, "late")] == 1
    assert push(app, doc)[0] == 200
    assert _queued_ids(stack) == ["evt-" + operation]


def test_two_hundred_health_checks_make_one_probe_at_aws(app: ModuleType, proxy: FaultProxy) -> None:
    event = function_url_event("GET", "/health", {}, b"")
    statuses = {app.handler(event, None)["statusCode"] for _ in range(200)}
    assert statuses == {200}
    assert (proxy.calls["DescribeTable"], proxy.calls["GetQueueAttributes"]) == (1, 1)
