"""Backoff and the retry loop's decisions, with a recorded sleep and a fake clock instead of waiting."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lark_service.lark.errors import CredentialsRejected, LarkRateLimited, LarkTransientError
from lark_service.tokens.retry import Budget, RefreshFailed, RetryPolicy, backoff, with_retries

POLICY = RetryPolicy(base=0.5, cap=4.0, attempts=5, call_seconds=2.0)


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
    assert failed.value.reason == "deadline"
    assert slept == []


def test_a_wait_that_leaves_no_room_for_the_call_gives_up() -> None:
    """9 s left, a 8 s reset: the wait fits but the call after it (2 s) would not."""
    slept: list[float] = []
    op = _failing([LarkRateLimited("/x", 429, 99991400, "limited", reset_seconds=8.0)])
    with pytest.raises(RefreshFailed) as failed:
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(9), sleep=slept.append)
    assert failed.value.reason == "deadline"
    assert slept == []


def test_no_call_starts_that_could_outlast_the_budget() -> None:
    calls: list[str] = []

    def op() -> str:
        calls.append("called")
        return "t-ok"

    with pytest.raises(RefreshFailed) as failed:
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(1.9), sleep=lambda _: None)
    assert failed.value.reason == "deadline"
    assert calls == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("budget_seconds", [2.0, 5.0, 7.5, 11.0, 20.0, 33.3])
def test_a_lark_that_always_times_out_never_runs_past_the_deadline(budget_seconds: float) -> None:
    """Every call takes its whole timeout and fails; the last one still ends before the deadline."""
    clock = FakeClock()
    ended: list[float] = []
    policy = RetryPolicy(base=0.5, cap=4.0, attempts=100, call_seconds=2.0)

    def op() -> str:
        clock.now += policy.call_seconds  # the HTTP timeout, spent in full
        ended.append(clock.now)
        raise LarkTransientError("timed out")

    with pytest.raises(RefreshFailed) as failed:
        with_retries(
            op,
            token_type="t",
            policy=policy,
            budget=Budget(budget_seconds, clock=clock),
            sleep=clock.sleep,
            rand=lambda: 0.5,
        )
    assert failed.value.reason == "deadline"
    assert ended, "a budget that holds one call gets that call"
    assert max(ended) <= budget_seconds


def test_attempts_are_bounded() -> None:
    op = _failing([LarkTransientError(str(n)) for n in range(10)])
    with pytest.raises(RefreshFailed, match="gave up after 5 attempts"):
        with_retries(op, token_type="t", policy=POLICY, budget=Budget(60), sleep=lambda _: None)
