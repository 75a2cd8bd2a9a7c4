"""Metrics as a test sees them: every ``emit`` call with its value and dimensions.

The recorder still hands each call to the real ``emit``, so a metric name or dimension the
catalog does not declare fails the test exactly as it would fail in Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lark_service import observability


@dataclass
class Emitted:
    calls: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)

    def __call__(self, name: str, value: float = 1.0, **dimensions: str) -> None:
        observability.emit(name, value, **dimensions)
        self.calls.append((name, value, dimensions))

    def named(self, name: str) -> list[tuple[float, dict[str, str]]]:
        return [(value, dims) for metric, value, dims in self.calls if metric == name]


def record_metrics(monkeypatch: pytest.MonkeyPatch, *modules: str) -> Emitted:
    """Replace ``emit`` in each named module (``lark_service.lark.transport`` ...) by one recorder."""
    recorder = Emitted()
    for module in modules:
        monkeypatch.setattr(f"{module}.emit", recorder)
    return recorder
