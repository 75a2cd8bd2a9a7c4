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


TOOLING = {"local", "sandbox", "exporter", "render", "cli"}
"""What runs on a laptop (local runner, Lark sandbox, EMF receiver, renderers, the CLI), never in Lambda."""
RUNTIME = sorted(
    p.stem if p.is_file() else p.name
    for p in PACKAGE.iterdir()
    if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    and p.stem not in TOOLING
    and p.stem != "__init__"
)


def _modules(name: str) -> list[Path]:
    path = PACKAGE / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [PACKAGE / f"{name}.py"]


def test_what_lambda_runs_never_imports_the_tooling() -> None:
    """The images leave the tooling out (.dockerignore); an import of it would fail only in AWS."""
    assert {"app", "config", "webhook", "worker", "wiring"} <= set(RUNTIME)
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imports(path) & TOOLING)
        for name in RUNTIME
        for path in _modules(name)
        if _imports(path) & TOOLING
    }
    functions = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & TOOLING)
        for path in sorted((ROOT / "functions").glob("*/app.py"))
        if _imports(path) & TOOLING
    }
    assert offenders == {}
    assert functions == {}


def test_only_the_functions_and_the_tooling_build_through_wiring() -> None:
    """``wiring`` is the composition root: no domain layer reaches up into it."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for name in RUNTIME
        if name != "wiring"
        for path in _modules(name)
        if "wiring" in _imports(path)
    ]
    assert offenders == []


def test_the_tooling_list_matches_what_the_images_leave_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for name in TOOLING:
        entry = (
            f"layers/lark_service/{name}/" if (PACKAGE / name).is_dir() else f"layers/lark_service/{name}.py"
        )
        assert entry in ignored, f".dockerignore lets {entry} into the images"
