"""Backoff and the retry loop's decisions, with a recorded sleep instead of real waiting."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lark_service.lark.errors import CredentialsRejected, LarkRateLimited, LarkTransientError
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy, backoff, with_retries

POLICY = RetryPolicy(base=0.5, cap=4.0, attempts=5)


def test_backoff_grows_is_capped_and_jittered() -> None:
    lows = [backoff(n, POLICY, rand=lambda: 0.0) for n in range(6)]
    highs = [backoff(n, POLICY, rand=lambda: 1.0) for n in range(6)]
    assert lows == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert highs == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def _failing(errors: list[Exception]) -> Callable[[], str]:
    def op() -> str:
        if errors:
            raise errors.pop(0)
        return "t-ok"

    return op


def test_transient_errors_are_retried_with_backoff() -> None:
    slept: list[float] = []
    op = _failing([LarkTransientError("timeout"), LarkTransientError("503")])
    assert (
        with_retries(
            op, token_type="t", policy=POLICY, budget=Budget(60), sleep=slept.append, rand=lambda: 0.0
        )
        == "t-ok"
    )
    assert slept == [0.25, 0.5]


def test_rate_limit_waits_the_reset() -> None:
    slept: list[float] = []
    op = _failing([LarkRateLimited("/x", 429, 99991400, "limited", reset_seconds=3.0)])
    assert with_retries(op, token_type="t", policy=POLICY, budget=Budget(60), sleep=slept.append) == "t-ok"
    assert slept == [3.0]


def test_credentials_fail_fast() -> None:
    slept: list[float] = []
    op = _failing([CredentialsRejected("/x", 400, 10014, "app secret invalid")])
    with pytest.raises(RefreshFailed) as failed:
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(60), sleep=slept.append)
    assert failed.value.reason == "credentials"
    assert slept == []


def test_a_wait_beyond_the_budget_gives_up_instead_of_sleeping() -> None:
    slept: list[float] = []
    op = _failing([LarkRateLimited("/x", 429, 99991400, "limited", reset_seconds=30.0)])
    with pytest.raises(RefreshFailed) as failed:
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(10), sleep=slept.append)
    assert failed.value.reason == "budget"
    assert slept == []


def test_attempts_are_bounded() -> None:
    op = _failing([LarkTransientError(str(n)) for n in range(10)])
    with pytest.raises(RefreshFailed, match="gave up after 5 attempts"):
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(60), sleep=lambda _: None)
