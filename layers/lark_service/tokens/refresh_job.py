"""The scheduled refresh as a job: budget from the Lambda context, failures made loud."""

from __future__ import annotations

from typing import Any

from lark_service.observability import logger
from lark_service.tokens.refresher import TokenRefresher
from lark_service.tokens.retry import Budget

SAFETY_MARGIN = 2.0  # seconds kept back from the function's timeout for the last write and logs
DEFAULT_BUDGET = 55.0


class RefreshIncomplete(RuntimeError):
    """Some token could not be refreshed; raised so the invocation counts as an error."""


def run_refresh(refresher: TokenRefresher, lambda_context: Any | None) -> dict[str, Any]:
    remaining = DEFAULT_BUDGET
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        remaining = lambda_context.get_remaining_time_in_millis() / 1000
    report = refresher.refresh_all(Budget(max(0.0, remaining - SAFETY_MARGIN)))
    summary = report.as_dict()
    if report.failures:
        logger.error("token refresh incomplete", extra=summary)
        raise RefreshIncomplete(f"token refresh incomplete: {summary['failed']}")
    logger.info("token refresh complete", extra=summary)
    return summary
