"""The sandbox follows Lark's documented rules; checked here without HTTP, on a moved clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_service.sandbox.state import FaultRule, Reply, SandboxApp, SandboxState

APP = SandboxApp("cli_app", "secret")
TENANT = "/open-apis/auth/v3/tenant_access_token/internal"


def _post(state: SandboxState, path: str, body: dict[str, Any], **headers: str) -> Reply:
    query: dict[str, str] = {}
    if "?" in path:
        path, _, raw = path.partition("?")
        query = dict(pair.split("=") for pair in raw.split("&"))
    headers = {"content-type": "application/json; charset=utf-8", **headers}
    return state.handle("POST", path, query, headers, json.dumps(body).encode())


def _token(state: SandboxState) -> tuple[str, int]:
    reply = _post(state, TENANT, {"app_id": "cli_app", "app_secret": "secret"})
    assert reply.status == 200
    return reply.body["tenant_access_token"], reply.body["expire"]


def test_same_token_while_thirty_minutes_remain_then_a_new_one() -> None:
    state = SandboxState([APP])
    first, expire = _token(state)
    assert expire == 7200
    state.clock.advance(90 * 60 - 5)  # 30 min 5 s left: still the same token
    again, remaining = _token(state)
    assert again == first
    assert remaining in (1804, 1805)  # expire is what remains, not the full life
    state.clock.advance(10)  # 29 min 55 s left: a new one
    renewed, expire = _token(state)
    assert renewed != first
    assert expire == 7200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"app_id": "cli_other", "app_secret": "secret"}, 10003),
        ({"app_id": "cli_app", "app_secret": "wrong"}, 10014),
    ],
)
def test_wrong_credentials_have_their_codes(body: dict[str, str], code: int) -> None:
    """auth v3 answers its business errors with HTTP 200 (larksuite/oapi-sdk-java issue 33)."""
    reply = _post(SandboxState([APP]), TENANT, body)
    assert (reply.status, reply.body["code"]) == (200, code)


def test_message_calls_check_the_token() -> None:
    state = SandboxState([APP])
    state.seed_message("om_1", "oc_1")
    path = "/open-apis/im/v1/messages/om_1/reply"
    body = {"msg_type": "text", "content": json.dumps({"text": "hi"})}
    assert _post(state, path, body).body["code"] == 99991661
    assert _post(state, path, body, authorization="Bearer nonsense").body["code"] == 99991671
    assert _post(state, path, body, authorization="Bearer t-unknown").body["code"] == 99991663
    token, _ = _token(state)
    assert _post(state, path, body, authorization=f"Bearer {token}").body["code"] == 0
    state.clock.advance(7201)
    assert _post(state, path, body, authorization=f"Bearer {token}").body["code"] == 99991663


def test_uuid_makes_a_repeat_reply_a_no_op() -> None:
    state = SandboxState([APP])
    state.seed_message("om_1", "oc_1")
    token, _ = _token(state)
    body = {"msg_type": "text", "content": json.dumps({"text": "hi"}), "uuid": "u-1"}
    first = _post(state, "/open-apis/im/v1/messages/om_1/reply", body, authorization=f"Bearer {token}")
    second = _post(state, "/open-apis/im/v1/messages/om_1/reply", body, authorization=f"Bearer {token}")
    assert first.body["data"]["message_id"] == second.body["data"]["message_id"]
    assert len(state.messages()) == 1
    assert len(state.requests()) == 3  # the token call and both replies are on record


def test_create_message_validates_receive_id_type_and_content() -> None:
    state = SandboxState([APP], chats=("oc_1",))
    auth = f"Bearer {_token(state)[0]}"
    ok = {"receive_id": "oc_1", "msg_type": "text", "content": json.dumps({"text": "x"})}
    assert (
        _post(state, "/open-apis/im/v1/messages?receive_id_type=chat_id", ok, authorization=auth).body["code"]
        == 0
    )
    bad_type = _post(state, "/open-apis/im/v1/messages?receive_id_type=phone", ok, authorization=auth)
    assert bad_type.body["code"] == 99992402
    bad_content = {**ok, "content": {"text": "not a string"}}
    reply = _post(state, "/open-apis/im/v1/messages?receive_id_type=chat_id", bad_content, authorization=auth)
    assert (reply.status, reply.body["code"]) == (400, 230001)


def test_faults_apply_per_path_and_count() -> None:
    state = SandboxState([APP])
    state.add_fault(FaultRule(path="/open-apis/auth/v3/*", kind="rate_limit", count=2, reset=7))
    limited = _post(state, TENANT, {"app_id": "cli_app", "app_secret": "secret"})
    assert limited.status == 429
    assert limited.headers["x-ogw-ratelimit-reset"] == "7"
    assert limited.body["code"] == 99991400
    assert _post(state, TENANT, {}).status == 429
    assert _token(state)[0].startswith("t-")  # the third call goes through
    state.add_fault(FaultRule(path=TENANT, kind="rate_limit", status=400))  # the older APIs' form
    older = _post(state, TENANT, {})
    assert (older.status, older.body["code"], older.headers["x-ogw-ratelimit-limit"]) == (400, 99991400, "50")
    with pytest.raises(ValueError, match="fault kind"):
        state.add_fault(FaultRule(path="*", kind="explode"))  # type: ignore[arg-type]


def test_store_apps_need_a_valid_ticket() -> None:
    state = SandboxState([SandboxApp("cli_store", "s", "marketplace")])
    ticket = state.current_ticket("cli_store")
    assert ticket
    creds = {"app_id": "cli_store", "app_secret": "s"}
    assert _post(state, TENANT, creds).body["code"] == 10003  # no internal tokens for store apps
    app = _post(state, "/open-apis/auth/v3/app_access_token", {**creds, "app_ticket": ticket})
    assert app.body["code"] == 0
    assert app.body["app_access_token"].startswith("a-")  # the store-app page's sample: "a-6U1Sb..."
    state.invalidate_tickets("cli_store")
    stale = _post(state, "/open-apis/auth/v3/app_access_token", {**creds, "app_ticket": ticket})
    assert stale.body["code"] == 10012
    tenant = _post(
        state, "/open-apis/auth/v3/tenant_access_token", {"app_access_token": "t-bogus", "tenant_key": "k"}
    )
    assert tenant.body["code"] == 99991664


def _card(title: str, *, shared: bool = True) -> str:
    config = {"update_multi": True} if shared else {"wide_screen_mode": True}
    header = {"title": {"tag": "plain_text", "content": title}}
    return json.dumps(
        {"config": config, "header": header, "elements": [{"tag": "markdown", "content": title}]}
    )


def _patch(state: SandboxState, message_id: str, content: object, auth: str) -> Reply:
    raw = json.dumps({"content": content}).encode()
    path = f"/open-apis/im/v1/messages/{message_id}"
    headers = {"authorization": auth, "content-type": "application/json; charset=utf-8"}
    return state.handle("PATCH", path, {}, headers, raw)


def test_patch_replaces_a_shared_card_and_keeps_its_history() -> None:
    state = SandboxState([APP], chats=("oc_1",))
    auth = f"Bearer {_token(state)[0]}"
    sent = _post(
        state,
        "/open-apis/im/v1/messages?receive_id_type=chat_id",
        {"receive_id": "oc_1", "msg_type": "interactive", "content": _card("firing")},
        authorization=auth,
    )
    message_id = sent.body["data"]["message_id"]
    state.clock.advance(1)
    reply = _patch(state, message_id, _card("resolved"), auth)
    # The patch doc's response sample: {"code": 0, "msg": "success", "data": {}}.
    assert (reply.status, reply.body) == (200, {"code": 0, "msg": "success", "data": {}})
    assert reply.headers["X-Tt-Logid"]
    [record] = state.messages()
    assert json.loads(record["body"]["content"])["header"]["title"]["content"] == "resolved"
    assert record["updated"] is True
    assert record["update_count"] == 1
    assert record["history"] == [_card("firing")]
    assert int(record["update_time"]) > int(record["create_time"])


def test_patch_refuses_what_the_patch_doc_refuses() -> None:
    state = SandboxState([APP], chats=("oc_1",))
    auth = f"Bearer {_token(state)[0]}"
    create = "/open-apis/im/v1/messages?receive_id_type=chat_id"

    def send(msg_type: str, content: str) -> str:
        body = {"receive_id": "oc_1", "msg_type": msg_type, "content": content}
        return str(_post(state, create, body, authorization=auth).body["data"]["message_id"])

    text_id = send("text", json.dumps({"text": "x"}))
    private_card = send("interactive", _card("a", shared=False))
    shared_card = send("interactive", _card("b"))
    assert _patch(state, "om_unknown", _card("c"), auth).body["code"] == 230001
    assert _patch(state, text_id, _card("c"), auth).body["code"] == 230001
    assert _patch(state, private_card, _card("c"), auth).body["code"] == 230001
    assert _patch(state, shared_card, _card("c", shared=False), auth).body["code"] == 230001
    assert _patch(state, shared_card, {"not": "a string"}, auth).body["code"] == 230001
    assert _patch(state, shared_card, _card("c"), "").body["code"] == 99991661
    state.clock.advance(14 * 24 * 3600 + 1)
    auth = f"Bearer {_token(state)[0]}"
    assert _patch(state, shared_card, _card("c"), auth).body["code"] == 230031
    assert [m["update_count"] for m in state.messages()] == [0, 0, 0]
