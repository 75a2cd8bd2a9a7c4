"""What the client asks the transport for: the route, the filled-in path, the body, the token.

Expected request shapes come from Lark's API pages (im v1 "Reply to a message", "Send a
message", "Edit a message card"), which larksuite/oapi-sdk-python builds the same way
(``lark_oapi/api/im/v1/model/reply_message_request_body.py``, ``create_message_request_body.py``):
``content`` is the message content serialized as a JSON *string*; ``uuid`` is optional, at most 50
characters; ``receive_id_type`` is a query parameter of the send call.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from lark_service.lark.client import CREATE, PATCH, REPLY, LarkClient
from lark_service.lark.errors import LarkInvalidToken, LarkRateLimited

MESSAGE_ID = "om_dc13264520392913993dd051dba21dcf"


class Recording:
    """A transport that records each call and answers from a script (exceptions are raised)."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def call(self, method: str, route: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append({"method": method, "route": route, **kwargs})
        answer = self.answers.pop(0) if self.answers else {"code": 0, "msg": "success", "data": {"ok": 1}}
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


class Tokens:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens) or ["t-1"]
        self.asked: list[str | None] = []
        self.invalidated: list[str] = []

    def tenant_token(self, tenant_key: str | None = None) -> str:
        self.asked.append(tenant_key)
        return self.tokens[0]

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        self.tokens.pop(0)


def _client(transport: Recording, tokens: Tokens | None = None, **kwargs: Any) -> LarkClient:
    return LarkClient(transport, tokens or Tokens(), **kwargs)  # type: ignore[arg-type]


def test_a_reply_as_lark_documents_it() -> None:
    transport = Recording()
    tokens = Tokens()
    data = _client(transport, tokens).reply_message(
        MESSAGE_ID, msg_type="text", content={"text": "你好"}, uuid="r-1", tenant_key="tk_1"
    )
    assert data == {"ok": 1}
    assert transport.calls == [
        {
            "method": "POST",
            "route": "/open-apis/im/v1/messages/:message_id/reply",
            "path": f"/open-apis/im/v1/messages/{MESSAGE_ID}/reply",
            "params": None,
            "json": {"msg_type": "text", "content": '{"text": "你好"}', "uuid": "r-1"},
            "token": "t-1",
        }
    ]
    assert tokens.asked == ["tk_1"]
    assert REPLY == "/open-apis/im/v1/messages/:message_id/reply"


def test_a_send_as_lark_documents_it() -> None:
    transport = Recording()
    tokens = Tokens()
    _client(transport, tokens).send_message(
        "chat_id", "oc_1", msg_type="text", content={"text": "hi"}, uuid="s-1", tenant_key="tk_2"
    )
    assert transport.calls == [
        {
            "method": "POST",
            "route": "/open-apis/im/v1/messages",
            "path": "/open-apis/im/v1/messages",
            "params": {"receive_id_type": "chat_id"},
            "json": {"receive_id": "oc_1", "msg_type": "text", "content": '{"text": "hi"}', "uuid": "s-1"},
            "token": "t-1",
        }
    ]
    assert tokens.asked == ["tk_2"]
    assert CREATE == "/open-apis/im/v1/messages"


def test_without_a_uuid_none_is_sent() -> None:
    transport = Recording()
    _client(transport).send_message("open_id", "ou_1", msg_type="text", content={"text": "x"})
    _client(transport).reply_message(MESSAGE_ID, msg_type="text", content={"text": "x"}, uuid="")
    assert [call["json"] for call in transport.calls] == [
        {"receive_id": "ou_1", "msg_type": "text", "content": '{"text": "x"}'},
        {"msg_type": "text", "content": '{"text": "x"}'},
    ]
    assert [call["params"] for call in transport.calls] == [{"receive_id_type": "open_id"}, None]


def test_a_uuid_of_lark_s_maximum_length_is_sent_as_it_is() -> None:
    transport = Recording()
    at_limit = "u" * 50  # Lark: uuid "最大长度: 50 字符"
    _client(transport).reply_message(MESSAGE_ID, msg_type="text", content={}, uuid=at_limit)
    assert transport.calls[0]["json"]["uuid"] == at_limit


def test_a_long_uuid_is_sent_as_its_digest() -> None:
    transport = Recording()
    long = "evt-" + "a" * 80
    _client(transport).reply_message(MESSAGE_ID, msg_type="text", content={}, uuid=long)
    assert transport.calls[0]["json"]["uuid"] == hashlib.sha256(long.encode()).hexdigest()[:50]


def test_a_card_patch_as_lark_documents_it() -> None:
    transport = Recording()
    tokens = Tokens()
    card = {"elements": [{"tag": "div", "text": {"tag": "plain_text", "content": "完成"}}]}
    _client(transport, tokens).patch_message(MESSAGE_ID, card=card, tenant_key="tk_3")
    assert tokens.asked == ["tk_3"]
    (call,) = transport.calls
    assert (call["method"], call["route"], call["path"]) == (
        "PATCH",
        "/open-apis/im/v1/messages/:message_id",
        f"/open-apis/im/v1/messages/{MESSAGE_ID}",
    )
    assert call["json"] == {
        "content": '{"elements": [{"tag": "div", "text": {"tag": "plain_text", "content": "完成"}}]}'
    }
    assert json.loads(call["json"]["content"]) == card
    assert PATCH == "/open-apis/im/v1/messages/:message_id"


def test_every_placeholder_is_filled_and_params_passed_on() -> None:
    transport = Recording()
    route = "/open-apis/im/v1/chats/:chat_id/members/:member_id"
    _client(transport).request(
        "DELETE",
        route,
        path_params={"chat_id": "oc_9", "member_id": "ou_8"},
        params={"member_id_type": "open_id"},
    )
    (call,) = transport.calls
    assert call["route"] == route
    assert call["path"] == "/open-apis/im/v1/chats/oc_9/members/ou_8"
    assert call["params"] == {"member_id_type": "open_id"}


@pytest.mark.parametrize("value", ["", "om_1/../../auth", "/"])
def test_an_empty_or_slashed_path_parameter_is_refused_before_any_call(value: str) -> None:
    transport = Recording()
    with pytest.raises(ValueError, match=r"^path parameter 'message_id' must be a non-empty id without '/'$"):
        _client(transport).reply_message(value, msg_type="text", content={})
    assert transport.calls == []


@pytest.mark.parametrize("answer", [{"code": 0}, {"code": 0, "data": None}, {"code": 0, "data": ["x"]}])
def test_an_answer_without_a_data_object_reads_as_empty(answer: dict[str, Any]) -> None:
    assert _client(Recording(answer)).request("GET", "/open-apis/im/v1/chats") == {}


def test_a_refused_token_is_dropped_and_the_call_made_once_more_with_a_new_one() -> None:
    refused = LarkInvalidToken(REPLY, 400, 99991663, "invalid access token")
    transport = Recording(refused, {"code": 0, "data": {"done": True}})
    tokens = Tokens("t-old", "t-new")
    assert _client(transport, tokens).reply_message(MESSAGE_ID, msg_type="text", content={}) == {"done": True}
    assert tokens.invalidated == ["t-old"]
    assert [call["token"] for call in transport.calls] == ["t-old", "t-new"]


def test_a_second_refusal_is_raised() -> None:
    transport = Recording(
        LarkInvalidToken(REPLY, 400, 99991663, "a"), LarkInvalidToken(REPLY, 400, 99991664, "b")
    )
    tokens = Tokens("t-1", "t-2")
    with pytest.raises(LarkInvalidToken) as raised:
        _client(transport, tokens).reply_message(MESSAGE_ID, msg_type="text", content={})
    assert raised.value.code == 99991664
    assert len(transport.calls) == 2
    assert tokens.invalidated == ["t-1"]


def _limited(reset: float) -> LarkRateLimited:
    return LarkRateLimited(REPLY, 400, 230020, "frequency limit", reset)


def test_the_default_cap_is_ten_seconds_of_waiting() -> None:
    slept: list[float] = []
    transport = Recording(_limited(4.0), _limited(6.0), {"code": 0, "data": {}})
    _client(transport, sleep=slept.append).request("GET", "/open-apis/im/v1/chats")
    assert slept == [4.0, 6.0]  # 10 s in all: at the cap, not past it
    slept.clear()
    over = Recording(_limited(4.0), _limited(6.5))
    with pytest.raises(LarkRateLimited) as raised:
        _client(over, sleep=slept.append).request("GET", "/open-apis/im/v1/chats")
    assert raised.value.reset_seconds == 6.5
    assert slept == [4.0]


def test_a_zero_reset_still_waits_a_tenth_of_a_second() -> None:
    slept: list[float] = []
    transport = Recording(_limited(0.0), _limited(0.05), _limited(0.3), {"code": 0, "data": {}})
    _client(transport, sleep=slept.append, rate_limit_max_wait=1.0).request("GET", "/open-apis/im/v1/chats")
    assert slept == [0.1, 0.1, 0.3]


def test_a_limit_that_never_lifts_ends_at_the_cap() -> None:
    slept: list[float] = []
    transport = Recording(*[_limited(0.0) for _ in range(100)])
    with pytest.raises(LarkRateLimited):
        _client(transport, sleep=slept.append, rate_limit_max_wait=0.5).request(
            "GET", "/open-apis/im/v1/chats"
        )
    assert sum(slept) == pytest.approx(0.5)
    assert len(transport.calls) == 6
