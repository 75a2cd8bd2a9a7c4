"""Fixed-window rate limits, as Lark states them: "1000 次/分钟、50 次/秒" and "5 QPS".

Lark does not publish its counting algorithm, only the limits, that any one of them trips the
limit ("对于不同时间周期内的限频策略 (如 1000次/分&50次/秒), 请求速率达到任意上限 (QPS 或 QPM)
都会触发限流", 频控策略, open.feishu.cn/document/ukTMukTMukTM/uUzN04SN3QjL1cDN) and that the
answer carries ``x-ogw-ratelimit-limit`` and ``x-ogw-ratelimit-reset`` (seconds until the
window recovers). Fixed windows aligned to the clock are the simplest counting that honours all
three; only admitted requests count.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

Limit = tuple[int, float]  # (requests, per seconds)


@dataclass(frozen=True, slots=True)
class Tripped:
    limit: int
    reset_seconds: int  # whole seconds, at least 1, as the header carries them


class WindowLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, float, int], int] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, limits: tuple[Limit, ...], now: float) -> Tripped | None:
        """Count one request under ``key`` unless a window is full; say which one tripped."""
        with self._lock:
            windows = [(count, per, int(now // per)) for count, per in limits]
            for count, per, index in windows:
                if self._counts.get((key, per, index), 0) >= count:
                    reset = max(1, math.ceil((index + 1) * per - now))
                    return Tripped(count, reset)
            for _, per, index in windows:
                self._counts[(key, per, index)] = self._counts.get((key, per, index), 0) + 1
            self._forget_before(now)
            return None

    def _forget_before(self, now: float) -> None:
        if len(self._counts) < 4096:
            return
        self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
