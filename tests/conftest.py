"""Fixtures shared by every test: the repository paths and a clean environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "events"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account or the instance-metadata address."""
    from lark_service.devtools.local.aws import FAKE_CREDENTIALS

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "LARK_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def load_function(name: str):  # type: ignore[no-untyped-def]
    """Import ``functions/<name>/app.py`` fresh, as Lambda would at a cold start."""
    import importlib.util

    path = ROOT / "functions" / name / "app.py"
    module_name = f"_function_{name}"
    sys.modules.pop(module_name, None)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
