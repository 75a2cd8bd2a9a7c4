"""Fixtures for the token, client and worker tests: the Lark sandbox and the functions' environment."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from lark_service.local.aws import Stack
from lark_service.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState

APP_ID = "cli_test_app"
APP_SECRET = "test-app-secret"

# Short waits so retries, leases and rate limits take a second, not minutes.
FAST = {
    "LARK_HTTP_TIMEOUT_SECONDS": "1",
    "LARK_TOKEN_RETRY_BASE_SECONDS": "0.05",
    "LARK_TOKEN_RETRY_CAP_SECONDS": "0.2",
    "LARK_TOKEN_RETRY_ATTEMPTS": "4",
    "LARK_TOKEN_LOCK_LEASE_SECONDS": "10",
    "LARK_TOKEN_LOCK_WAIT_SECONDS": "20",
    "LARK_TOKEN_LOCK_POLL_SECONDS": "0.1",
    "LARK_RATE_LIMIT_MAX_WAIT_SECONDS": "3",
}


@dataclass
class Sandbox:
    server: SandboxServer
    control: SandboxControl

    @property
    def url(self) -> str:
        return self.server.url

    def calls(self, path: str) -> list[dict[str, Any]]:
        return self.control.requests(path)


# The pushes in these tests come from the tests themselves, never through the sandbox, so a
# reply to a message id it never saw is taken as a reply in this chat (the sandbox's unit tests
# and test_lark_client check the strict rule).
PUSHED_CHAT = "oc_chat"


def _sandbox(app_type: str) -> Iterator[Sandbox]:
    state = SandboxState([SandboxApp(APP_ID, APP_SECRET, app_type)], unseen_messages_chat=PUSHED_CHAT)  # type: ignore[arg-type]
    with SandboxServer(state) as server:
        control = SandboxControl(server.url)
        try:
            yield Sandbox(server, control)
        finally:
            control.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield from _sandbox("self_built")


@pytest.fixture
def marketplace_sandbox() -> Iterator[Sandbox]:
    yield from _sandbox("marketplace")


@pytest.fixture
def lark_env(stack: Stack, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The functions' environment: the stack's resources, the sandbox as Lark, short waits."""
    for name, value in {
        "LARK_APP_ID": APP_ID,
        "LARK_APP_SECRET": APP_SECRET,
        "LARK_BASE_URL": sandbox.url,
        "LARK_APP_TYPE": "self_built",
        "LARK_DEMO_HANDLERS": "true",
        "POWERTOOLS_SERVICE_NAME": "test",
        **FAST,
    }.items():
        monkeypatch.setenv(name, value)
    return stack


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Powertools and our functions read."""

    function_name: str = "lark-service-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lark-service-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 30.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def emf_metrics(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents printed on stdout, flattened to ``{name, value, dims...}``."""
    found: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                dims = {d: doc[d] for group in directive["Dimensions"] for d in group if d != "service"}
                value = doc[metric["Name"]]
                for one in value if isinstance(value, list) else [value]:
                    found.append({"name": metric["Name"], "value": one, **dims})
    return found
