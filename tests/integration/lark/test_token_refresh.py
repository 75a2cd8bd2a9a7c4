"""The token refresh function against moto's DynamoDB and the Lark sandbox, over HTTP."""

from __future__ import annotations

import time

import boto3
import pytest

from lark_service.local.aws import Stack
from lark_service.tokens.keys import token_key
from lark_service.tokens.store import StoredToken, TokenStore
from tests.conftest import load_function
from tests.integration.lark.conftest import APP_ID, FakeLambdaContext, Sandbox, emf_metrics

pytestmark = pytest.mark.integration

TENANT_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
APP_PATH = "/open-apis/auth/v3/app_access_token/internal"


def _refresh() -> dict[str, object]:
    function = load_function("token_refresh")
    result: dict[str, object] = function.handler({}, FakeLambdaContext(timeout_seconds=60))
    return result


def _stored(stack: Stack, token_type: str = "tenant_access_token") -> StoredToken:
    stored = TokenStore(stack.token_table).get(token_key(token_type, APP_ID))  # type: ignore[arg-type]
    assert stored is not None, f"no {token_type} in the table"
    return stored


def test_refresh_stores_tokens_with_absolute_expiry(lark_env: Stack, sandbox: Sandbox) -> None:
    before = time.time()
    assert _refresh() == {"refreshed": 2, "failed": []}
    after = time.time()
    for token_type, prefix in (("tenant_access_token", "t-"), ("app_access_token", "a-")):
        stored = _stored(lark_env, token_type)
        assert stored.token.startswith(prefix)
        # expire is the remaining lifetime (7200 s for a new token), stored as an absolute time.
        assert before + 7200 - 1 <= stored.expires_at <= after + 7200
    item = boto3.client("dynamodb").get_item(
        TableName=lark_env.token_table, Key={"pk": {"S": token_key("tenant_access_token", APP_ID)}}
    )["Item"]
    assert int(item["ttl"]["N"]) >= _stored(lark_env).expires_at
    calls = sandbox.calls(TENANT_PATH)
    assert len(calls) == 1
    assert calls[0]["body"]["app_id"] == APP_ID


def test_second_run_inside_window_keeps_token_and_later_run_replaces_it(
    lark_env: Stack, sandbox: Sandbox
) -> None:
    _refresh()
    first = _stored(lark_env)
    _refresh()
    second = _stored(lark_env)
    assert second.token == first.token
    assert abs(second.expires_at - first.expires_at) < 2  # same token, same absolute expiry
    assert len(sandbox.calls(TENANT_PATH)) == 2

    sandbox.control.advance_clock(95 * 60)  # 25 min left on Lark's side: below the 30-min rule
    _refresh()
    third = _stored(lark_env)
    assert third.token != first.token
    assert third.expires_at > time.time() + 7200 - 5


def test_transient_faults_are_retried(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.control.add_fault(TENANT_PATH, "server_error", count=1, status=503)
    sandbox.control.add_fault(TENANT_PATH, "timeout", count=1, delay=3)  # client timeout is 1 s
    assert _refresh() == {"refreshed": 2, "failed": []}
    faults = [c["fault"] for c in sandbox.calls(TENANT_PATH)]
    assert faults == ["server_error", "timeout", None]
    metrics = emf_metrics(capsys.readouterr().out)
    retries = [m for m in metrics if m["name"] == "TokenRefreshRetry"]
    assert [m["token_type"] for m in retries] == ["tenant_access_token", "tenant_access_token"]
    assert any(
        m["name"] == "TokenRefreshSuccess" and m["token_type"] == "tenant_access_token" for m in metrics
    )
    assert any(
        m["name"] == "ApiRequests" and m["status"] == "503" and m["endpoint"] == TENANT_PATH for m in metrics
    )


def test_final_failure_keeps_the_old_token(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    _refresh()
    old = _stored(lark_env)
    sandbox.control.advance_clock(95 * 60)  # Lark would issue a new token now ...
    sandbox.control.add_fault(TENANT_PATH, "server_error", count=None)  # ... but keeps failing
    capsys.readouterr()
    with pytest.raises(RuntimeError, match="tenant_access_token"):
        _refresh()
    assert _stored(lark_env) == old
    assert len([c for c in sandbox.calls(TENANT_PATH) if c["fault"]]) == 4  # LARK_TOKEN_RETRY_ATTEMPTS
    failures = [m for m in emf_metrics(capsys.readouterr().out) if m["name"] == "TokenRefreshFailure"]
    assert failures == [
        {
            "name": "TokenRefreshFailure",
            "value": 1.0,
            "token_type": "tenant_access_token",
            "reason": "transient",
        }
    ]
    # The app token had no fault and was refreshed: one failure does not stop the others.
    assert _stored(lark_env, "app_access_token").token != old.token


def test_rate_limit_waits_the_reset_header(
    lark_env: Stack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.control.add_fault(TENANT_PATH, "rate_limit", count=1, reset=2)
    assert _refresh() == {"refreshed": 2, "failed": []}
    limited, answered = sandbox.calls(TENANT_PATH)
    assert limited["status"] == 429
    assert limited["code"] == 99991400
    assert answered["status"] == 200
    assert answered["at"] - limited["at"] >= 2.0  # waited what x-ogw-ratelimit-reset said
    metrics = emf_metrics(capsys.readouterr().out)
    assert {"name": "AuthRateLimitTriggered", "value": 1.0, "endpoint": TENANT_PATH} in metrics


def test_wrong_credentials_fail_fast(
    lark_env: Stack, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LARK_APP_SECRET", "not-the-secret")
    with pytest.raises(RuntimeError, match="credentials"):
        _refresh()
    calls = sandbox.calls(TENANT_PATH)
    assert len(calls) == 1  # no retry for a wrong secret
    assert calls[0]["code"] == 10014
    assert TokenStore(lark_env.token_table).get(token_key("tenant_access_token", APP_ID)) is None


def test_refresh_stores_the_remaining_lifetime_lark_answers(lark_env: Stack, sandbox: Sandbox) -> None:
    """Lark's rule: with 30 min or more left, the same token comes back and ``expire`` is what remains."""
    _refresh()
    first = _stored(lark_env)
    sandbox.control.advance_clock(40 * 60)  # 80 of the 120 minutes remain on Lark's side
    before = time.time()
    _refresh()
    after = time.time()
    again = _stored(lark_env)
    assert again.token == first.token
    remaining = 7200 - 40 * 60  # from Lark's documentation, not from the code under test
    assert before + remaining - 2 <= again.expires_at <= after + remaining
    assert [c["status"] for c in sandbox.calls(TENANT_PATH)] == [200, 200]
