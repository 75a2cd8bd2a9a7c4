"""The provider's rules, one at a time, over an in-memory token table and a recording refresher.

``MemoryTokens`` keeps ``TokenStore``'s contract (``lark_service/tokens/store.py``): ``get`` reads
the stored token, ``try_lock`` succeeds when no lock item exists or its ``lease_until`` is past
(``attribute_not_exists(pk) OR lease_until < :now``), ``unlock`` deletes the lock only for its
owner. The same rules run against DynamoDB (moto) in ``tests/integration/lark/test_single_flight.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from lark_service.stores import DependencyError
from lark_service.tokens.keys import TENANT, lock_key, token_key
from lark_service.tokens.provider import TokenProvider
from lark_service.tokens.retry import Budget, RefreshFailed
from lark_service.tokens.store import StoredToken
from lark_service.tokens.tuning import LOCK_HOLD_MARGIN, TokenTuning

APP_ID = "cli_rules"
PK = token_key(TENANT, APP_ID)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryTokens:
    clock: Clock
    tokens: dict[str, StoredToken] = field(default_factory=dict)
    locks: dict[str, tuple[str, float]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    lock_calls: list[tuple[str, str, float, float]] = field(default_factory=list)
    unlock_fails: bool = False
    on_lock: list[StoredToken] = field(default_factory=list)
    """Tokens another instance stores right after this one takes the lock (a race)."""

    def get(self, pk: str) -> StoredToken | None:
        self.reads.append(pk)
        return self.tokens.get(pk)

    def put(self, pk: str, token: StoredToken) -> None:
        self.tokens[pk] = token

    def try_lock(self, pk: str, owner: str, now: float, lease_seconds: float) -> bool:
        self.lock_calls.append((pk, owner, now, lease_seconds))
        held = self.locks.get(lock_key(pk))
        if held is not None and not held[1] < now:
            return False
        self.locks[lock_key(pk)] = (owner, now + lease_seconds)
        if self.on_lock:
            self.tokens[pk] = self.on_lock.pop(0)
        return True

    def unlock(self, pk: str, owner: str) -> None:
        if self.unlock_fails:
            raise DependencyError("DynamoDB DeleteItem failed (ServiceUnavailable)")
        if self.locks.get(lock_key(pk), ("", 0.0))[0] == owner:
            del self.locks[lock_key(pk)]


class Refresher:
    """Stands in for ``TokenRefresher.fetch``: issues numbered tokens, records the budget it got."""

    app_id = APP_ID

    def __init__(self, store: MemoryTokens, lifetime: float = 7200.0) -> None:
        self.store = store
        self.lifetime = lifetime
        self.fetches: list[tuple[str, str | None, float]] = []
        self.during: list[dict[str, tuple[str, float]]] = []

    def fetch(self, token_type: str, tenant_key: str | None, budget: Budget) -> StoredToken:
        self.fetches.append((token_type, tenant_key, budget.remaining()))
        self.during.append(dict(self.store.locks))
        now = self.store.clock()
        stored = StoredToken(f"t-{len(self.fetches)}", now + self.lifetime, now)
        self.store.put(token_key(token_type, APP_ID, tenant_key), stored)  # type: ignore[arg-type]
        return stored


def _provider(
    clock: Clock,
    app_type: str = "self_built",
    sleeps: list[float] | None = None,
    **tuning: float,
) -> tuple[TokenProvider, MemoryTokens, Refresher]:
    store = MemoryTokens(clock)
    refresher = Refresher(store)
    settings = TokenTuning(**{"refresh_margin": 300.0, "lock_wait": 5.0, "lock_poll": 0.5, **tuning})  # type: ignore[arg-type]

    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        clock.now += seconds

    provider = TokenProvider(
        store,  # type: ignore[arg-type]
        refresher,  # type: ignore[arg-type]
        app_type=app_type,  # type: ignore[arg-type]
        tuning=settings,
        clock=clock,
        sleep=sleep,
    )
    return provider, store, refresher


def test_a_token_with_exactly_the_margin_left_is_replaced() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    store.tokens[PK] = StoredToken("t-old", clock.now + 300.0, clock.now - 100)
    assert provider.tenant_token() == "t-1"
    store.tokens[PK] = StoredToken("t-fresh", clock.now + 300.5, clock.now)
    provider2, _, _ = _provider(clock)
    provider2._store = store  # the same table, a new instance with nothing in memory
    assert provider2.tenant_token() == "t-fresh"
    assert len(refresher.fetches) == 1


def test_memory_serves_until_the_margin_then_the_table_is_read_again() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    assert provider.tenant_token() == "t-1"
    reads = len(store.reads)
    clock.now += 7200 - 301
    assert provider.tenant_token() == "t-1"
    assert len(store.reads) == reads  # from memory: no table read
    clock.now += 1
    assert provider.tenant_token() == "t-2"
    assert len(store.reads) > reads
    assert [f[:2] for f in refresher.fetches] == [(TENANT, None), (TENANT, None)]


def test_the_lock_is_taken_on_the_token_s_key_with_the_lease() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock, lock_lease=12.0)
    provider.tenant_token()
    [(pk, owner, at, lease)] = store.lock_calls
    assert (pk, at, lease) == (PK, clock.now, 12.0)
    assert refresher.during == [{lock_key(PK): (owner, clock.now + 12.0)}]
    assert store.locks == {}  # released after the fetch


def test_the_refresh_gets_the_lease_less_the_hold_margin_and_the_time_used() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock, lock_lease=12.0)

    def slow_get(pk: str) -> StoredToken | None:
        clock.now += 0.75  # each table read takes time
        return store.tokens.get(pk)

    store.get = slow_get  # type: ignore[method-assign]
    provider.tenant_token()
    [(_, _, budget)] = refresher.fetches
    # Locked after the first read; the re-read under the lock used 0.75 s of the lease.
    assert budget == pytest.approx(12.0 - LOCK_HOLD_MARGIN - 0.75)


def test_a_token_stored_while_taking_the_lock_is_used_not_fetched_again() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    store.on_lock.append(StoredToken("t-winner", clock.now + 7200, clock.now))
    assert provider.tenant_token() == "t-winner"
    assert refresher.fetches == []
    assert store.locks == {}


def test_a_loser_polls_the_table_with_jittered_sleeps_until_the_winner_s_token_arrives() -> None:
    clock = Clock()
    sleeps: list[float] = []
    provider, store, refresher = _provider(clock, sleeps=sleeps, lock_poll=0.5)
    store.locks[lock_key(PK)] = ("someone-else", clock.now + 10.0)
    winner = StoredToken("t-winner", clock.now + 7200, clock.now)
    real_get = store.get

    def get(pk: str) -> StoredToken | None:
        if len(sleeps) == 3:
            store.tokens[pk] = winner
        return real_get(pk)

    store.get = get  # type: ignore[method-assign]
    assert provider.tenant_token() == "t-winner"
    assert refresher.fetches == []
    assert len(sleeps) == 3
    assert all(0.25 <= s <= 0.75 for s in sleeps)  # lock_poll x [0.5, 1.5)


def test_a_loser_gives_up_after_the_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait is measured on the monotonic clock, so this test spends its 0.2 s for real."""
    clock = Clock()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    provider, store, _ = _provider(clock, lock_wait=0.2, lock_poll=0.02)
    provider._sleep = sleep
    jitter = iter([0.0, 0.9] * 1000)
    monkeypatch.setattr("lark_service.tokens.provider.random.random", lambda: next(jitter))
    store.locks[lock_key(PK)] = ("someone-else", clock.now + 1000.0)
    started = time.monotonic()
    with pytest.raises(RefreshFailed) as failed:
        provider.tenant_token()
    assert time.monotonic() - started >= 0.2
    assert failed.value.reason == "lock_wait"
    assert str(failed.value) == "tenant_access_token refresh failed (lock_wait): no fresh token within 0.2s"
    assert len(sleeps) >= 3
    assert sleeps[:2] == [pytest.approx(0.01), pytest.approx(0.028)]  # lock_poll x (0.5 + jitter)


def test_a_refused_token_is_not_served_again_from_memory_or_the_table() -> None:
    clock = Clock()
    provider, _, refresher = _provider(clock)
    assert provider.tenant_token() == "t-1"
    provider.invalidate("t-1")
    clock.now += 1  # the table still holds t-1, fetched before the refusal
    assert provider.tenant_token() == "t-2"
    assert len(refresher.fetches) == 2
    assert provider.tenant_token() == "t-2"  # the new one is served from memory again
    assert len(refresher.fetches) == 2


def test_invalidating_another_token_changes_nothing() -> None:
    clock = Clock()
    provider, _, refresher = _provider(clock)
    provider.tenant_token()
    provider.invalidate("t-unknown")
    assert provider.tenant_token() == "t-1"
    assert len(refresher.fetches) == 1


def test_the_refused_token_refetched_by_another_instance_is_accepted() -> None:
    """Lark answers the same token until 30 min are left: refetched after the refusal, it is good."""
    clock = Clock()
    provider, store, refresher = _provider(clock)
    store.tokens[PK] = StoredToken("t-same", clock.now + 7000, clock.now - 10)
    assert provider.tenant_token() == "t-same"
    provider.invalidate("t-same")
    clock.now += 1
    store.on_lock.append(StoredToken("t-same", clock.now + 7000, clock.now))  # refetched just now
    assert provider.tenant_token() == "t-same"
    assert refresher.fetches == []
    reads = len(store.reads)
    assert provider.tenant_token() == "t-same"  # accepted again: served from memory now
    assert len(store.reads) == reads


def test_after_a_refusal_another_instance_s_newer_token_in_the_table_is_used() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    assert provider.tenant_token() == "t-1"
    store.tokens[PK] = StoredToken("t-other", clock.now + 7000, clock.now - 5)  # stored before the refusal
    provider.invalidate("t-1")
    clock.now += 1
    assert provider.tenant_token() == "t-other"
    assert len(refresher.fetches) == 1


def test_a_store_app_needs_the_tenant_key_and_keys_tokens_by_tenant() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock, app_type="marketplace")
    with pytest.raises(
        ValueError, match=r"^a store app calls the API per tenant: the event's tenant_key is required$"
    ):
        provider.tenant_token()
    with pytest.raises(ValueError, match="tenant_key is required"):
        provider.tenant_token("")
    assert provider.tenant_token("tk_a") == "t-1"
    assert provider.tenant_token("tk_b") == "t-2"
    assert provider.tenant_token("tk_a") == "t-1"
    assert [f[:2] for f in refresher.fetches] == [(TENANT, "tk_a"), (TENANT, "tk_b")]
    assert set(store.tokens) == {token_key(TENANT, APP_ID, "tk_a"), token_key(TENANT, APP_ID, "tk_b")}


def test_a_self_built_app_ignores_the_tenant_key() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    assert provider.tenant_token("tk_a") == "t-1"
    assert [f[:2] for f in refresher.fetches] == [(TENANT, None)]
    assert set(store.tokens) == {PK}


def test_an_unlock_that_fails_still_hands_out_the_token() -> None:
    clock = Clock()
    provider, store, _ = _provider(clock)
    store.unlock_fails = True
    assert provider.tenant_token() == "t-1"


def test_threads_of_one_instance_fetch_once() -> None:
    clock = Clock()
    provider, store, refresher = _provider(clock)
    gate = threading.Event()
    real_fetch = refresher.fetch

    def slow_fetch(token_type: str, tenant_key: str | None, budget: Budget) -> StoredToken:
        gate.wait(5)
        return real_fetch(token_type, tenant_key, budget)

    refresher.fetch = slow_fetch  # type: ignore[method-assign]
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(provider.tenant_token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(30)
    assert got == ["t-1"] * 8
    assert len(refresher.fetches) == 1
    assert len(store.lock_calls) == 1
