"""How Lark's answers are classified: what the caller must do is decided by code and header."""

from __future__ import annotations

import httpx
import pytest

from lark_service.lark.auth import IssuedToken
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

ROUTE = "/open-apis/im/v1/messages/:message_id/reply"


def _answer(
    status: int, body: object = None, headers: dict[str, str] | None = None, text: str | None = None
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def test_success_returns_the_body() -> None:
    assert _check(ROUTE, _answer(200, {"code": 0, "data": {"x": 1}})) == {"code": 0, "data": {"x": 1}}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_answer(429, {"code": 99991400, "msg": "limit"}, {"x-ogw-ratelimit-reset": "4"}), LarkRateLimited),
        (_answer(400, {"code": 99991400, "msg": "limit"}), LarkRateLimited),
        (_answer(400, {"code": 1234, "msg": "x"}, {"x-ogw-ratelimit-reset": "2"}), LarkRateLimited),
        (_answer(400, {"code": 99991663, "msg": "invalid"}), LarkInvalidToken),
        (_answer(400, {"code": 99991671, "msg": "format"}, {"x-ogw-ratelimit-reset": "2"}), LarkInvalidToken),
        (_answer(400, {"code": 10014, "msg": "app secret invalid"}), CredentialsRejected),
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


def test_tokens_do_not_show_in_reprs() -> None:
    assert "t-secret" not in repr(IssuedToken("t-secret", 7200))
    assert "t-secret" not in repr(StoredToken("t-secret", 1.0, 0.0))
