"""Timing knobs of the token machinery, read from the environment once.

Defaults suit production (Lark answers in well under a second; tokens live two hours). Tests and
the local runner shrink the waits through the same variables instead of patching code.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from lark_service.config import parse_environment


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


def load_tuning(environ: Mapping[str, str] | None = None) -> TokenTuning:
    return parse_environment(TokenTuning, environ)
