"""The refresher's paths, self-built and store app, through the real ``AuthApi`` and transport.

``StoreAppLark`` answers as Lark's auth v3 pages document (Open Platform docs, "Store apps:
app_access_token", "Store apps: tenant_access_token", "Resend app_ticket"; the same bodies as
larksuite/oapi-sdk-python ``lark_oapi/core/token/manager.py``):

* ``POST /open-apis/auth/v3/app_access_token`` with ``{app_id, app_secret, app_ticket}`` answers
  ``{"code": 0, "msg": "ok", "app_access_token": "a-...", "expire": 7200}``; a stale ticket is
  code 10012 ("app_ticket is invalid");
* ``POST /open-apis/auth/v3/tenant_access_token`` with ``{app_access_token, tenant_key}`` answers
  ``{"code": 0, "msg": "ok", "tenant_access_token": "t-...", "expire": 7200}``; a refused app
  token is code 99991663 ("Invalid access token for authorization");
* ``POST /open-apis/auth/v3/app_ticket/resend`` with ``{app_id, app_secret}`` answers code 0.

The token table is ``TokenStore``'s contract in memory (``lark_service/tokens/store.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
import pytest

from lark_service.lark.auth import AuthApi
from lark_service.lark.transport import Transport
from lark_service.stores import DependencyError
from lark_service.tokens.keys import APP, TENANT, tenant_prefix, token_key
from lark_service.tokens.refresher import Outcome, RefreshReport, TokenRefresher
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy
from lark_service.tokens.store import StoredToken
from tests.unit.metric_recorder import Emitted, record_metrics

APP_ID, APP_SECRET = "cli_store", "store-secret"
POLICY = RetryPolicy(base=0.5, cap=4.0, attempts=3, call_seconds=2.0)
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryTokens:
    tokens: dict[str, StoredToken] = field(default_factory=dict)
    ticket: str | None = None
    down: bool = False
    put_fails: bool = False

    def get(self, pk: str) -> StoredToken | None:
        if self.down:
            raise DependencyError("DynamoDB GetItem failed (ResourceNotFoundException)")
        return self.tokens.get(pk)

    def put(self, pk: str, token: StoredToken) -> None:
        if self.put_fails:
            raise DependencyError("DynamoDB PutItem failed (ProvisionedThroughputExceededException)")
        self.tokens[pk] = token

    def get_ticket(self, app_id: str) -> str | None:
        assert app_id == APP_ID
        return self.ticket

    def expiries_with_prefix(self, prefix: str) -> dict[str, float]:
        if self.down:
            raise DependencyError("DynamoDB Scan failed (ResourceNotFoundException)")
        return {pk: t.expires_at for pk, t in self.tokens.items() if pk.startswith(prefix)}


class StoreAppLark:
    """The documented store-app auth calls; ``script`` overrides the answer of a path, in order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.script: dict[str, list[httpx.Response]] = {}
        self.issued = 0
        self.expire = 7200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/open-apis/auth/v3/")
        body = json.loads(request.content)
        self.calls.append((path, body))
        if self.script.get(path):
            return self.script[path].pop(0)
        if path == "app_ticket/resend":
            return httpx.Response(200, json={"code": 0, "msg": "ok"})
        self.issued += 1
        field_name = path.split("/")[0]
        prefix = "a" if field_name == "app_access_token" else "t"
        return httpx.Response(
            200,
            json={"code": 0, "msg": "ok", field_name: f"{prefix}-{self.issued}", "expire": self.expire},
        )


def _refresher(
    app_type: str = "marketplace", **kwargs: object
) -> tuple[TokenRefresher, MemoryTokens, StoreAppLark, Clock, list[float]]:
    clock = Clock()
    lark = StoreAppLark(clock)
    http = httpx.Client(base_url="https://open.feishu.cn", transport=httpx.MockTransport(lark))
    auth = AuthApi(Transport("https://open.feishu.cn", client=http), APP_ID, APP_SECRET)
    store = MemoryTokens(ticket="tt-1")
    slept: list[float] = []
    refresher = TokenRefresher(
        app_type=app_type,  # type: ignore[arg-type]
        auth=auth,
        store=store,  # type: ignore[arg-type]
        policy=POLICY,
        clock=clock,
        sleep=slept.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return refresher, store, lark, clock, slept


def _stored(token: str, expires_in: float, clock: Clock) -> StoredToken:
    return StoredToken(token, clock.now + expires_in, clock.now - 10)


def test_a_store_app_s_tenant_token_comes_from_its_app_token_and_ticket() -> None:
    refresher, store, lark, _, _ = _refresher()
    stored = refresher.fetch(TENANT, "tk_1", Budget(60))
    assert lark.calls == [
        ("app_access_token", {"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": "tt-1"}),
        ("tenant_access_token", {"app_access_token": "a-1", "tenant_key": "tk_1"}),
    ]
    assert stored == StoredToken("t-2", NOW + 7200, NOW)
    assert store.tokens == {
        token_key(APP, APP_ID): StoredToken("a-1", NOW + 7200, NOW),
        token_key(TENANT, APP_ID, "tk_1"): StoredToken("t-2", NOW + 7200, NOW),
    }


def test_a_stored_app_token_is_used_while_more_than_the_margin_is_left() -> None:
    refresher, store, lark, clock, _ = _refresher()  # default margin: 300 s
    store.tokens[token_key(APP, APP_ID)] = _stored("a-kept", 300.5, clock)
    refresher.fetch(TENANT, "tk_1", Budget(60))
    assert lark.calls == [("tenant_access_token", {"app_access_token": "a-kept", "tenant_key": "tk_1"})]


def test_a_stored_app_token_with_the_margin_or_less_left_is_renewed_first() -> None:
    refresher, store, lark, clock, _ = _refresher()
    store.tokens[token_key(APP, APP_ID)] = _stored("a-old", 300.0, clock)
    refresher.fetch(TENANT, "tk_1", Budget(60))
    assert [path for path, _ in lark.calls] == ["app_access_token", "tenant_access_token"]
    assert lark.calls[1][1]["app_access_token"] == "a-1"


def test_the_app_token_margin_can_be_set() -> None:
    refresher, store, lark, clock, _ = _refresher(app_token_margin=1000.0)
    store.tokens[token_key(APP, APP_ID)] = _stored("a-old", 900.0, clock)
    refresher.fetch(TENANT, "tk_1", Budget(60))
    assert [path for path, _ in lark.calls] == ["app_access_token", "tenant_access_token"]


def test_a_refused_app_token_is_replaced_without_reading_the_table_and_the_call_made_again() -> None:
    refresher, store, lark, clock, _ = _refresher()
    store.tokens[token_key(APP, APP_ID)] = _stored("a-revoked", 5000, clock)
    refused = {"code": 99991663, "msg": "Invalid access token for authorization"}
    lark.script["tenant_access_token"] = [httpx.Response(400, json=refused)]
    stored = refresher.fetch(TENANT, "tk_1", Budget(60))
    assert lark.calls == [
        ("tenant_access_token", {"app_access_token": "a-revoked", "tenant_key": "tk_1"}),
        ("app_access_token", {"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": "tt-1"}),
        ("tenant_access_token", {"app_access_token": "a-1", "tenant_key": "tk_1"}),
    ]
    assert stored.token == "t-2"
    assert store.tokens[token_key(APP, APP_ID)].token == "a-1"


def test_no_call_starts_when_the_budget_cannot_hold_it_after_the_app_token() -> None:
    refresher, store, lark, _, _ = _refresher()
    budget_clock = Clock(0.0)
    budget = Budget(3.0, clock=budget_clock)
    real_put = store.put

    def put(pk: str, token: StoredToken) -> None:
        budget_clock.now += 1.5  # storing the app token used half the budget
        real_put(pk, token)

    store.put = put  # type: ignore[method-assign]
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(TENANT, "tk_1", budget)
    assert failed.value.reason == "deadline"
    assert str(failed.value) == f"{TENANT} refresh failed (deadline): 1.5s left, a call may take 2.0s"
    assert [path for path, _ in lark.calls] == ["app_access_token"]


def test_no_second_tenant_call_starts_without_time_after_a_refused_app_token() -> None:
    refresher, store, lark, clock, _ = _refresher()
    store.tokens[token_key(APP, APP_ID)] = _stored("a-revoked", 5000, clock)
    refused = {"code": 99991663, "msg": "Invalid access token for authorization"}
    lark.script["tenant_access_token"] = [httpx.Response(400, json=refused)]
    budget_clock = Clock(0.0)
    budget = Budget(3.0, clock=budget_clock)
    real_put = store.put

    def put(pk: str, token: StoredToken) -> None:
        budget_clock.now += 1.5  # storing the new app token used half the budget
        real_put(pk, token)

    store.put = put  # type: ignore[method-assign]
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(TENANT, "tk_1", budget)
    assert str(failed.value) == f"{TENANT} refresh failed (deadline): 1.5s left, a call may take 2.0s"
    assert [path for path, _ in lark.calls] == ["tenant_access_token", "app_access_token"]


def test_without_a_ticket_the_refresh_fails_and_asks_lark_to_resend_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, lark, _, _ = _refresher()
    store.ticket = None
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(APP, None, Budget(60))
    assert failed.value.reason == "no_ticket"
    assert str(failed.value) == "app_access_token refresh failed (no_ticket): no app_ticket received yet"
    assert lark.calls == [("app_ticket/resend", {"app_id": APP_ID, "app_secret": APP_SECRET})]
    assert emitted.calls == [("TokenRefreshFailure", 1.0, {"token_type": APP, "reason": "no_ticket"})]


def test_a_stale_ticket_fails_and_asks_for_a_resend() -> None:
    refresher, _, lark, _, _ = _refresher()
    lark.script["app_access_token"] = [
        httpx.Response(400, json={"code": 10012, "msg": "app_ticket is invalid"})
    ]
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(APP, None, Budget(60))
    assert failed.value.reason == "invalid_ticket"
    assert [path for path, _ in lark.calls] == ["app_access_token", "app_ticket/resend"]


def test_a_failed_resend_does_not_hide_the_refresh_failure() -> None:
    refresher, store, lark, _, _ = _refresher()
    store.ticket = None
    lark.script["app_ticket/resend"] = [
        httpx.Response(400, json={"code": 10014, "msg": "app secret invalid"})
    ]
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(APP, None, Budget(60))
    assert failed.value.reason == "no_ticket"


def test_other_failures_ask_for_no_ticket() -> None:
    refresher, _, lark, _, _ = _refresher()
    lark.script["app_access_token"] = [httpx.Response(400, json={"code": 10014, "msg": "app secret invalid"})]
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(APP, None, Budget(60))
    assert failed.value.reason == "credentials"
    assert [path for path, _ in lark.calls] == ["app_access_token"]


@pytest.mark.parametrize("tenant_key", [None, ""])
def test_a_store_app_s_tenant_token_needs_a_tenant_key(tenant_key: str | None) -> None:
    refresher, _, lark, _, _ = _refresher()
    with pytest.raises(RefreshFailed) as failed:
        refresher.fetch(TENANT, tenant_key, Budget(60))
    assert failed.value.reason == "api_error"
    assert str(failed.value).endswith("a store app's tenant token needs a tenant_key")
    assert str(failed.value).startswith(f"{TENANT} refresh failed (api_error): ")
    assert lark.calls == []


def test_a_transient_failure_is_retried_with_the_refresher_s_sleep() -> None:
    refresher, _, lark, _, slept = _refresher(app_type="self_built")
    lark.script["tenant_access_token/internal"] = [httpx.Response(503, text="busy")]
    stored = refresher.fetch(TENANT, None, Budget(60))
    assert stored.token == "t-1"
    assert len(slept) == 1
    assert 0.25 <= slept[0] <= 0.5  # the first backoff step of POLICY (base 0.5, equal jitter)


def test_a_stored_token_expires_what_lark_said_after_the_call_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, lark, clock, _ = _refresher(app_type="self_built")
    lark.expire = 5400
    real = lark.__call__

    def slow(request: httpx.Request) -> httpx.Response:
        clock.now += 3.0  # the answer takes 3 s: expire counts from when Lark answered, at most
        return real(request)

    http = httpx.Client(base_url="https://open.feishu.cn", transport=httpx.MockTransport(slow))
    refresher._auth = AuthApi(Transport("https://open.feishu.cn", client=http), APP_ID, APP_SECRET)
    stored = refresher.fetch(APP, None, Budget(60))
    assert stored == StoredToken("a-1", NOW + 5400, NOW + 3.0)
    assert store.tokens == {token_key(APP, APP_ID): stored}
    assert emitted.calls == [
        ("TokenRefreshSuccess", 1.0, {"token_type": APP}),
        ("TokenSecondsToExpiry", 5400.0, {"token_type": APP}),
    ]


def test_a_self_built_run_renews_the_stalest_token_first_and_reports_each() -> None:
    refresher, store, lark, clock, _ = _refresher(app_type="self_built")
    store.tokens[token_key(TENANT, APP_ID)] = _stored("t-old", 4000, clock)
    store.tokens[token_key(APP, APP_ID)] = _stored("a-old", 1000, clock)
    lark.expire = 6000
    report = refresher.refresh_all(Budget(60))
    assert [path for path, _ in lark.calls] == ["app_access_token/internal", "tenant_access_token/internal"]
    assert report.outcomes == [Outcome(APP, None, True, 6000.0), Outcome(TENANT, None, True, 6000.0)]
    assert report.as_dict() == {"refreshed": 2, "failed": []}


def test_a_token_never_stored_is_renewed_before_any_stored_one() -> None:
    refresher, store, _, clock, _ = _refresher(app_type="self_built")
    store.tokens[token_key(APP, APP_ID)] = _stored("a-old", -5000, clock)  # long expired
    report = refresher.refresh_all(Budget(60))
    assert [o.token_type for o in report.outcomes] == [TENANT, APP]


def test_a_store_app_run_renews_its_app_token_then_tenants_stalest_first() -> None:
    refresher, store, lark, clock, _ = _refresher()
    store.tokens[token_key(APP, APP_ID)] = _stored("a-old", 100_000, clock)
    store.tokens[token_key(TENANT, APP_ID, "tk_late")] = _stored("t-x", 5000, clock)
    store.tokens[token_key(TENANT, APP_ID, "tk_soon")] = _stored("t-y", 100, clock)
    report = refresher.refresh_all(Budget(60))
    assert [(o.token_type, o.tenant_key, o.ok) for o in report.outcomes] == [
        (APP, None, True),
        (TENANT, "tk_soon", True),
        (TENANT, "tk_late", True),
    ]
    assert [body.get("tenant_key") for path, body in lark.calls if path == "tenant_access_token"] == [
        "tk_soon",
        "tk_late",
    ]
    assert tenant_prefix(APP_ID) == f"{TENANT}#{APP_ID}#"


def test_a_failure_is_reported_by_tenant_and_reason_and_the_rest_goes_on() -> None:
    refresher, store, lark, clock, _ = _refresher()
    store.tokens[token_key(TENANT, APP_ID, "tk_gone")] = _stored("t-x", 100, clock)
    store.tokens[token_key(TENANT, APP_ID, "tk_ok")] = _stored("t-y", 200, clock)
    lark.script["tenant_access_token"] = [
        httpx.Response(400, json={"code": 99991672, "msg": "app not installed by tenant"})
    ]
    report = refresher.refresh_all(Budget(60))
    assert report.outcomes[1] == Outcome(TENANT, "tk_gone", ok=False, reason="api_error")
    assert report.outcomes[2].ok
    assert report.as_dict() == {
        "refreshed": 2,
        "failed": [{"token_type": TENANT, "tenant_key": "tk_gone", "reason": "api_error"}],
    }
    assert report.failures == [report.outcomes[1]]


def test_an_unreachable_table_is_one_store_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    for app_type in ("marketplace", "self_built"):
        refresher, store, lark, _, _ = _refresher(app_type=app_type)
        store.down = True
        report = refresher.refresh_all(Budget(60))
        assert report.outcomes == [Outcome(TENANT, None, ok=False, reason="store")]
        assert lark.calls == []
    assert emitted.calls == [("TokenRefreshFailure", 1.0, {"token_type": TENANT, "reason": "store"})] * 2


def test_a_token_that_cannot_be_stored_is_a_store_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, _, _, _ = _refresher(app_type="self_built")
    store.put_fails = True
    report = refresher.refresh_all(Budget(60))
    assert [(o.token_type, o.ok, o.reason) for o in report.outcomes] == [
        (TENANT, False, "store"),
        (APP, False, "store"),
    ]
    assert [dims for name, _, dims in emitted.calls if name == "TokenRefreshFailure"] == [
        {"token_type": TENANT, "reason": "store"},
        {"token_type": APP, "reason": "store"},
    ]
    logged = [r for r in caplog.records if r.getMessage() == "token table unavailable"]
    assert [(r.token_type, r.error) for r in logged] == [  # type: ignore[attr-defined]
        (TENANT, "DynamoDB PutItem failed (ProvisionedThroughputExceededException)"),
        (APP, "DynamoDB PutItem failed (ProvisionedThroughputExceededException)"),
    ]


def test_tokens_out_of_time_are_reported_skipped_and_counted_per_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emitted: Emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, lark, clock, _ = _refresher()
    for n in range(3):
        store.tokens[token_key(TENANT, APP_ID, f"tk_{n}")] = _stored("t", 100 + n, clock)
    budget_clock = Clock(0.0)
    budget = Budget(4.5, clock=budget_clock)
    real = lark.__call__

    def slow(request: httpx.Request) -> httpx.Response:
        budget_clock.now += 1.0
        return real(request)

    http = httpx.Client(base_url="https://open.feishu.cn", transport=httpx.MockTransport(slow))
    refresher._auth = AuthApi(Transport("https://open.feishu.cn", client=http), APP_ID, APP_SECRET)
    report = refresher.refresh_all(budget)
    # Each call takes 1 s and a call needs 2 s of budget: after three calls 1.5 s is left.
    assert [(o.token_type, o.tenant_key, o.ok, o.reason) for o in report.outcomes] == [
        (APP, None, True, None),
        (TENANT, "tk_0", True, None),
        (TENANT, "tk_1", True, None),
        (TENANT, "tk_2", False, "deadline"),
    ]
    assert emitted.named("TokenRefreshFailure") == [(1.0, {"token_type": TENANT, "reason": "deadline"})]


def test_skipped_tokens_are_counted_once_per_type_with_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, lark, clock, _ = _refresher()
    for n in range(3):
        store.tokens[token_key(TENANT, APP_ID, f"tk_{n}")] = _stored("t", 100 + n, clock)
    report = refresher.refresh_all(Budget(1.0))
    assert [(o.token_type, o.tenant_key, o.reason) for o in report.outcomes] == [
        (APP, None, "deadline"),
        (TENANT, "tk_0", "deadline"),
        (TENANT, "tk_1", "deadline"),
        (TENANT, "tk_2", "deadline"),
    ]
    assert emitted.calls == [
        ("TokenRefreshFailure", 1.0, {"token_type": APP, "reason": "deadline"}),
        ("TokenRefreshFailure", 3.0, {"token_type": TENANT, "reason": "deadline"}),
    ]
    assert lark.calls == []
    assert RefreshReport(report.outcomes).as_dict()["refreshed"] == 0


def test_a_tenant_token_that_cannot_be_stored_is_reported_by_its_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.refresher")
    refresher, store, _, clock, _ = _refresher()
    store.tokens[token_key(APP, APP_ID)] = _stored("a-kept", 100_000, clock)
    store.tokens[token_key(TENANT, APP_ID, "tk_1")] = _stored("t-x", 100, clock)
    store.put_fails = True
    report = refresher.refresh_all(Budget(60))
    assert report.outcomes == [
        Outcome(APP, None, ok=False, reason="store"),
        Outcome(TENANT, "tk_1", ok=False, reason="store"),
    ]
    assert [dims for name, _, dims in emitted.calls if name == "TokenRefreshFailure"] == [
        {"token_type": APP, "reason": "store"},
        {"token_type": TENANT, "reason": "store"},
    ]
