"""The token refresh's EventBridge schedule, for the local runner.

It reads the same ``rate(...)`` expression as the template's ``TokenRefreshSchedule`` and fires
once at start (a laptop has no tokens yet) and then on every period, until stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SCHEDULE = "rate(10 minutes)"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between runs of an EventBridge ``rate(N unit)`` expression."""
    match = _RATE.match(expression.strip())
    if not match:
        raise ValueError(f"schedule {expression!r} is not a rate expression such as 'rate(10 minutes)'")
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if count < 1 or (count == 1) != (not match.group(2).endswith("s")):
        raise ValueError(f"schedule {expression!r}: use 'rate(1 minute)' or 'rate(N minutes)' with N > 1")
    return float(count * _UNIT_SECONDS[unit])


def scheduled_event(now: float | None = None) -> dict[str, Any]:
    """The event a scheduled rule delivers (as ``sam local generate-event cloudwatch scheduled-event``)."""
    when = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    return {
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/lark-service-local-token-refresh"],
        "detail": {},
    }


class Scheduler:
    """Call ``action`` now and then every ``interval`` seconds until ``stop`` is set."""

    def __init__(
        self,
        interval: float,
        action: Callable[[], Any],
        *,
        stop: threading.Event | None = None,
        run_immediately: bool = True,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.stop = stop or threading.Event()
        self.runs = 0
        self._action = action
        self._run_immediately = run_immediately

    def run(self, max_runs: int | None = None) -> None:
        if not self._run_immediately and self.stop.wait(self.interval):
            return
        while not self.stop.is_set() and (max_runs is None or self.runs < max_runs):
            try:
                self._action()
            except Exception as exc:  # a failed run is the function's problem; the schedule goes on
                logger.warning("scheduled run failed: %s", exc)
            self.runs += 1
            if self.stop.wait(self.interval):
                return


def token_refresh_scheduler(
    invoke: Callable[[dict[str, Any]], Any],
    expression: str = DEFAULT_SCHEDULE,
    *,
    stop: threading.Event | None = None,
) -> Scheduler:
    """A scheduler that invokes the token refresh function with a scheduled event."""
    return Scheduler(rate_seconds(expression), lambda: invoke(scheduled_event()), stop=stop)
