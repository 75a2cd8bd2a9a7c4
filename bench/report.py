"""Printing: one table layout and one pass/fail line per goal, for every benchmark."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

_COMPARE = {"<=": operator.le, ">=": operator.ge}


def row(name: str, *values: float | str) -> list[str]:
    return [name, *(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        print(
            "  "
            + "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    op: str
    target: float
    unit: str

    @property
    def ok(self) -> bool:
        return bool(_COMPARE[self.op](self.value, self.target))

    def line(self) -> str:
        verdict = "pass" if self.ok else "FAIL"
        return f"  {verdict}  {self.name:<40} {self.value:9.2f} {self.op} {self.target:g} {self.unit}"

    @staticmethod
    def print_all(goals: Sequence[Goal]) -> bool:
        """Print every goal; True when any was missed."""
        print("goals")
        for goal in goals:
            print(goal.line())
        return not all(goal.ok for goal in goals)
