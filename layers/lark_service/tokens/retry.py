"""Retrying a token call: capped, jittered exponential backoff inside a time budget.

The scheduled refresh has its function's remaining time; an on-demand refresh inside the worker
has what is left of its lock's lease. Both use this loop, so both start a call only when the
call's whole timeout still fits before their deadline (instead of being killed mid-call or
mid-write), and both wait exactly what Lark's rate-limit header says.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lark_service.lark.errors import (
    AppTicketInvalid,
    CredentialsRejected,
    LarkApiError,
    LarkRateLimited,
    LarkTransientError,
)
from lark_service.observability import emit, logger

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 0.5
    cap: float = 8.0
    attempts: int = 5
    call_seconds: float = 6.0
    """The longest one call may take: the HTTP timeout plus a margin to store its answer."""


class Budget:
    """Seconds left to work, from a deadline on the monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def fits(self, seconds: float) -> bool:
        return self.remaining() >= seconds


class RefreshFailed(Exception):
    """A token could not be refreshed; ``reason`` is the metric's low-cardinality label."""

    def __init__(self, token_type: str, reason: str, detail: str) -> None:
        super().__init__(f"{token_type} refresh failed ({reason}): {detail}")
        self.reason = reason


def backoff(attempt: int, policy: RetryPolicy, rand: Callable[[], float] = random.random) -> float:
    """Equal jitter: half the capped exponential step fixed, half random, so retries spread out."""
    step = min(policy.cap, policy.base * (2**attempt))
    return float(step / 2 + rand() * step / 2)


def ensure_time(budget: Budget, policy: RetryPolicy, token_type: str) -> None:
    """Refuse to start a call that might still be running when the deadline passes."""
    if not budget.fits(policy.call_seconds):
        raise RefreshFailed(
            token_type,
            "deadline",
            f"{budget.remaining():.1f}s left, a call may take {policy.call_seconds:.1f}s",
        )


def with_retries(
    op: Callable[[], T],
    *,
    token_type: str,
    policy: RetryPolicy,
    budget: Budget,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run ``op`` until it succeeds, a non-retryable error occurs, attempts or budget run out.

    Any answer that is not one of Lark's documented errors is a ``LarkTransientError`` by the
    transport's contract, so an odd body is retried like a 5xx and never escapes as a crash.
    """
    attempt = 0
    while True:
        ensure_time(budget, policy, token_type)
        try:
            return op()
        except CredentialsRejected as exc:
            raise RefreshFailed(token_type, "credentials", str(exc)) from exc
        except AppTicketInvalid as exc:
            raise RefreshFailed(token_type, "invalid_ticket", str(exc)) from exc
        except LarkRateLimited as exc:
            wait, reason, detail = exc.reset_seconds, "rate_limited", str(exc)
        except LarkTransientError as exc:
            wait, reason, detail = backoff(attempt, policy, rand), "transient", str(exc)
        except LarkApiError as exc:
            raise RefreshFailed(token_type, "api_error", str(exc)) from exc
        attempt += 1
        if attempt >= policy.attempts:
            raise RefreshFailed(token_type, reason, f"gave up after {attempt} attempts: {detail}")
        if not budget.fits(wait + policy.call_seconds):
            raise RefreshFailed(
                token_type, "deadline", f"{reason}; waiting {wait:.1f}s and calling again passes the deadline"
            )
        emit("TokenRefreshRetry", token_type=token_type)
        logger.warning(
            "token call failed; retrying",
            extra={
                "token_type": token_type,
                "reason": reason,
                "attempt": attempt,
                "wait_seconds": round(wait, 3),
            },
        )
        sleep(wait)
