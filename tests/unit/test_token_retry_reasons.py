"""The retry loop's verdicts in full: the reason label, the message, the metric and the budget's edge.

The reasons are the ``TokenRefreshFailure`` metric's ``reason`` values that the alerts and
``docs/`` name (credentials, invalid_ticket, api_error, rate_limited, transient, deadline); the
error classes are Lark's, sorted by code in ``lark_service.lark.errors``.
"""

from __future__ import annotations

import pytest

from lark_service.lark.errors import (
    AppTicketInvalid,
    CredentialsRejected,
    LarkApiError,
    LarkRateLimited,
    LarkTransientError,
)
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy, backoff, ensure_time, with_retries
from lark_service.tokens.tuning import load_tuning
from tests.unit.metric_recorder import record_metrics
from tests.unit.test_token_retry import _failing

POLICY = RetryPolicy(base=0.5, cap=4.0, attempts=3, call_seconds=2.0)
ROUTE = "/open-apis/auth/v3/tenant_access_token/internal"


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_policy_s_defaults_are_the_production_tuning() -> None:
    assert RetryPolicy() == load_tuning({}).retry_policy()
    assert RetryPolicy() == RetryPolicy(base=0.5, cap=8.0, attempts=5, call_seconds=6.0)


def test_a_budget_counts_down_on_its_clock_and_never_below_zero() -> None:
    clock = Clock()
    budget = Budget(10.0, clock=clock)
    assert budget.remaining() == 10.0
    assert budget.fits(10.0)
    assert not budget.fits(10.001)
    clock.now += 4.0
    assert budget.remaining() == 6.0
    clock.now += 10.0
    assert budget.remaining() == 0.0
    assert budget.fits(0.0)
    assert not budget.fits(0.001)


def test_a_default_budget_runs_on_the_monotonic_clock() -> None:
    budget = Budget(100.0)
    assert 99.0 < budget.remaining() <= 100.0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (CredentialsRejected(ROUTE, 400, 10014, "app secret invalid"), "credentials"),
        (AppTicketInvalid(ROUTE, 400, 10012, "app_ticket is invalid"), "invalid_ticket"),
        (LarkApiError(ROUTE, 400, 99991672, "no permission"), "api_error"),
    ],
)
def test_errors_no_retry_can_fix_fail_at_once_with_their_reason(error: LarkApiError, reason: str) -> None:
    slept: list[float] = []
    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            _failing([error]), token_type="tenant", policy=POLICY, budget=Budget(60), sleep=slept.append
        )
    assert failed.value.reason == reason
    assert str(failed.value) == f"tenant refresh failed ({reason}): {error}"
    assert failed.value.__cause__ is error
    assert slept == []


def test_giving_up_names_the_attempts_and_the_last_error() -> None:
    errors = [
        LarkTransientError("timeout 1"),
        LarkTransientError("timeout 2"),
        LarkTransientError("HTTP 503"),
    ]
    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            _failing(list(errors)), token_type="app", policy=POLICY, budget=Budget(60), sleep=lambda _: None
        )
    assert failed.value.reason == "transient"
    assert str(failed.value) == "app refresh failed (transient): gave up after 3 attempts: HTTP 503"


def test_a_rate_limit_to_the_last_attempt_is_reported_as_one() -> None:
    limited = [LarkRateLimited(ROUTE, 429, 99991400, "limit", 0.5) for _ in range(3)]
    slept: list[float] = []
    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            _failing(list(limited)), token_type="app", policy=POLICY, budget=Budget(60), sleep=slept.append
        )
    assert failed.value.reason == "rate_limited"
    assert slept == [0.5, 0.5]
    assert str(failed.value) == (
        f"app refresh failed (rate_limited): gave up after 3 attempts: {ROUTE}: HTTP 429, code 99991400: limit"
    )


def test_a_wait_past_the_deadline_says_so() -> None:
    clock = Clock()
    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            _failing([LarkRateLimited(ROUTE, 429, 99991400, "limit", 7.25)]),
            token_type="tenant",
            policy=POLICY,
            budget=Budget(9.0, clock=clock),
            sleep=lambda _: None,
        )
    assert str(failed.value) == (
        "tenant refresh failed (deadline): rate_limited; waiting 7.2s and calling again passes the deadline"
    )


def test_a_wait_that_exactly_fits_is_taken() -> None:
    """9 s left: a 7 s wait and a 2 s call end exactly at the deadline, which is allowed."""
    clock = Clock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    result = with_retries(
        _failing([LarkRateLimited(ROUTE, 429, 99991400, "limit", 7.0)]),
        token_type="tenant",
        policy=POLICY,
        budget=Budget(9.0, clock=clock),
        sleep=sleep,
    )
    assert result == "t-ok"
    assert slept == [7.0]


def test_each_retry_is_counted_by_token_type(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.tokens.retry")
    op = _failing([LarkTransientError("a"), LarkRateLimited(ROUTE, 429, 99991400, "limit", 0.1)])
    assert (
        with_retries(op, token_type="app", policy=POLICY, budget=Budget(60), sleep=lambda _: None) == "t-ok"
    )
    assert emitted.calls == [("TokenRefreshRetry", 1.0, {"token_type": "app"})] * 2


def test_the_backoff_resets_for_each_loop_and_grows_per_attempt() -> None:
    slept: list[float] = []
    op = _failing([LarkTransientError("1"), LarkTransientError("2")])
    with_retries(op, token_type="t", policy=POLICY, budget=Budget(60), sleep=slept.append, rand=lambda: 0.5)
    assert slept == [0.375, 0.75]  # equal jitter: step/2 + 0.5 * step/2, steps 0.5 and 1.0


def test_backoff_uses_random_jitter_by_default() -> None:
    values = {backoff(3, POLICY) for _ in range(50)}
    assert all(2.0 <= v <= 4.0 for v in values)
    assert len(values) > 1


def test_ensure_time_names_what_is_left_and_what_a_call_needs() -> None:
    clock = Clock()
    budget = Budget(1.25, clock=clock)
    with pytest.raises(RefreshFailed) as failed:
        ensure_time(budget, POLICY, "tenant")
    assert failed.value.reason == "deadline"
    assert str(failed.value) == "tenant refresh failed (deadline): 1.2s left, a call may take 2.0s"
    ensure_time(Budget(2.0, clock=clock), POLICY, "tenant")  # exactly one call's time: allowed


def test_no_call_starts_without_time_for_it_and_the_refusal_names_the_token() -> None:
    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        return "t"

    with pytest.raises(RefreshFailed) as failed:
        with_retries(op, token_type="app", policy=POLICY, budget=Budget(1.5), sleep=lambda _: None)
    assert calls == []
    assert str(failed.value).startswith("app refresh failed (deadline): ")
