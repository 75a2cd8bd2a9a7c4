"""How Lark's answers are classified: what the caller must do is decided by code and header."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from lark_service.lark.auth import IssuedToken
from lark_service.lark.client import LarkClient, dedupe_key
from lark_service.lark.errors import (
    AppTicketInvalid,
    CredentialsRejected,
    LarkApiError,
    LarkError,
    LarkInvalidToken,
    LarkRateLimited,
    LarkTransientError,
)
from lark_service.lark.transport import _check
from lark_service.tokens.store import StoredToken
from tests.unit.lark_answers import answer as _answer

ROUTE = "/open-apis/im/v1/messages/:message_id/reply"


def test_success_returns_the_body() -> None:
    assert _check(ROUTE, _answer(200, {"code": 0, "data": {"x": 1}})) == {"code": 0, "data": {"x": 1}}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_answer(429, {"code": 99991400, "msg": "limit"}, {"x-ogw-ratelimit-reset": "4"}), LarkRateLimited),
        (_answer(400, {"code": 99991400, "msg": "limit"}), LarkRateLimited),  # older APIs' form
        (_answer(429, {"code": 1234, "msg": "x"}), LarkRateLimited),  # 429 whatever the code
        (_answer(429, text="Too Many Requests"), LarkRateLimited),
        (_answer(400, {"code": 230020, "msg": "frequency limit"}), LarkRateLimited),  # per chat
        (_answer(200, {"code": 230020, "msg": "frequency limit"}), LarkRateLimited),
        (_answer(400, {"code": 11232, "msg": "create message service trigger rate limit"}), LarkRateLimited),
        (_answer(400, {"code": 1234, "msg": "x"}, {"x-ogw-ratelimit-reset": "2"}), LarkApiError),
        (_answer(400, {"code": 99991663, "msg": "invalid"}), LarkInvalidToken),
        (_answer(400, {"code": 99991671, "msg": "format"}, {"x-ogw-ratelimit-reset": "2"}), LarkInvalidToken),
        (_answer(400, {"code": 10014, "msg": "app secret invalid"}), CredentialsRejected),
        (_answer(200, {"code": 10003, "msg": "invalid param"}), CredentialsRejected),  # auth v3: HTTP 200
        (_answer(400, {"code": 10012, "msg": "app_ticket is invalid"}), AppTicketInvalid),
        (_answer(500, {"code": 55001, "msg": "internal"}), LarkTransientError),
        (_answer(502, text="<html>bad gateway</html>"), LarkTransientError),
        (_answer(400, {"code": 230001, "msg": "bad param"}), LarkApiError),
        (_answer(200, {"code": 230002, "msg": "bot not in chat"}), LarkApiError),
    ],
)
def test_failures_are_classified(response: httpx.Response, expected: type[LarkError]) -> None:
    with pytest.raises(expected) as raised:
        _check(ROUTE, response)
    assert type(raised.value) is expected


def test_rate_limit_reset_is_read_from_the_header() -> None:
    with pytest.raises(LarkRateLimited) as raised:
        _check(ROUTE, _answer(429, {"code": 99991400}, {"x-ogw-ratelimit-reset": "4"}))
    assert raised.value.reset_seconds == 4.0


def test_per_chat_limit_without_a_header_waits_one_second() -> None:
    with pytest.raises(LarkRateLimited) as raised:
        _check(ROUTE, _answer(400, {"code": 230020, "msg": "limit"}))
    assert raised.value.reset_seconds == 1.0


def test_every_rate_limit_form_is_counted(capsys: pytest.CaptureFixture[str]) -> None:
    forms = [
        _answer(429, {"code": 99991400}),
        _answer(400, {"code": 99991400}),
        _answer(400, {"code": 230020}),
        _answer(200, {"code": 230020}),
    ]
    for response in forms:
        with pytest.raises(LarkRateLimited):
            _check(ROUTE, response)
    counted = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "AuthRateLimitTriggered" in line
    ]
    assert [doc["endpoint"] for doc in counted] == [ROUTE] * 4


def test_lark_s_log_id_reaches_the_error_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    header = _answer(400, {"code": 230002, "msg": "bot not in chat"}, {"x-tt-logid": "20261130020000ABCDEF"})
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, header)
    assert raised.value.log_id == "20261130020000ABCDEF"
    assert "20261130020000ABCDEF" in str(raised.value)
    body_only = _answer(400, {"code": 230001, "msg": "bad", "error": {"log_id": "2026113002FEDCBA"}})
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, body_only)
    assert raised.value.log_id == "2026113002FEDCBA"
    logged = [r for r in caplog.records if r.getMessage() == "Lark refused a call"]
    assert [(getattr(r, "code", None), getattr(r, "log_id", None)) for r in logged] == [
        (230002, "20261130020000ABCDEF"),
        (230001, "2026113002FEDCBA"),
    ]


def test_long_uuids_become_a_digest_not_a_cut() -> None:
    shared = "reply-" + "e" * 60
    first, second = shared + "-1", shared + "-2"
    assert first[:50] == second[:50]  # cutting would merge them
    assert dedupe_key(first) == hashlib.sha256(first.encode()).hexdigest()[:50]
    assert dedupe_key(first) != dedupe_key(second)
    assert len(dedupe_key(first)) == 50
    assert dedupe_key("reply-short") == "reply-short"
    assert len(dedupe_key("x" * 50)) == 50


class _Limited:
    """A transport that answers with rate limits of the given resets, then success."""

    def __init__(self, *resets: float) -> None:
        self.resets = list(resets)
        self.calls = 0

    def call(self, method: str, route: str, **_: object) -> dict[str, object]:
        self.calls += 1
        if self.resets:
            raise LarkRateLimited(route, 400, 230020, "limit", self.resets.pop(0))
        return {"code": 0, "data": {"ok": True}}


class _Tokens:
    def tenant_token(self, tenant_key: str | None = None) -> str:
        return "t-token"

    def invalidate(self, token: str) -> None:
        raise AssertionError("no token refusal in these tests")


def test_client_waits_out_rate_limits_up_to_its_cap() -> None:
    slept: list[float] = []
    transport = _Limited(1.0, 1.0, 2.0)
    client = LarkClient(transport, _Tokens(), rate_limit_max_wait=4.0, sleep=slept.append)  # type: ignore[arg-type]
    assert client.request("POST", ROUTE, path_params={"message_id": "om_1"}) == {"ok": True}
    assert slept == [1.0, 1.0, 2.0]
    over = _Limited(2.0, 3.0)
    client = LarkClient(over, _Tokens(), rate_limit_max_wait=4.0, sleep=slept.append)  # type: ignore[arg-type]
    with pytest.raises(LarkRateLimited) as raised:
        client.request("POST", ROUTE, path_params={"message_id": "om_1"})
    assert raised.value.reset_seconds == 3.0  # handed to the worker, which delays the event
    assert over.calls == 2


def test_tokens_do_not_show_in_reprs() -> None:
    assert "t-secret" not in repr(IssuedToken("t-secret", 7200))
    assert "t-secret" not in repr(StoredToken("t-secret", 1.0, 0.0))
