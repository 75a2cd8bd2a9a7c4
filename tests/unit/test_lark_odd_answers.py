"""Answers that are not Lark's documented error envelope are server errors, never crashes.

Lark's envelope is a JSON object with an integer ``code`` (Open Platform docs, "Server-side
error codes"; larksuite/oapi-sdk-python ``lark_oapi/core/model/base_response.py``: ``code: int``).
Anything else — a proxy's HTML page, ``{"code": "InternalError"}``, ``{"code": null}``, a bare
``1e400`` (which Python's json reads as infinity) — must end as ``LarkTransientError`` so the
token refresh retries it with backoff and reports it, instead of a ValueError, TypeError or
OverflowError that aborts the run.
"""

from __future__ import annotations

import httpx
import pytest

from lark_service.lark.auth import TENANT_INTERNAL, AuthApi
from lark_service.lark.errors import LarkRateLimited, LarkTransientError
from lark_service.lark.transport import Transport, _check
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy, with_retries

ROUTE = TENANT_INTERNAL

ODD_ANSWERS = [
    (502, b'{"code":"InternalError"}'),
    (503, b'{"code":null}'),
    (500, b"1e400"),
    (200, b'{"code":1e400}'),
    (200, b'{"code":true,"msg":"ok"}'),
    (400, b'{"code":1.5}'),
    (200, b"[0]"),
    (400, b'["code", 0]'),
    (200, b'"success"'),
    (200, b"null"),
    (200, b""),
    (400, b"<html><body>400 Bad Request</body></html>"),
    (502, b"<html>bad gateway</html>"),
    (200, b"\xff\xfe not utf-8"),
    (500, b"[" * 100_000),
    (200, b'{"msg":"no code at all"}'),
]


@pytest.mark.parametrize(("status", "content"), ODD_ANSWERS)
def test_odd_bodies_are_server_errors(status: int, content: bytes) -> None:
    response = httpx.Response(status, content=content, headers={"content-type": "application/json"})
    with pytest.raises(LarkTransientError):
        _check(ROUTE, response)


def test_a_429_with_an_odd_body_is_still_a_rate_limit() -> None:
    response = httpx.Response(429, content=b"<html>slow down</html>", headers={"x-ogw-ratelimit-reset": "7"})
    with pytest.raises(LarkRateLimited) as raised:
        _check(ROUTE, response)
    assert raised.value.reset_seconds == 7.0


@pytest.mark.parametrize(
    "body",
    [
        {"code": 0, "msg": "ok", "tenant_access_token": "t-1", "expire": "7200"},
        {"code": 0, "msg": "ok", "tenant_access_token": "t-1", "expire": True},
        {"code": 0, "msg": "ok", "tenant_access_token": "t-1", "expire": 0},
        {"code": 0, "msg": "ok", "tenant_access_token": "", "expire": 7200},
        {"code": 0, "msg": "ok", "tenant_access_token": ["t-1"], "expire": 7200},
        {"code": 0, "msg": "ok"},
    ],
)
def test_a_success_without_a_usable_token_is_retried(body: dict[str, object]) -> None:
    transport = Transport("http://lark.invalid", client=_client(lambda _: httpx.Response(200, json=body)))
    with pytest.raises(LarkTransientError):
        AuthApi(transport, "cli_x", "secret").tenant_token_internal()


def test_odd_answers_are_retried_then_the_token_is_issued() -> None:
    """Through the real transport and retry loop: every odd answer once, then Lark's documented success."""
    answers = [httpx.Response(s, content=c) for s, c in ODD_ANSWERS]
    # The documented answer of auth/v3/tenant_access_token/internal (Open Platform docs).
    answers.append(
        httpx.Response(200, json={"code": 0, "msg": "ok", "tenant_access_token": "t-ok", "expire": 7200})
    )
    auth = AuthApi(Transport("http://lark.invalid", client=_client(lambda _: answers.pop(0))), "cli_x", "s")
    slept: list[float] = []
    policy = RetryPolicy(base=0.01, cap=0.01, attempts=len(ODD_ANSWERS) + 1, call_seconds=0.0)
    issued = with_retries(
        auth.tenant_token_internal, token_type="t", policy=policy, budget=Budget(60), sleep=slept.append
    )
    assert (issued.token, issued.expire) == ("t-ok", 7200)
    assert len(slept) == len(ODD_ANSWERS)


def test_odd_answers_to_the_end_are_reported_as_a_transient_failure() -> None:
    auth = AuthApi(
        Transport(
            "http://lark.invalid", client=_client(lambda _: httpx.Response(502, content=b'{"code":null}'))
        ),
        "cli_x",
        "s",
    )
    policy = RetryPolicy(base=0.01, cap=0.01, attempts=3, call_seconds=0.0)
    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            auth.tenant_token_internal, token_type="t", policy=policy, budget=Budget(60), sleep=lambda _: None
        )
    assert failed.value.reason == "transient"


def _client(answer: object) -> httpx.Client:
    return httpx.Client(base_url="http://lark.invalid", transport=httpx.MockTransport(answer))  # type: ignore[arg-type]
