"""The Lark sandbox stands in for the Open Platform, unless the user points at a real one.

It starts first so every function is born with ``LARK_BASE_URL`` aimed at it, and it knows the
same app id and secret the functions use, so the token refresh really succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lark_service.local.aws import free_port
from lark_service.local.dev import LocalApp
from lark_service.sandbox.server import SandboxServer
from lark_service.sandbox.state import SandboxApp, SandboxState

PORT = 8081


def start(app: LocalApp) -> Callable[[], None] | None:
    if os.environ.get("LARK_BASE_URL"):
        app.log("sandbox", f"not started: LARK_BASE_URL is {os.environ['LARK_BASE_URL']}")
        return None
    env = app.runner.env
    state = SandboxState(
        [SandboxApp(env["LARK_APP_ID"], env["LARK_APP_SECRET"], env.get("LARK_APP_TYPE", "self_built"))]  # type: ignore[arg-type]
    )
    try:
        server = SandboxServer(state, port=PORT)
    except OSError:
        server = SandboxServer(state, port=free_port())
    server.start()
    env["LARK_BASE_URL"] = server.url
    app.log("sandbox", f"Lark sandbox on {server.url} (sent messages: {server.url}/_sandbox/messages)")
    return server.stop
