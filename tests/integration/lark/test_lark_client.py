"""The API client against the sandbox: tokens refreshed on refusal, rate limits honoured, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lark_service.config import load_settings
from lark_service.lark.client import CREATE, REPLY, LarkClient
from lark_service.lark.errors import LarkApiError, LarkInvalidToken, LarkRateLimited
from lark_service.lark.transport import Transport
from lark_service.local.aws import Stack
from lark_service.sandbox import SandboxApp, SandboxServer, SandboxState
from lark_service.sandbox.clock import ManualTime, SandboxClock
from lark_service.wiring.lark import build_services
from tests.integration.lark.conftest import APP_ID, APP_SECRET, Sandbox, emf_metrics

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


def test_a_reply_to_a_chat_id_is_refused_as_lark_does(lark_env: Stack, sandbox: Sandbox) -> None:
    """A handler that passes the chat id where the message id belongs fails here, not on Lark."""
    client = build_services(load_settings()).client
    with pytest.raises(LarkApiError) as raised:
        client.reply_message("oc_chat", msg_type="text", content={"text": "hi"})
    assert raised.value.code == 230001
    assert raised.value.log_id
    assert sandbox.control.messages() == []


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
    sandbox.control.add_chat("oc_alerts")
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


@pytest.fixture
def frozen(lark_env: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, ManualTime]]:
    """A sandbox whose clock stands still: a rate-limit window lasts until the test moves it."""
    time_source = ManualTime(time.time())
    state = SandboxState(
        [SandboxApp(APP_ID, APP_SECRET)], clock=SandboxClock(time_source), chats=("oc_team",)
    )
    with SandboxServer(state) as server:
        monkeypatch.setenv("LARK_BASE_URL", server.url)
        yield server, time_source


def _client(cap: float, sleep: Callable[[float], None]) -> LarkClient:
    services = build_services(load_settings())
    return LarkClient(
        Transport(load_settings().base_url), services.tokens, rate_limit_max_wait=cap, sleep=sleep
    )


def _text(
    client: LarkClient, receive_id: str, id_type: str = "chat_id", uuid: str | None = None
) -> dict[str, Any]:
    return client.send_message(id_type, receive_id, msg_type="text", content={"text": "hi"}, uuid=uuid)


def test_a_burst_to_one_chat_is_paced_by_230020_not_failed(
    frozen: tuple[SandboxServer, ManualTime], capsys: pytest.CaptureFixture[str]
) -> None:
    server, clock = frozen
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the client's wait moves the sandbox's clock instead
        slept.append(seconds)
        clock.value += seconds

    client = _client(3.0, sleep)
    sent = [_text(client, "oc_team")["message_id"] for _ in range(7)]
    assert len(set(sent)) == 7
    assert slept == [1.0]  # the sixth met the per-chat limit and waited its second
    codes = [r["code"] for r in server.state.requests() if r["path"] == "/open-apis/im/v1/messages"]
    assert codes == [0, 0, 0, 0, 0, 230020, 0, 0]
    metrics = emf_metrics(capsys.readouterr().out)
    assert {"name": "AuthRateLimitTriggered", "value": 1.0, "endpoint": CREATE} in metrics


def test_past_its_cap_the_client_hands_the_rate_limit_on(frozen: tuple[SandboxServer, ManualTime]) -> None:
    server, _ = frozen
    client = _client(0.0, lambda s: pytest.fail("no wait fits a cap of 0"))
    for n in range(50):
        _text(client, f"ou_{n}", "open_id")
    with pytest.raises(LarkRateLimited) as raised:
        _text(client, "ou_50", "open_id")
    assert (raised.value.status, raised.value.code, raised.value.reset_seconds) == (429, 99991400, 1.0)
    last = server.state.requests()[-1]
    assert raised.value.log_id == last["log_id"]  # Lark's log id, for its support
    assert last["log_id"] in str(raised.value)


def test_long_uuids_dedupe_without_merging(frozen: tuple[SandboxServer, ManualTime]) -> None:
    server, clock = frozen
    client = _client(3.0, lambda s: setattr(clock, "value", clock.value + s))
    shared = "alert-group-" + "f" * 50
    first = _text(client, "oc_team", uuid=shared + "/firing")
    again = _text(client, "oc_team", uuid=shared + "/firing")
    other = _text(client, "oc_team", uuid=shared + "/resolved")
    assert first["message_id"] == again["message_id"]  # Lark dropped the repeat
    assert other["message_id"] != first["message_id"]  # a cut key would have merged these
    assert [r["code"] for r in server.state.requests() if r["path"] == CREATE] == [0, 0, 0]
    assert len(server.state.messages()) == 2
