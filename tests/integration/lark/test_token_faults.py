"""Drills for the token refresh: odd answers, a slow Lark against the deadline, a table outage.

Everything goes through the real function (``functions/token_refresh/app.py``), botocore against
moto's server and httpx against a Lark stand-in over loopback sockets. The Lambda context is the
fake whose remaining time runs down with the monotonic clock, so "the deadline" is real time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lark_service.local.aws import Stack
from lark_service.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState
from lark_service.tokens.keys import token_key
from lark_service.tokens.store import StoredToken, TokenStore
from tests.conftest import load_function
from tests.integration.lark.conftest import APP_ID, APP_SECRET, FAST, FakeLambdaContext, emf_metrics
from tests.integration.lark.function_logs import captured_logs

pytestmark = pytest.mark.integration

AUTH = "/open-apis/auth/v3/"
TENANT_INTERNAL = AUTH + "tenant_access_token/internal"
APP_INTERNAL = AUTH + "app_access_token/internal"
TENANT_STORE_APP = AUTH + "tenant_access_token"


def _run_refresh(context: FakeLambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = load_function("token_refresh").handler({}, context)
    return result


# --- odd answers over a real socket --------------------------------------------------------------
class OddLark:
    """Answers the two self-built token routes: scripted raw answers first, then the documented one.

    The success body is the one Lark documents for ``auth/v3/tenant_access_token/internal`` and
    ``auth/v3/app_access_token/internal``: ``{"code": 0, "msg": "ok", "<kind>": "t-...", "expire": 7200}``.
    """

    def __init__(self, script: dict[str, list[tuple[int, bytes]]], forever: bool = False) -> None:
        self.script = script
        self.forever = forever
        self.calls: list[str] = []
        self._lock = threading.Lock()
        odd = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, raw = odd.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.calls.append(path)
            queue = self.script.get(path, [])
            if queue:
                return queue[0] if self.forever else queue.pop(0)
        kind = "tenant_access_token" if path == TENANT_INTERNAL else "app_access_token"
        body = {"code": 0, "msg": "ok", kind: f"t-{kind[:3]}-{len(self.calls)}", "expire": 7200}
        return 200, json.dumps(body).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


ODD = [
    (502, b'{"code":"InternalError"}'),
    (503, b'{"code":null}'),
    (500, b"1e400"),
    (502, b"[1, 2, 3]"),
]


@pytest.fixture
def odd_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for name, value in {"LARK_APP_ID": APP_ID, "LARK_APP_SECRET": APP_SECRET, **FAST}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LARK_TOKEN_RETRY_ATTEMPTS", str(len(ODD) + 1))
    return stack


def test_odd_error_bodies_are_retried_and_the_run_completes(
    odd_env: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lark = OddLark({TENANT_INTERNAL: list(ODD)})
    try:
        monkeypatch.setenv("LARK_BASE_URL", lark.url)
        assert _run_refresh(FakeLambdaContext(timeout_seconds=60)) == {"refreshed": 2, "failed": []}
    finally:
        lark.close()
    assert lark.calls.count(TENANT_INTERNAL) == len(ODD) + 1
    stored = TokenStore(odd_env.token_table).get(token_key("tenant_access_token", APP_ID))
    assert stored is not None
    assert stored.token == f"t-ten-{lark.calls.index(TENANT_INTERNAL) + len(ODD) + 1}"
    metrics = emf_metrics(capsys.readouterr().out)
    retries = [m for m in metrics if m["name"] == "TokenRefreshRetry"]
    assert len(retries) == len(ODD)
    statuses = sorted(
        m["status"] for m in metrics if m["name"] == "ApiRequests" and m["endpoint"] == TENANT_INTERNAL
    )
    assert statuses == sorted(["200"] + [str(s) for s, _ in ODD])


def test_odd_bodies_to_the_end_are_reported_and_do_not_stop_the_other_token(
    odd_env: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lark = OddLark({TENANT_INTERNAL: [(503, b'{"code":null}')]}, forever=True)
    try:
        monkeypatch.setenv("LARK_BASE_URL", lark.url)
        with pytest.raises(RuntimeError, match="transient"):
            _run_refresh(FakeLambdaContext(timeout_seconds=60))
    finally:
        lark.close()
    assert lark.calls.count(TENANT_INTERNAL) == len(ODD) + 1  # every attempt, then reported
    assert TokenStore(odd_env.token_table).get(token_key("app_access_token", APP_ID)) is not None
    failures = [m for m in emf_metrics(capsys.readouterr().out) if m["name"] == "TokenRefreshFailure"]
    assert failures == [
        {
            "name": "TokenRefreshFailure",
            "value": 1.0,
            "token_type": "tenant_access_token",
            "reason": "transient",
        }
    ]


# --- a slow Lark and the deadline ------------------------------------------------------------------
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


def _seed_tenants(stack: Stack, control: SandboxControl) -> list[str]:
    """Six installed tenants whose tokens expire in an order unlike their names; stalest first."""
    store = TokenStore(stack.token_table)
    store.put_ticket(APP_ID, control.app_ticket(APP_ID) or "", time.time())
    now = time.time()
    expiries = {
        "tenant-c": 600,
        "tenant-a": 1200,
        "tenant-f": 1800,
        "tenant-b": 2400,
        "tenant-e": 3000,
        "tenant-d": 3600,
    }
    for tenant, left in expiries.items():
        store.put(
            token_key("tenant_access_token", APP_ID, tenant), StoredToken(f"t-old-{tenant}", now + left, now)
        )
    return sorted(expiries, key=expiries.__getitem__)


def _tenants_asked(control: SandboxControl) -> list[str]:
    """Tenants in the order their token calls reached Lark (first call of each)."""
    asked: list[str] = []
    for call in control.requests(TENANT_STORE_APP):
        if call["body"]["tenant_key"] not in asked:
            asked.append(call["body"]["tenant_key"])
    return asked


def test_a_slow_lark_does_not_make_the_refresh_overrun_its_deadline(
    stack: Stack, store_app: SandboxControl, capsys: pytest.CaptureFixture[str]
) -> None:
    stalest_first = _seed_tenants(stack, store_app)
    # Every tenant call hangs past the 1 s client timeout.
    store_app.add_fault(TENANT_STORE_APP, "timeout", count=None, delay=3)
    context = FakeLambdaContext(timeout_seconds=9)
    capsys.readouterr()
    with captured_logs() as logs, pytest.raises(RuntimeError, match="incomplete"):
        _run_refresh(context)
    left = context.get_remaining_time_in_millis()
    assert left >= 1000, f"the run ended {left} ms before Lambda's timeout; it must keep its margin"

    asked = _tenants_asked(store_app)
    assert asked, "a 9 s invocation has time for at least one tenant"
    assert asked == stalest_first[: len(asked)]  # stalest first
    skipped = stalest_first[len(asked) :]
    assert skipped, "six slow tenants cannot all fit in 9 s"
    out = capsys.readouterr().out
    deadline = [
        m for m in emf_metrics(out) if m["name"] == "TokenRefreshFailure" and m["reason"] == "deadline"
    ]
    # The skipped ones in one count, plus the tenant whose retries the deadline cut short, if any.
    assert sum(m["value"] for m in deadline) in (len(skipped), len(skipped) + 1)
    assert {m["token_type"] for m in deadline} == {"tenant_access_token"}
    (skip_log,) = [
        line for line in logs if line["message"] == "token refresh ran out of time; tokens skipped"
    ]
    assert [s["tenant_key"] for s in skip_log["skipped"]] == skipped
    # The old tokens stay: a failure never overwrites a stored token.
    store = TokenStore(stack.token_table)
    for tenant in stalest_first:
        stored = store.get(token_key("tenant_access_token", APP_ID, tenant))
        assert stored is not None
        assert stored.token == f"t-old-{tenant}"


def test_runs_short_of_time_reach_every_tenant_in_turn(
    stack: Stack, store_app: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow but successful calls: what one run skips, the next run renews first; no tenant starves."""
    monkeypatch.setenv("LARK_HTTP_TIMEOUT_SECONDS", "3")
    stalest_first = _seed_tenants(stack, store_app)
    store_app.add_fault(TENANT_STORE_APP, "timeout", count=None, delay=1)  # each tenant call takes 1 s

    with pytest.raises(RuntimeError, match="deadline"):
        _run_refresh(FakeLambdaContext(timeout_seconds=9))
    first = _tenants_asked(store_app)
    assert first == stalest_first[: len(first)]
    assert 0 < len(first) < len(stalest_first)
    store_app.clear_requests()

    with pytest.raises(RuntimeError, match="deadline"):
        _run_refresh(FakeLambdaContext(timeout_seconds=9))
    second = _tenants_asked(store_app)
    skipped_by_first = stalest_first[len(first) :]
    assert second[: len(skipped_by_first)] == skipped_by_first[: len(second)]
    store = TokenStore(stack.token_table)
    renewed = [
        t
        for t in stalest_first
        if not store.get(token_key("tenant_access_token", APP_ID, t)).token.startswith("t-old")
    ]  # type: ignore[union-attr]
    assert set(renewed) == set(first) | set(second)


# --- the token table ------------------------------------------------------------------------------
def test_a_missing_table_is_reported_not_a_crash(
    lark_env: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOKEN_TABLE", "lark-service-no-such-table")
    with captured_logs() as logs, pytest.raises(RuntimeError, match="store"):
        _run_refresh(FakeLambdaContext(timeout_seconds=60))
    failures = [m for m in emf_metrics(capsys.readouterr().out) if m["name"] == "TokenRefreshFailure"]
    assert [m["reason"] for m in failures] == ["store"]
    (line,) = [line for line in logs if line["message"] == "token table unavailable"]
    assert line["error"] == "DynamoDB GetItem failed (ResourceNotFoundException)"  # the one error contract
