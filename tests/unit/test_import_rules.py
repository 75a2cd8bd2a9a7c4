"""What may import what: the Lark protocol below the tokens, the tokens below the worker.

Read from the source with ``ast`` (function-level imports included), so a lazy import cannot
hide a cycle: ``lark`` speaks HTTP to Lark and knows nothing of where tokens are kept; ``tokens``
uses ``lark`` and never the worker; ``wiring`` composes them from above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "lark_service"

# layer -> packages (top-level names under lark_service) it must never import
FORBIDDEN = {
    "lark": {"tokens", "worker", "wiring", "handlers", "webhook"},
    "tokens": {"worker", "wiring", "handlers", "webhook"},
    "stores": {"lark", "tokens", "worker", "wiring", "handlers", "webhook"},
}


def _imports(path: Path) -> set[str]:
    """Top-level ``lark_service`` subpackages a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "lark_service" and len(parts) > 1:
                found.add(parts[1])
    return found


def _layer(name: str) -> dict[Path, set[str]]:
    return {path: _imports(path) for path in sorted((PACKAGE / name).rglob("*.py"))}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported & FORBIDDEN[layer])
        for path, imported in _layer(layer).items()
        if imported & FORBIDDEN[layer]
    }
    assert offenders == {}


def test_lark_tokens_worker_form_no_cycle() -> None:
    """The package-level graph among these layers is acyclic (the old lark.factory -> tokens -> lark is gone)."""
    layers = ("lark", "tokens", "worker", "stores")
    graph = {
        layer: {dep for deps in _layer(layer).values() for dep in deps if dep in layers and dep != layer}
        for layer in layers
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(nxt == target or reaches(nxt, target, seen | {nxt}) for nxt in graph[start] - seen)

    assert [layer for layer in layers if reaches(layer, layer, set())] == []


def test_the_rule_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from lark_service.tokens.store import TokenStore\n    return TokenStore\n"
    )
    assert _imports(module) == {"tokens"}
