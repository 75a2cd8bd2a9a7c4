"""On-demand refresh across instances: one call to Lark, however many callers find the token stale."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from lark_service.config import load_settings
from lark_service.lark.auth import AuthApi
from lark_service.lark.transport import Transport, default_timeout
from lark_service.local.aws import Stack
from lark_service.tokens.keys import token_key
from lark_service.tokens.provider import TokenProvider
from lark_service.tokens.refresher import TokenRefresher
from lark_service.tokens.store import StoredToken, TokenStore
from lark_service.tokens.tuning import load_tuning
from tests.integration.lark.conftest import APP_ID, APP_SECRET, Sandbox

pytestmark = pytest.mark.integration

CALLERS = 50
TENANT_PATH = "/open-apis/auth/v3/tenant_access_token/internal"


def _instance(stack: Stack, base_url: str) -> TokenProvider:
    """What one Lambda instance holds: its own HTTP pool, DynamoDB client and memory cache."""
    tuning = load_tuning()
    store = TokenStore(stack.token_table, boto3.client("dynamodb"))
    refresher = TokenRefresher(
        app_type="self_built",
        auth=AuthApi(Transport(base_url, timeout=default_timeout(tuning.http_timeout)), APP_ID, APP_SECRET),
        store=store,
        policy=tuning.retry_policy(),
    )
    return TokenProvider(store, refresher, app_type="self_built", tuning=tuning)


def test_fifty_concurrent_callers_make_one_token_call(lark_env: Stack, sandbox: Sandbox) -> None:
    pk = token_key("tenant_access_token", APP_ID)
    expired = StoredToken("t-expired", expires_at=time.time() - 60, fetched_at=time.time() - 7260)
    TokenStore(lark_env.token_table).put(pk, expired)
    settings = load_settings()
    instances = [_instance(lark_env, settings.base_url) for _ in range(CALLERS)]
    barrier = threading.Barrier(CALLERS)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def call(provider: TokenProvider) -> None:
        barrier.wait(timeout=30)
        try:
            tokens.append(provider.tenant_token())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(p,)) for p in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(tokens) == CALLERS
    assert len(set(tokens)) == 1
    assert tokens[0] != "t-expired"
    assert len(sandbox.calls(TENANT_PATH)) == 1
    stored = TokenStore(lark_env.token_table).get(pk)
    assert stored is not None
    assert stored.token == tokens[0]
    # The lock is released: a later refresh is not blocked by a leftover lease.
    lock = boto3.client("dynamodb").get_item(TableName=lark_env.token_table, Key={"pk": {"S": "lock#" + pk}})
    assert "Item" not in lock


def test_a_dead_winner_lease_runs_out(lark_env: Stack, sandbox: Sandbox) -> None:
    """A lock left by an instance that died is taken over once its lease has passed."""
    pk = token_key("tenant_access_token", APP_ID)
    store = TokenStore(lark_env.token_table)
    assert store.try_lock(pk, "dead-instance", time.time(), lease_seconds=0.5)
    provider = _instance(lark_env, load_settings().base_url)
    token = provider.tenant_token()
    assert token.startswith("t-")
    assert len(sandbox.calls(TENANT_PATH)) == 1


def test_the_refresh_margin_is_honoured(lark_env: Stack, sandbox: Sandbox) -> None:
    """A stored token with more than the margin left is served; with less, Lark is asked again."""
    pk = token_key("tenant_access_token", APP_ID)
    now = time.time()
    margin = load_tuning().refresh_margin
    store = TokenStore(lark_env.token_table)
    store.put(pk, StoredToken("t-stored", expires_at=now + margin + 60, fetched_at=now))
    assert _instance(lark_env, load_settings().base_url).tenant_token() == "t-stored"
    assert sandbox.calls(TENANT_PATH) == []

    store.put(pk, StoredToken("t-stored", expires_at=now + margin - 60, fetched_at=now))
    token = _instance(lark_env, load_settings().base_url).tenant_token()
    assert token != "t-stored"
    assert len(sandbox.calls(TENANT_PATH)) == 1


def test_the_lock_holder_stops_calling_before_its_lease_ends(
    lark_env: Stack, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lark hangs: the holder's calls end inside its lease, leaving the lease's margin for the write."""
    from lark_service.tokens.retry import RefreshFailed
    from lark_service.tokens.tuning import LOCK_HOLD_MARGIN

    monkeypatch.setenv("LARK_TOKEN_LOCK_LEASE_SECONDS", "6")  # 1 s calls: room for about two
    sandbox.control.add_fault(TENANT_PATH, "timeout", count=None, delay=5)
    provider = _instance(lark_env, load_settings().base_url)
    started = time.monotonic()
    with pytest.raises(RefreshFailed):
        provider.tenant_token()
    held = time.monotonic() - started
    assert held <= 6 - LOCK_HOLD_MARGIN + 0.5  # the last call ended with the lease's margin left
    assert len(sandbox.calls(TENANT_PATH)) >= 1
    lock = boto3.client("dynamodb").get_item(
        TableName=lark_env.token_table, Key={"pk": {"S": "lock#" + token_key("tenant_access_token", APP_ID)}}
    )
    assert "Item" not in lock  # released for the next caller
