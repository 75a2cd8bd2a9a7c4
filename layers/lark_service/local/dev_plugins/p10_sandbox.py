"""The Lark sandbox stands in for the Open Platform, unless the user points at a real one.

It starts first so every function is born with ``LARK_BASE_URL`` aimed at it, and it knows the
same app id and secret the functions use, so the token refresh really succeeds. The sample pushes
of ``lark-service send-event`` never pass through the sandbox, so replies to their messages are
taken as replies in their chat (``oc_local_chat``, as ``lark_service.local.samples`` builds
them); the bot is in that chat and in those named by ``LARK_SANDBOX_CHATS`` (comma-separated).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lark_service.local.aws import free_port
from lark_service.local.dev import LocalApp
from lark_service.sandbox.server import SandboxServer
from lark_service.sandbox.state import SandboxApp, SandboxState

PORT = 8081
SAMPLES_CHAT = "oc_local_chat"


def start(app: LocalApp) -> Callable[[], None] | None:
    if os.environ.get("LARK_BASE_URL"):
        app.log("sandbox", f"not started: LARK_BASE_URL is {os.environ['LARK_BASE_URL']}")
        return None
    env = app.runner.env
    chats = tuple(c.strip() for c in os.environ.get("LARK_SANDBOX_CHATS", "").split(",") if c.strip())
    state = SandboxState(
        [SandboxApp(env["LARK_APP_ID"], env["LARK_APP_SECRET"], env.get("LARK_APP_TYPE", "self_built"))],  # type: ignore[arg-type]
        chats=chats,
        unseen_messages_chat=SAMPLES_CHAT,
    )
    try:
        server = SandboxServer(state, port=PORT)
    except OSError:
        server = SandboxServer(state, port=free_port())
    server.start()
    env["LARK_BASE_URL"] = server.url
    app.log("sandbox", f"Lark sandbox on {server.url} (sent messages: {server.url}/_sandbox/messages)")
    return server.stop
