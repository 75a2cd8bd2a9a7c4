"""Where bots break on Lark: message validation, rate limits, the error envelope, store-app tickets.

Expected codes and limits come from Lark's pages and reports (cited in the sandbox's modules),
sizes are measured here on the encoded body, and time is a ``ManualTime`` so windows are
stepped through without sleeping.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_service.sandbox.clock import ManualTime, SandboxClock
from lark_service.sandbox.state import Reply, SandboxApp, SandboxState

APP = SandboxApp("cli_app", "secret")
TENANT = "/open-apis/auth/v3/tenant_access_token/internal"
CREATE = "/open-apis/im/v1/messages"
JSON_TYPE = "application/json; charset=utf-8"


class Lark:
    """One sandbox with a stopped clock and a tenant token, speaking raw bytes like a client."""

    def __init__(self, *apps: SandboxApp, chats: tuple[str, ...] = ("oc_team",), **options: Any) -> None:
        self.time = ManualTime()
        self.state = SandboxState(list(apps or (APP,)), clock=SandboxClock(self.time), chats=chats, **options)
        self.auth = ""
        if (apps or (APP,))[0].app_type == "self_built":
            token = self.call("POST", TENANT, {"app_id": "cli_app", "app_secret": "secret"})
            self.auth = "Bearer " + token.body["tenant_access_token"]

    def call(
        self, method: str, path: str, body: Any, query: dict[str, str] | None = None, **headers: str
    ) -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": JSON_TYPE, **({"authorization": self.auth} if self.auth else {}), **headers}
        return self.state.handle(method, path, query or {}, sent, raw)

    def send(
        self, receive_id: str, msg_type: str, content: Any, id_type: str = "chat_id", **extra: Any
    ) -> Reply:
        body = {"receive_id": receive_id, "msg_type": msg_type, "content": content, **extra}
        return self.call("POST", CREATE, body, {"receive_id_type": id_type})

    def text(self, receive_id: str, text: str = "hi", id_type: str = "chat_id") -> Reply:
        return self.send(receive_id, "text", json.dumps({"text": text}), id_type)


def _code(reply: Reply) -> tuple[int, int]:
    return reply.status, reply.body["code"]


def _padded_text_body(size: int) -> tuple[dict[str, Any], int]:
    """A create body whose encoded size is exactly ``size`` bytes."""
    body = {"receive_id": "oc_team", "msg_type": "text", "content": json.dumps({"text": ""})}
    pad = size - len(json.dumps(body).encode())
    body["content"] = json.dumps({"text": "x" * pad})
    return body, len(json.dumps(body).encode())


def test_text_bodies_over_150_kb_are_refused_with_230025() -> None:
    lark = Lark()
    at_limit, size = _padded_text_body(150 * 1024)
    assert size == 153600
    assert _code(lark.call("POST", CREATE, at_limit, {"receive_id_type": "chat_id"})) == (200, 0)
    lark.time.value += 1
    over, size = _padded_text_body(150 * 1024 + 1)
    assert size == 153601
    assert _code(lark.call("POST", CREATE, over, {"receive_id_type": "chat_id"})) == (400, 230025)


def test_card_and_post_bodies_over_30_kb_are_refused_with_230025() -> None:
    lark = Lark()
    card = {"elements": [{"tag": "markdown", "content": "x" * (31 * 1024)}]}
    assert _code(lark.send("oc_team", "interactive", json.dumps(card))) == (400, 230025)
    post = {"zh_cn": {"title": "t", "content": [[{"tag": "text", "text": "x" * (31 * 1024)}]]}}
    assert _code(lark.send("oc_team", "post", json.dumps(post))) == (400, 230025)
    small = {"elements": [{"tag": "markdown", "content": "x" * (20 * 1024)}]}
    assert _code(lark.send("oc_team", "interactive", json.dumps(small))) == (200, 0)


@pytest.mark.parametrize(
    ("msg_type", "content", "code"),
    [
        ("interactive", "{}", 230099),  # Lark: "Failed to create card content"
        ("interactive", json.dumps({"elements": [{"text": "no tag"}]}), 230099),
        ("interactive", json.dumps({"type": "template", "data": {}}), 230099),
        ("interactive", json.dumps({"schema": "2.0", "body": {}}), 230099),
        ("post", json.dumps({"zh_cn": {"title": "no content"}}), 230001),
        ("post", "{}", 230001),
        ("text", json.dumps({"txt": "typo"}), 230001),
        ("text", "not json", 230001),
        ("image", json.dumps({"file_key": "wrong key"}), 230001),
        ("markdown", json.dumps({"text": "x"}), 230001),
    ],
)
def test_malformed_content_is_refused(msg_type: str, content: str, code: int) -> None:
    assert _code(Lark().send("oc_team", msg_type, content)) == (400, code)


@pytest.mark.parametrize(
    "content",
    [
        {"type": "template", "data": {"template_id": "ctp_1"}},
        {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "x"}]}},
        {"config": {"wide_screen_mode": True}, "elements": [{"tag": "div"}]},
        {"i18n_elements": {"zh_cn": [{"tag": "div"}]}},
    ],
)
def test_the_documented_card_forms_are_accepted(content: dict[str, Any]) -> None:
    assert _code(Lark().send("oc_team", "interactive", json.dumps(content))) == (200, 0)


def test_recipients_must_match_receive_id_type_and_the_bot_must_be_in_the_chat() -> None:
    lark = Lark()
    wrong_chat = lark.text("ou_someone", id_type="chat_id")
    assert _code(wrong_chat) == (400, 230001)
    assert "invalid receive_id" in wrong_chat.body["msg"]
    wrong_user = lark.text("oc_team", id_type="open_id")
    assert _code(wrong_user) == (400, 99992351)
    assert wrong_user.body["error"]["field_violations"][0]["field"] == "receive_id"
    assert _code(lark.text("oc_team", id_type="union_id")) == (400, 99992351)
    assert _code(lark.text("ou_someone", id_type="phone")) == (400, 99992402)
    assert _code(lark.text("oc_elsewhere")) == (400, 230002)  # the bot is not in that chat
    assert _code(lark.text("ou_someone", id_type="open_id")) == (200, 0)
    lark.state.add_chat("oc_elsewhere")
    assert _code(lark.text("oc_elsewhere")) == (200, 0)


def test_replies_need_a_known_target() -> None:
    lark = Lark()
    reply = {"msg_type": "text", "content": json.dumps({"text": "re"})}
    unknown = lark.call("POST", "/open-apis/im/v1/messages/om_unknown/reply", reply)
    assert _code(unknown) == (400, 230001)
    lark.state.seed_message("om_user_said", "oc_user_chat")
    answered = lark.call("POST", "/open-apis/im/v1/messages/om_user_said/reply", reply)
    assert _code(answered) == (200, 0)
    assert answered.body["data"]["chat_id"] == "oc_user_chat"
    sent = lark.text("oc_team").body["data"]["message_id"]  # the app's own messages are known too
    assert (
        lark.call("POST", f"/open-apis/im/v1/messages/{sent}/reply", reply).body["data"]["chat_id"]
        == "oc_team"
    )
    lenient = Lark(unseen_messages_chat="oc_local_chat")
    assert lenient.call("POST", "/open-apis/im/v1/messages/om_never_seen/reply", reply).body["data"][
        "chat_id"
    ] == ("oc_local_chat")
    assert _code(lenient.call("POST", "/open-apis/im/v1/messages/oc_a_chat/reply", reply)) == (400, 230001)


def test_uuid_longer_than_50_is_a_field_violation() -> None:
    lark = Lark()
    content = json.dumps({"text": "x"})
    assert _code(lark.send("oc_team", "text", content, uuid="u" * 50)) == (200, 0)
    refused = lark.send("oc_team", "text", content, uuid="u" * 51)
    assert _code(refused) == (400, 99992402)
    assert refused.body["error"]["field_violations"][0]["field"] == "uuid"


def test_errors_carry_lark_s_envelope_and_log_id() -> None:
    lark = Lark()
    refused = lark.text("oc_elsewhere")
    log_id = refused.headers["X-Tt-Logid"]
    assert refused.body["error"]["log_id"] == log_id
    assert log_id[:8].isdigit()
    assert len(log_id) == 34
    assert set(refused.body) == {"code", "msg", "error"}
    assert lark.text("oc_team").headers["X-Tt-Logid"] != log_id
    token_error = lark.call("POST", TENANT, {"app_id": "cli_app", "app_secret": "wrong"})
    assert token_error.body == {"code": 10014, "msg": "app secret invalid"}  # auth v3: plain, HTTP 200
    assert token_error.status == 200
    assert token_error.headers["X-Tt-Logid"]


def test_the_body_must_be_sent_as_json() -> None:
    lark = Lark()
    body = {"receive_id": "oc_team", "msg_type": "text", "content": json.dumps({"text": "x"})}
    form = lark.call("POST", CREATE, body, {"receive_id_type": "chat_id"}, **{"content-type": "text/plain"})
    assert _code(form) == (400, 99992402)
    assert form.body["error"]["field_violations"][0]["field"] == "Content-Type"


def test_five_messages_a_second_to_one_chat_then_230020() -> None:
    lark = Lark(chats=("oc_team", "oc_other"))
    assert [lark.text("oc_team").body["code"] for _ in range(5)] == [0] * 5
    limited = lark.text("oc_team")
    assert _code(limited) == (400, 230020)
    assert "x-ogw-ratelimit-limit" not in limited.headers  # a service limit, not the gateway's
    assert _code(lark.text("oc_other")) == (200, 0)  # other chats are not held up
    assert [lark.text(f"ou_{n}", id_type="open_id").body["code"] for n in range(3)] == [0] * 3
    lark.time.value += 1
    assert _code(lark.text("oc_team")) == (200, 0)


def test_fifty_a_second_and_a_thousand_a_minute_per_app_then_429() -> None:
    lark = Lark()
    users = iter(range(10_000))

    def burst(count: int) -> list[int]:
        return [lark.text(f"ou_{next(users)}", id_type="open_id").status for _ in range(count)]

    assert burst(50) == [200] * 50
    limited = lark.text("ou_extra", id_type="open_id")
    assert _code(limited) == (429, 99991400)
    assert limited.body == {"code": 99991400, "msg": "request trigger frequency limit"}
    assert (limited.headers["x-ogw-ratelimit-limit"], limited.headers["x-ogw-ratelimit-reset"]) == ("50", "1")
    for _ in range(19):  # 20 seconds of 50: the minute's 1000
        lark.time.value += 1
        assert burst(50) == [200] * 50
    lark.time.value += 1
    per_minute = lark.text("ou_extra", id_type="open_id")
    assert _code(per_minute) == (429, 99991400)
    assert per_minute.headers["x-ogw-ratelimit-limit"] == "1000"
    assert per_minute.headers["x-ogw-ratelimit-reset"] == "40"  # the minute window ends 40 s on
    lark.time.value += 40
    assert burst(1) == [200]


def test_a_card_updates_five_times_a_second() -> None:
    lark = Lark()
    card = {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "v"}]}
    message_id = lark.send("oc_team", "interactive", json.dumps(card)).body["data"]["message_id"]
    path = f"/open-apis/im/v1/messages/{message_id}"
    codes = [lark.call("PATCH", path, {"content": json.dumps(card)}).body["code"] for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 230020]


def test_store_app_tickets_are_pushed_hourly_and_expire() -> None:
    store = SandboxApp("cli_store", "s", "marketplace")
    lark = Lark(store)
    first = lark.state.current_ticket("cli_store")
    creds = {"app_id": "cli_store", "app_secret": "s"}
    assert lark.state.due_tickets() == []
    lark.time.value += 3600
    [(app_id, second)] = lark.state.due_tickets()
    assert (app_id, lark.state.current_ticket("cli_store")) == ("cli_store", second)
    assert lark.state.due_tickets() == []
    app_token = lark.call("POST", "/open-apis/auth/v3/app_access_token", {**creds, "app_ticket": first})
    assert app_token.body["code"] == 0  # an hour-old ticket still works
    lark.time.value += 12 * 3600
    stale = lark.call("POST", "/open-apis/auth/v3/app_access_token", {**creds, "app_ticket": second})
    assert _code(stale) == (200, 10012)
    resend = lark.call("POST", "/open-apis/auth/v3/app_ticket/resend", creds)
    assert resend.body == {"code": 0, "msg": "success"}  # the resend page's sample


def test_resend_is_for_store_apps_only() -> None:
    lark = Lark()
    answer = lark.call(
        "POST", "/open-apis/auth/v3/app_ticket/resend", {"app_id": "cli_app", "app_secret": "secret"}
    )
    assert _code(answer) == (200, 10003)
    internal = lark.call(
        "POST", "/open-apis/auth/v3/app_access_token/internal", {"app_id": "cli_app", "app_secret": "secret"}
    )
    assert internal.body["app_access_token"].startswith("a-")
