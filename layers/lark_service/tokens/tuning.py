"""Timing knobs of the token machinery, read from the environment once.

Defaults suit production (Lark answers in well under a second; tokens live two hours). Tests and
the local runner shrink the waits through the same variables instead of patching code.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lark_service.config import parse_environment
from lark_service.tokens.retry import RetryPolicy

CALL_MARGIN = 1.0
"""Seconds past a call's HTTP timeout allowed for storing its answer."""
LOCK_HOLD_MARGIN = 2.0
"""Seconds of a lock's lease kept back for the holder's last write and its unlock."""
LOCK_TAKE_SECONDS = 1.0
"""Seconds of a lock's lease allowed for taking it and re-reading the table before the first call."""


class TokenTuning(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    http_timeout: float = Field(5.0, alias="LARK_HTTP_TIMEOUT_SECONDS", gt=0)
    retry_base: float = Field(0.5, alias="LARK_TOKEN_RETRY_BASE_SECONDS", gt=0)
    retry_cap: float = Field(8.0, alias="LARK_TOKEN_RETRY_CAP_SECONDS", gt=0)
    retry_attempts: int = Field(5, alias="LARK_TOKEN_RETRY_ATTEMPTS", ge=1)
    # Readers refresh on demand when less than this remains; the schedule keeps it from happening.
    refresh_margin: float = Field(300.0, alias="LARK_TOKEN_REFRESH_MARGIN_SECONDS", ge=0)
    lock_lease: float = Field(10.0, alias="LARK_TOKEN_LOCK_LEASE_SECONDS", gt=0)
    lock_wait: float = Field(15.0, alias="LARK_TOKEN_LOCK_WAIT_SECONDS", gt=0)
    lock_poll: float = Field(0.1, alias="LARK_TOKEN_LOCK_POLL_SECONDS", gt=0)
    # An API call waits out a rate limit this long at most; beyond it the event is retried later.
    rate_limit_max_wait: float = Field(10.0, alias="LARK_RATE_LIMIT_MAX_WAIT_SECONDS", ge=0)

    @property
    def call_seconds(self) -> float:
        """The longest one token call may take, its write included: no call starts with less left."""
        return self.http_timeout + CALL_MARGIN

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_base, self.retry_cap, self.retry_attempts, self.call_seconds)

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> TokenTuning:
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
        return self


def load_tuning(environ: Mapping[str, str] | None = None) -> TokenTuning:
    return parse_environment(TokenTuning, environ)
