from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lark_service import observability


def _cold_starts(out: str) -> list[dict[str, object]]:
    docs = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [doc for doc in docs if "ColdStart" in doc]


def test_counted_once_per_process_with_the_function_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(observability, "_cold", True)
    context = SimpleNamespace(function_name="lark-service-dev-worker")
    observability.count_cold_start(context, "worker")
    observability.count_cold_start(context, "worker")
    docs = _cold_starts(capsys.readouterr().out)
    assert [(doc["function_name"], doc["ColdStart"]) for doc in docs] == [("lark-service-dev-worker", [1.0])]


def test_without_a_context_the_fallback_name_is_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(observability, "_cold", True)
    observability.count_cold_start(None, "token_refresh")
    assert [doc["function_name"] for doc in _cold_starts(capsys.readouterr().out)] == ["token_refresh"]
