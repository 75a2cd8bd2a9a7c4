"""No secret reaches a queued or dead-lettered message, a log line or a metric dimension."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import boto3
import pytest

from lark_service.local.aws import Stack
from lark_service.local.samples import Credentials, signed_request
from tests import lark_oracle as lark
from tests.integration.webhook_support import CREDS, KEY, TOKEN, function_logs, load_webhook, post, push

pytestmark = pytest.mark.integration

APP_SECRET = "integration-app-secret-value"


def test_secrets_stay_out_of_messages_dlq_logs_and_metrics(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = load_webhook(monkeypatch, LARK_APP_SECRET=APP_SECRET, LARK_APP_ID="cli_secret_test")
    now = time.time()
    with function_logs() as lines:
        traffic = _traffic(app, now)
    assert [status for status, _ in traffic] == [200, 200, 200, 200, 200, 200, 401, 401, 401, 200]

    # Every queued message goes to the DLQ the way a failing worker sends it there: received
    # maxReceiveCount times and never deleted, then SQS's redrive policy moves it.
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    deadline = time.monotonic() + 60
    while True:
        got = sqs.receive_message(
            QueueUrl=stack.events_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        if not got.get("Messages"):
            break
        assert time.monotonic() < deadline, "messages never reached the DLQ"
    dead = sqs.receive_message(QueueUrl=stack.dead_letter_queue_url, MaxNumberOfMessages=10)["Messages"]
    # Every verified push is queued: the message, the app_ticket, both card clicks, the other type.
    assert len(dead) == 5

    output = capsys.readouterr()
    logged = lines.getvalue() + output.out + output.err + caplog.text
    assert '"_aws"' in output.out  # metrics were printed, so the check below covers them
    assert '"correlation_id":"evt-s1"' in lines.getvalue()  # log lines were printed and name events
    for secret in (TOKEN, KEY, APP_SECRET):
        for body in (m["Body"] for m in dead):
            assert secret not in body
        assert secret not in logged


def _traffic(app: ModuleType, now: float) -> list[tuple[int, dict[str, Any]]]:
    return [
        push(app, lark.event_v2("evt-s1", TOKEN)),
        push(app, lark.event_v2("evt-s1", TOKEN)),  # duplicate
        post(app, *signed_request("app_ticket", CREDS, event_id="evt-s2")),
        post(app, *signed_request("card", CREDS, event_id="evt-s3")),
        post(app, *signed_request("card_legacy", CREDS)),
        post(app, *signed_request("url_verification", CREDS)),
        post(app, *signed_request("message", Credentials("wrong-token", KEY))),
        post(app, *signed_request("message", Credentials(TOKEN, "wrong-key"))),
        post(app, *signed_request("message", CREDS, now=now - 3 * 86400)),
        push(app, lark.event_v2("evt-s4", TOKEN, event_type="contact.user.created_v3")),
    ]
