"""The sandbox's clock: a time source plus an offset that tests move forward.

Token lifetimes, ticket pushes, ``uuid`` windows and rate-limit windows all read this one clock,
so a test can jump two hours ahead, or step through a rate-limit window, without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SandboxClock:
    def __init__(self, time_source: Callable[[], float] = time.time) -> None:
        self._time_source = time_source
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._time_source() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            return self._offset


class ManualTime:
    """A time source that stands still until told to move: rate-limit windows without sleeping."""

    def __init__(self, start: float = 1_764_374_400.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value
