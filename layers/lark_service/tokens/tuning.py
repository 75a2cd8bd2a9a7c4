"""Timing knobs of the token machinery, read from the environment once.

Defaults suit production (Lark answers in well under a second; tokens live two hours). Tests and
the local runner shrink the waits through the same variables instead of patching code.
"""

from __future__ import annotations

from collections.abc import Mapping

from lark_service.config import EnvironmentModel, Var, integer, parse_environment, seconds
from lark_service.tokens.retry import RetryPolicy

CALL_MARGIN = 1.0
"""Seconds past a call's HTTP timeout allowed for storing its answer."""
LOCK_HOLD_MARGIN = 2.0
"""Seconds of a lock's lease kept back for the holder's last write and its unlock."""
LOCK_TAKE_SECONDS = 1.0
"""Seconds of a lock's lease allowed for taking it and re-reading the table before the first call."""


class TokenTuning(EnvironmentModel):
    """How long token calls, retries and the refresh lock may take (seconds unless named)."""

    http_timeout = Var("LARK_HTTP_TIMEOUT_SECONDS", seconds(above=0), 5.0)
    retry_base = Var("LARK_TOKEN_RETRY_BASE_SECONDS", seconds(above=0), 0.5)
    retry_cap = Var("LARK_TOKEN_RETRY_CAP_SECONDS", seconds(above=0), 8.0)
    retry_attempts = Var("LARK_TOKEN_RETRY_ATTEMPTS", integer(minimum=1), 5)
    # Readers refresh on demand when less than this remains; the schedule keeps it from happening.
    refresh_margin = Var("LARK_TOKEN_REFRESH_MARGIN_SECONDS", seconds(minimum=0), 300.0)
    lock_lease = Var("LARK_TOKEN_LOCK_LEASE_SECONDS", seconds(above=0), 10.0)
    lock_wait = Var("LARK_TOKEN_LOCK_WAIT_SECONDS", seconds(above=0), 15.0)
    lock_poll = Var("LARK_TOKEN_LOCK_POLL_SECONDS", seconds(above=0), 0.1)
    # An API call waits out a rate limit this long at most; beyond it the event is retried later.
    rate_limit_max_wait = Var("LARK_RATE_LIMIT_MAX_WAIT_SECONDS", seconds(minimum=0), 10.0)

    @property
    def call_seconds(self) -> float:
        """The longest one token call may take, its write included: no call starts with less left."""
        return self.http_timeout + CALL_MARGIN

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_base, self.retry_cap, self.retry_attempts, self.call_seconds)

    def check(self) -> None:
        # The lock holder starts a call only while the call fits in its lease, so the lease must
        # hold at least one whole call plus the write; otherwise no holder could ever refresh.
        extra = CALL_MARGIN + LOCK_HOLD_MARGIN + LOCK_TAKE_SECONDS
        needed = self.http_timeout + extra
        if self.lock_lease < needed:
            raise ValueError(
                f"LARK_TOKEN_LOCK_LEASE_SECONDS ({self.lock_lease:g}) must be at least "
                f"LARK_HTTP_TIMEOUT_SECONDS + {extra:g} ({needed:g}): "
                "the lock must outlast the call its holder makes"
            )


def load_tuning(environ: Mapping[str, str] | None = None) -> TokenTuning:
    return parse_environment(TokenTuning, environ)
