"""Fetching tokens from Lark and storing them: the scheduled refresh and the on-demand one.

A failure never touches the stored item, so the last good token keeps serving until it really
expires; only a successful answer is written. Self-built apps use the ``/internal`` endpoints;
store (marketplace) apps derive the app token from the pushed ``app_ticket`` and keep one tenant
token per installed tenant.

The scheduled run renews the tokens closest to expiry first and starts a call only while the
call fits before its deadline: when time runs out, the tokens it could not reach are the ones
with the most time left, and they are reported as skipped rather than silently starved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from lark_service.lark.auth import AuthApi, IssuedToken
from lark_service.lark.errors import LarkError, LarkInvalidToken
from lark_service.observability import emit, logger
from lark_service.stores import DependencyError
from lark_service.tokens.keys import APP, TENANT, TokenType, tenant_prefix, token_key
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy, ensure_time, with_retries
from lark_service.tokens.store import StoredToken, TokenStore

AppType = Literal["self_built", "marketplace"]


@dataclass(frozen=True, slots=True)
class Outcome:
    token_type: str
    tenant_key: str | None
    ok: bool
    expires_in: float | None = None
    reason: str | None = None


@dataclass(slots=True)
class RefreshReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def as_dict(self) -> dict[str, object]:
        return {
            "refreshed": sum(o.ok for o in self.outcomes),
            "failed": [
                {"token_type": o.token_type, "tenant_key": o.tenant_key, "reason": o.reason}
                for o in self.failures
            ],
        }


Target = tuple[TokenType, "str | None"]


class TokenRefresher:
    def __init__(
        self,
        *,
        app_type: AppType,
        auth: AuthApi,
        store: TokenStore,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        app_token_margin: float = 300.0,
    ) -> None:
        self.app_id = auth.app_id
        self.app_type = app_type
        self._auth = auth
        self._store = store
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._app_token_margin = app_token_margin

    def refresh_all(self, budget: Budget) -> RefreshReport:
        """The scheduled run: every token this app uses, stalest first, each failure isolated."""
        report = RefreshReport()
        try:
            targets = self._targets()
        except DependencyError as exc:
            self._failed(report, TENANT, None, "store", str(exc))
            return report
        for index, (token_type, tenant_key) in enumerate(targets):
            if not budget.fits(self._policy.call_seconds):
                self._skip(report, targets[index:], budget)
                break
            try:
                stored = self.fetch(token_type, tenant_key, budget)
            except RefreshFailed as exc:
                report.outcomes.append(Outcome(token_type, tenant_key, ok=False, reason=exc.reason))
            except DependencyError as exc:
                self._failed(report, token_type, tenant_key, "store", str(exc))
            else:
                report.outcomes.append(Outcome(token_type, tenant_key, True, stored.remaining(self._clock())))
        return report

    def _targets(self) -> list[Target]:
        """Tokens to renew, soonest expiry first (a token never stored counts as expired).

        A store app's app token comes first whatever its age: every tenant token is derived from it.
        """
        if self.app_type == "self_built":
            expiries: dict[Target, float] = {}
            for target in ((TENANT, None), (APP, None)):
                stored = self._store.get(token_key(target[0], self.app_id))
                expiries[target] = stored.expires_at if stored else float("-inf")
            return sorted(expiries, key=expiries.__getitem__)
        tenants = self._store.expiries_with_prefix(tenant_prefix(self.app_id))
        by_age = sorted(tenants.items(), key=lambda item: item[1])
        start = len(tenant_prefix(self.app_id))
        return [(APP, None)] + [(TENANT, pk[start:]) for pk, _ in by_age]

    def _skip(self, report: RefreshReport, skipped: list[Target], budget: Budget) -> None:
        """Out of time: count and name what this run did not reach, so it is not lost silently."""
        for token_type, tenant_key in skipped:
            report.outcomes.append(Outcome(token_type, tenant_key, ok=False, reason="deadline"))
        for token_type in sorted({t for t, _ in skipped}):  # one document per type, however many tenants
            count = sum(1 for t, _ in skipped if t == token_type)
            emit("TokenRefreshFailure", float(count), token_type=token_type, reason="deadline")
        logger.error(
            "token refresh ran out of time; tokens skipped",
            extra={
                "skipped": [{"token_type": t, "tenant_key": k} for t, k in skipped],
                "seconds_left": round(budget.remaining(), 3),
            },
        )

    def _failed(
        self, report: RefreshReport, token_type: TokenType, tenant_key: str | None, reason: str, error: str
    ) -> None:
        report.outcomes.append(Outcome(token_type, tenant_key, ok=False, reason=reason))
        emit("TokenRefreshFailure", token_type=token_type, reason=reason)
        logger.error("token table unavailable", extra={"token_type": token_type, "error": error})

    def fetch(self, token_type: TokenType, tenant_key: str | None, budget: Budget) -> StoredToken:
        """Ask Lark for one token (retrying within ``budget``) and store it; raises ``RefreshFailed``."""
        started = self._clock()
        try:
            issued = with_retries(
                lambda: self._call(token_type, tenant_key, budget),
                token_type=token_type,
                policy=self._policy,
                budget=budget,
                sleep=self._sleep,
            )
        except RefreshFailed as exc:
            emit("TokenRefreshFailure", token_type=token_type, reason=exc.reason)
            log = logger.error if exc.reason in ("credentials", "api_error", "deadline") else logger.warning
            log(
                "token refresh failed; the stored token stays",
                extra={"token_type": token_type, "reason": exc.reason, "error": str(exc)},
            )
            if exc.reason in ("invalid_ticket", "no_ticket"):
                self._request_ticket()
            raise
        stored = StoredToken(issued.token, expires_at=started + issued.expire, fetched_at=self._clock())
        self._store.put(token_key(token_type, self.app_id, tenant_key), stored)
        emit("TokenRefreshSuccess", token_type=token_type)
        emit("TokenSecondsToExpiry", float(issued.expire), token_type=token_type)
        logger.info("token stored", extra={"token_type": token_type, "expires_in": issued.expire})
        return stored

    def _call(self, token_type: TokenType, tenant_key: str | None, budget: Budget) -> IssuedToken:
        """One attempt; a store app's tenant token may take several calls, each checked against the deadline."""
        if self.app_type == "self_built":
            return (
                self._auth.tenant_token_internal()
                if token_type == TENANT
                else self._auth.app_token_internal()
            )
        if token_type == APP:
            ticket = self._store.get_ticket(self.app_id)
            if ticket is None:
                raise RefreshFailed(APP, "no_ticket", "no app_ticket received yet")
            return self._auth.app_token_marketplace(ticket)
        if not tenant_key:
            raise RefreshFailed(TENANT, "api_error", "a store app's tenant token needs a tenant_key")
        app_token = self._app_token(budget, force=False)
        ensure_time(budget, self._policy, TENANT)
        try:
            return self._auth.tenant_token_marketplace(app_token, tenant_key)
        except LarkInvalidToken:
            app_token = self._app_token(budget, force=True)
            ensure_time(budget, self._policy, TENANT)
            return self._auth.tenant_token_marketplace(app_token, tenant_key)

    def _app_token(self, budget: Budget, *, force: bool) -> str:
        stored = None if force else self._store.get(token_key(APP, self.app_id))
        if stored is None or stored.remaining(self._clock()) <= self._app_token_margin:
            stored = self.fetch(APP, None, budget)
        return stored.token

    def _request_ticket(self) -> None:
        """Lark pushes a new ticket to the webhook; a later run (or the retry) picks it up."""
        try:
            self._auth.resend_app_ticket()
            logger.info("asked Lark to resend the app_ticket")
        except LarkError as exc:
            logger.warning("app_ticket resend failed", extra={"error": str(exc)})
