"""The X-Ray tracer: loaded by the worker and the token refresh, never by the webhook.

Each function is imported in a fresh interpreter as Lambda's init phase does, with the
configuration ``tests/events/env.json`` gives it, and the test looks at what got imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EVENTS, ROOT

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from lark_service import observability
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "tracer": observability._tracer is not None}))
"""


def _imported(function: str) -> dict[str, bool]:
    env_file = json.loads((EVENTS / "env.json").read_text())
    env = {
        **os.environ,
        **env_file["Parameters"],
        "EVENTS_QUEUE_URL": "http://127.0.0.1:9/000000000000/q",
        "IDEMPOTENCY_TABLE": "idempotency",
        "TOKEN_TABLE": "tokens",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    out = (
        subprocess.run(
            [sys.executable, "-c", PROBE, str(ROOT / "functions" / function / "app.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    result: dict[str, bool] = json.loads(out)
    return result


def test_the_webhook_never_loads_the_xray_sdk() -> None:
    assert _imported("webhook") == {"xray": False, "tracer": False}


@pytest.mark.parametrize("function", ["worker", "token_refresh"])
def test_worker_and_token_refresh_trace(function: str) -> None:
    assert _imported(function) == {"xray": True, "tracer": True}


def test_annotate_is_a_no_op_without_a_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    from lark_service import observability

    monkeypatch.setattr(observability, "_tracer", None)
    observability.annotate(outcome="ok")  # must not create one
    assert observability._tracer is None
