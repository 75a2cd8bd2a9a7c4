"""On-demand refresh across instances: one call to Lark, however many callers find the token stale."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from lark_service.config import load_settings
from lark_service.lark.auth import AuthApi
from lark_service.lark.transport import Transport
from lark_service.local.aws import Stack
from lark_service.tokens.keys import token_key
from lark_service.tokens.provider import TokenProvider
from lark_service.tokens.refresher import TokenRefresher
from lark_service.tokens.retry import RetryPolicy
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
        auth=AuthApi(Transport(base_url), APP_ID, APP_SECRET),
        store=store,
        policy=RetryPolicy(tuning.retry_base, tuning.retry_cap, tuning.retry_attempts),
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
