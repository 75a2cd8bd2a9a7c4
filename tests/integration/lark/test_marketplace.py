"""Store apps: the pushed app_ticket, the 10012 resend loop, and one tenant token per tenant."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from lark_service.devtools.local.aws import Stack
from lark_service.devtools.local.poller import SqsPoller
from lark_service.devtools.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState
from lark_service.envelope import Envelope
from lark_service.tokens.keys import token_key
from lark_service.tokens.store import TokenStore
from tests.conftest import load_function
from tests.integration.lark.conftest import APP_ID, APP_SECRET, FAST, FakeLambdaContext

pytestmark = pytest.mark.integration

AUTH = "/open-apis/auth/v3/"


@pytest.fixture
def store_app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxControl]:
    state = SandboxState([SandboxApp(APP_ID, APP_SECRET, "marketplace")])
    with SandboxServer(state) as server:
        env = {"LARK_APP_ID": APP_ID, "LARK_APP_SECRET": APP_SECRET, "LARK_BASE_URL": server.url}
        for name, value in {**env, "LARK_APP_TYPE": "marketplace", **FAST}.items():
            monkeypatch.setenv(name, value)
        control = SandboxControl(server.url)
        yield control
        control.close()


def _ticket_event(ticket: str) -> Envelope:
    body = {
        "uuid": uuid.uuid4().hex,
        "token": "verification-token",
        "ts": str(time.time()),
        "type": "event_callback",
        "event": {"app_id": APP_ID, "app_ticket": ticket, "type": "app_ticket"},
    }
    return Envelope("event", "1.0", body["uuid"], "app_ticket", None, time.time(), body)


def _deliver(stack: Stack, envelope: Envelope) -> None:
    """Through the queue and the worker, as the webhook would hand it over."""
    import boto3

    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.events_queue_url, MessageBody=envelope.to_json())
    worker = load_function("worker")
    poller = SqsPoller(
        stack.events_queue_url, lambda e: worker.handler(e, FakeLambdaContext()), client=sqs, wait_seconds=1
    )
    assert poller.poll_once().deleted == 1


def _refresh() -> dict[str, object]:
    result: dict[str, object] = load_function("token_refresh").handler(
        {}, FakeLambdaContext(timeout_seconds=60)
    )
    return result


def test_stale_ticket_asks_for_a_resend_and_the_pushed_ticket_is_used(
    stack: Stack, store_app: SandboxControl
) -> None:
    store = TokenStore(stack.token_table)
    store.put_ticket(APP_ID, "ticket-from-last-week", time.time() - 7 * 86400)
    with pytest.raises(RuntimeError, match="invalid_ticket"):
        _refresh()
    assert [r["code"] for r in store_app.requests(AUTH + "app_access_token")] == [10012]
    assert len(store_app.requests(AUTH + "app_ticket/resend")) == 1

    fresh = store_app.app_ticket(APP_ID)  # what Lark pushes to the webhook after the resend
    assert fresh
    _deliver(stack, _ticket_event(fresh))
    assert store.get_ticket(APP_ID) == fresh

    assert _refresh() == {"refreshed": 1, "failed": []}
    app_token = store.get(token_key("app_access_token", APP_ID))
    assert app_token is not None
    assert app_token.expires_at > time.time() + 7000


def test_each_installed_tenant_gets_its_token(stack: Stack, store_app: SandboxControl) -> None:
    store = TokenStore(stack.token_table)
    store.put_ticket(APP_ID, store_app.app_ticket(APP_ID) or "", time.time())
    services = load_function("token_refresh").services
    first = services.tokens.tenant_token("tenant-a")  # on demand, as an event for tenant-a needs
    second = services.tokens.tenant_token("tenant-b")
    assert first != second
    calls = store_app.requests(AUTH + "tenant_access_token")
    assert sorted(c["body"]["tenant_key"] for c in calls) == ["tenant-a", "tenant-b"]
    assert len(store_app.requests(AUTH + "app_access_token")) == 1  # the app token is shared

    store_app.advance_clock(100 * 60)  # both tenants' tokens are now due for reissue
    assert _refresh() == {"refreshed": 3, "failed": []}
    for tenant, old in (("tenant-a", first), ("tenant-b", second)):
        stored = store.get(token_key("tenant_access_token", APP_ID, tenant))
        assert stored is not None
        assert stored.token != old
    with pytest.raises(ValueError, match="tenant_key"):
        services.tokens.tenant_token(None)
