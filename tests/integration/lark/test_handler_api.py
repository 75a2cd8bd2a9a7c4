"""docs/handlers.md, followed step by step: the ping module from the page, a signed push through
the real webhook, moto's queue, the real worker and the Lark sandbox's reply."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lark_service import handlers
from lark_service.app import app
from lark_service.local.aws import Stack
from lark_service.local.samples import Credentials, function_url_event, signed_request
from tests.conftest import ROOT, load_function
from tests.integration.lark.conftest import FakeLambdaContext, Sandbox, emf_metrics

pytestmark = pytest.mark.integration

KEY, TOKEN = "handler-doc-key", "handler-doc-token"


def doc_module() -> str:
    """The first Python block of docs/handlers.md: the module the reader creates."""
    page = (ROOT / "docs" / "handlers.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert blocks, "docs/handlers.md has no python block"
    assert "layers/lark_service/handlers/ping.py" in page
    return blocks[0]


@pytest.fixture
def ping_module(tmp_path: Path) -> Iterator[str]:
    """ping.py from the page, placed in the handlers package as the reader would place it."""
    (tmp_path / "ping.py").write_text(doc_module())
    handlers.__path__.append(str(tmp_path))
    try:
        yield "lark_service.handlers.ping"
    finally:
        handlers.__path__.remove(str(tmp_path))
        app.commands.pop("/ping", None)
        sys.modules.pop("lark_service.handlers.ping", None)


def _receive_all(sqs: object, url: str) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)  # type: ignore[attr-defined]
        batch = got.get("Messages", [])
        if not batch:
            break
        for message in batch:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]
    return records


def test_the_ping_handler_from_the_docs_answers_in_the_sandbox(
    lark_env: Stack, sandbox: Sandbox, ping_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    assert ping_module in handlers.modules(demo=True)

    webhook = load_function("webhook")
    headers, body = signed_request("message", Credentials(TOKEN, KEY), text="@_user_1 /ping hi")
    response = webhook.handler(function_url_event("POST", "/lark/events", headers, body), None)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"msg": "success"})

    sqs = boto3.client("sqs")
    records = _receive_all(sqs, lark_env.events_queue_url)
    assert len(records) == 1
    worker = load_function("worker")
    assert worker.handler({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}

    (reply,) = sandbox.control.messages()
    # The command, not the demo echo bot (also loaded here), answered.
    assert json.loads(reply["body"]["content"]) == {"text": "pong hi"}


def test_an_event_type_nobody_handles_is_counted_and_dropped_not_dead_lettered(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from lark_service.local.samples import push

    doc = push("unknown", Credentials(TOKEN, None), event_id="unhandled-1")
    envelope = {
        "kind": "event",
        "schema": "2.0",
        "event_id": "unhandled-1",
        "event_type": doc["header"]["event_type"],
        "tenant_key": None,
        "received_at": 0.0,
        "body": doc,
    }
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": json.dumps(envelope),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    capsys.readouterr()
    worker = load_function("worker")
    assert worker.handler({"Records": [record]}, FakeLambdaContext()) == {"batchItemFailures": []}
    names = [(m["name"], m.get("event_type")) for m in emf_metrics(capsys.readouterr().out)]
    assert ("WorkerEventsUnhandled", "contact.user.created_v3") in names
    assert not any(name in ("WorkerEventsFailed", "WorkerEventsDeadLettered") for name, _ in names)
    assert sandbox.control.messages() == []
