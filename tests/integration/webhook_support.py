"""Helpers for driving the real webhook handler against moto's server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import pytest

from lark_service.local.aws import Stack
from lark_service.local.samples import Credentials, function_url_event, signed_request
from lark_service.stores.aws import reset_clients
from tests.conftest import load_function

KEY = "integration-encrypt-key"
TOKEN = "integration-verification-token"
CREDS = Credentials(verification_token=TOKEN, encrypt_key=KEY)


def load_webhook(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """A cold start of ``functions/webhook/app.py`` with the stack in the environment."""
    monkeypatch.setenv("LARK_ENCRYPT_KEY", KEY)
    monkeypatch.setenv("LARK_VERIFICATION_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    return load_function("webhook")


def post(app: ModuleType, headers: dict[str, str], body: bytes, **kw: Any) -> tuple[int, dict[str, Any]]:
    response = app.handler(function_url_event("POST", "/lark/events", headers, body, **kw), None)
    return response["statusCode"], json.loads(response["body"])


def send(app: ModuleType, kind: str, creds: Credentials = CREDS, **kw: Any) -> tuple[int, dict[str, Any]]:
    return post(app, *signed_request(kind, creds, **kw))


def drain(stack: Stack, queue_url: str | None = None) -> list[dict[str, Any]]:
    """Every message on the queue (received and deleted), parsed."""
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    url = queue_url or stack.events_queue_url
    out: list[dict[str, Any]] = []
    for _ in range(50):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def push(
    app: ModuleType, doc: dict[str, Any], *, now: float | None = None, spaced: bool = False
) -> tuple[int, dict[str, Any]]:
    """Sign and encrypt ``doc`` with the test oracle (hashlib, not the project's crypto) and post it."""
    from tests import lark_oracle

    return post(app, *lark_oracle.signed_push(doc, KEY, now=now, spaced=spaced))


def record(stack: Stack, event_id: str) -> dict[str, Any] | None:
    """The webhook's de-duplication record for ``event_id``, read straight from moto."""
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint)
    item = ddb.get_item(
        TableName=stack.idempotency_table, Key={"id": {"S": "webhook#" + event_id}}, ConsistentRead=True
    ).get("Item")
    return dict(item) if item else None


def emf(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents among a function's output lines."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]


@contextmanager
def function_logs() -> Iterator[io.StringIO]:
    """The Powertools logger's JSON lines; it keeps the stream it found at import, so swap it."""
    from lark_service.observability import logger

    handler = logger.registered_handler
    lines = io.StringIO()
    # Assigned, not setStream(): that flushes the old stream, which may be an earlier test's
    # closed capture.
    previous, handler.stream = handler.stream, lines
    try:
        yield lines
    finally:
        handler.stream = previous
