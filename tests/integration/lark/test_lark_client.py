"""The API client against the sandbox: tokens refreshed on refusal, rate limits honoured, metrics."""

from __future__ import annotations

import json

import pytest

from lark_service.config import load_settings
from lark_service.lark.client import REPLY
from lark_service.lark.errors import LarkInvalidToken
from lark_service.lark.factory import build_services
from lark_service.local.aws import Stack
from tests.integration.lark.conftest import Sandbox, emf_metrics

pytestmark = pytest.mark.integration

TENANT_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGE_ID = "om_0123456789abcdef"
REPLY_PATH = f"/open-apis/im/v1/messages/{MESSAGE_ID}/reply"


def _reply(services_client: object, text: str = "hi") -> dict[str, object]:
    return services_client.reply_message(MESSAGE_ID, msg_type="text", content={"text": text})  # type: ignore[attr-defined, no-any-return]


def test_refused_token_is_refreshed_and_the_call_retried_once(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    client = build_services(load_settings()).client
    _reply(client, "first")
    first_token = sandbox.calls(REPLY_PATH)[0]["headers"]["authorization"]
    sandbox.control.revoke_tokens()  # as an app secret reset does

    data = _reply(client, "second")
    assert data["chat_id"]
    replies = sandbox.calls(REPLY_PATH)
    assert [r["code"] for r in replies] == [0, 99991663, 0]
    assert replies[1]["headers"]["authorization"] == first_token
    assert replies[2]["headers"]["authorization"] != first_token
    assert len(sandbox.calls(TENANT_PATH)) == 2  # the first token, and one refresh
    assert [m["body"]["content"] for m in sandbox.control.messages()] == [
        '{"text": "first"}',
        '{"text": "second"}',
    ]
    endpoints = {m["endpoint"] for m in emf_metrics(capsys.readouterr().out) if m["name"] == "ApiRequests"}
    assert REPLY in endpoints  # the route template, never the message id
    assert not any(MESSAGE_ID in e for e in endpoints)


def test_a_second_refusal_is_an_error_not_a_loop(lark_env: Stack, sandbox: Sandbox) -> None:
    client = build_services(load_settings()).client
    sandbox.control.add_fault(REPLY_PATH, "invalid_token", count=None, code=99991671)
    with pytest.raises(LarkInvalidToken):
        _reply(client)
    assert len(sandbox.calls(REPLY_PATH)) == 2
    assert sandbox.control.messages() == []


def test_rate_limited_call_waits_and_is_counted(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    client = build_services(load_settings()).client
    sandbox.control.add_fault(REPLY_PATH, "rate_limit", count=1, reset=1)
    _reply(client)
    limited, answered = sandbox.calls(REPLY_PATH)
    assert answered["at"] - limited["at"] >= 1.0
    metrics = emf_metrics(capsys.readouterr().out)
    assert {"name": "AuthRateLimitTriggered", "value": 1.0, "endpoint": REPLY} in metrics
    statuses = sorted(m["status"] for m in metrics if m["name"] == "ApiRequests" and m["endpoint"] == REPLY)
    assert statuses == ["200", "429"]
    assert len(sandbox.control.messages()) == 1


def test_a_sent_card_is_updated_in_place(lark_env: Stack, sandbox: Sandbox) -> None:
    """PATCH im/v1/messages/:message_id over HTTP; the sandbox's record shows the latest card."""
    client = build_services(load_settings()).client
    firing = {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "firing"}]}
    resolved = {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "resolved"}]}
    sent = client.send_message("chat_id", "oc_alerts", msg_type="interactive", content=firing)
    assert client.patch_message(sent["message_id"], card=resolved) == {}
    [patch] = sandbox.calls(f"/open-apis/im/v1/messages/{sent['message_id']}")
    assert (patch["method"], patch["body"]) == ("PATCH", {"content": json.dumps(resolved)})
    [record] = sandbox.control.messages()
    assert json.loads(record["body"]["content"]) == resolved
    assert (record["update_count"], record["updated"]) == (1, True)
    assert [json.loads(c) for c in record["history"]] == [firing]
