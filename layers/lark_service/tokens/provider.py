"""Tokens for API calls: memory first, then the table, then one refresh shared by all instances.

Many Lambda instances may find the token expired at the same moment. Each would call Lark; Lark
rate-limits the token endpoint and reissues tokens, so the callers would race and overwrite each
other. Instead they compete for a lock item with a short lease; the winner fetches and stores,
the losers poll the table for the winner's token. A lease that runs out (a winner that died)
lets the next caller take over, so no one waits forever. The winner starts a call only while the
whole call still fits in its lease, so a live winner never loses its lock to a second caller.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable

from lark_service.observability import logger
from lark_service.stores import DependencyError
from lark_service.tokens.keys import TENANT, TokenType, token_key
from lark_service.tokens.refresher import AppType, TokenRefresher
from lark_service.tokens.retry import Budget, RefreshFailed
from lark_service.tokens.store import StoredToken, TokenStore
from lark_service.tokens.tuning import LOCK_HOLD_MARGIN, TokenTuning


class TokenProvider:
    def __init__(
        self,
        store: TokenStore,
        refresher: TokenRefresher,
        *,
        app_type: AppType,
        tuning: TokenTuning,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._refresher = refresher
        self._app_id = refresher.app_id
        self._app_type = app_type
        self._tuning = tuning
        self._clock = clock
        self._sleep = sleep
        self._owner = uuid.uuid4().hex  # this instance, as the lock item names it
        self._cache: dict[str, StoredToken] = {}
        self._refused: dict[str, str] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def tenant_token(self, tenant_key: str | None = None) -> str:
        if self._app_type == "marketplace":
            if not tenant_key:
                raise ValueError("a store app calls the API per tenant: the event's tenant_key is required")
            return self._get(TENANT, tenant_key)
        return self._get(TENANT, None)

    def invalidate(self, token: str) -> None:
        """Lark refused ``token``: forget it, and do not accept it from the table again unless refetched."""
        with self._guard:
            for pk, cached in list(self._cache.items()):
                if cached.token == token:
                    del self._cache[pk]
                    self._refused[pk] = token

    def _get(self, token_type: TokenType, tenant_key: str | None) -> str:
        pk = token_key(token_type, self._app_id, tenant_key)
        with self._guard:
            local = self._locks.setdefault(pk, threading.Lock())
        with local:  # threads of one instance coalesce here before touching the table
            refused = self._refused.get(pk)
            cached = self._cache.get(pk)
            if cached is not None and self._usable(cached, refused, since=float("inf")):
                return cached.token
            stored = self._shared(pk, token_type, tenant_key, refused)
            with self._guard:
                self._cache[pk] = stored
                self._refused.pop(pk, None)
            return stored.token

    def _usable(self, token: StoredToken, refused: str | None, since: float) -> bool:
        if token.remaining(self._clock()) <= self._tuning.refresh_margin:
            return False
        return refused is None or token.token != refused or token.fetched_at >= since

    def _shared(
        self, pk: str, token_type: TokenType, tenant_key: str | None, refused: str | None
    ) -> StoredToken:
        started = self._clock()
        waiting = Budget(self._tuning.lock_wait)
        while True:
            stored = self._store.get(pk)
            if stored is not None and self._usable(stored, refused, started):
                return stored
            locked_at = self._clock()
            if self._store.try_lock(pk, self._owner, locked_at, self._tuning.lock_lease):
                try:
                    stored = self._store.get(pk)
                    if stored is not None and self._usable(stored, refused, started):
                        return stored
                    return self._refresher.fetch(token_type, tenant_key, self._lease_left(locked_at))
                finally:
                    self._unlock(pk)
            if waiting.remaining() <= 0:
                raise RefreshFailed(
                    token_type, "lock_wait", f"no fresh token within {self._tuning.lock_wait}s"
                )
            self._sleep(self._tuning.lock_poll * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto

    def _lease_left(self, locked_at: float) -> Budget:
        """What the holder may spend on calls: the lease, less its write and unlock, less time used."""
        used = self._clock() - locked_at
        return Budget(self._tuning.lock_lease - LOCK_HOLD_MARGIN - used)

    def _unlock(self, pk: str) -> None:
        try:
            self._store.unlock(pk, self._owner)
        except DependencyError as exc:  # the lease runs out on its own; the token is what matters
            logger.warning("token lock not released; its lease will expire", extra={"error": str(exc)})
