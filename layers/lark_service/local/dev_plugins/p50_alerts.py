"""The alert notifier, served over HTTP for Alertmanager's webhook: ``POST /alerts`` on 8082.

Each request becomes a Function URL event for ``functions/alert_notifier`` (as the webhook's
requests do), so Alertmanager talks to the real handler. Cards go to ``LARK_ALERT_CHAT_ID``
(default ``oc_local_alerts``, a sandbox chat the bot is made a member of). ``LARK_ALERTS_LISTEN`` (``host:port``)
moves the endpoint, e.g. to ``0.0.0.0:8082`` for an Alertmanager in a container.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from lark_service.local.aws import free_port
from lark_service.local.dev import LocalApp, _Server, make_handler
from lark_service.sandbox.control import SandboxControl

LISTEN = "127.0.0.1:8082"
LOCAL_CHAT_ID = "oc_local_alerts"


def serve(app: LocalApp, host: str, port: int) -> tuple[str, Callable[[], None]]:
    """Serve the notifier on ``host:port`` (0: a free port); return its URL and the stop function."""
    server = _Server((host, port), make_handler(app, "alert_notifier"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}/alerts", stop


def start(app: LocalApp) -> Callable[[], None]:
    host, _, port = os.environ.get("LARK_ALERTS_LISTEN", LISTEN).rpartition(":")
    chat = app.runner.env.setdefault("LARK_ALERT_CHAT_ID", LOCAL_CHAT_ID)
    if not os.environ.get("LARK_BASE_URL"):  # Lark is the sandbox (p10): the bot joins the alert chat
        control = SandboxControl(app.runner.env["LARK_BASE_URL"])
        try:
            control.add_chat(chat)
        finally:
            control.close()
    try:
        url, stop = serve(app, host, int(port))
    except OSError:
        url, stop = serve(app, host, free_port())
    app.log("alerts", f"Alertmanager webhook on {url} (cards to chat {chat})")
    return stop
