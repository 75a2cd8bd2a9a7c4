"""The token refresh on its schedule (template.yaml's default), first run at start."""

from __future__ import annotations

import os
from collections.abc import Callable

from lark_service.devtools.local.dev import LocalApp, run_in_thread
from lark_service.devtools.local.scheduler import DEFAULT_SCHEDULE, token_refresh_scheduler


def start(app: LocalApp) -> Callable[[], None]:
    expression = os.environ.get("TOKEN_REFRESH_SCHEDULE", DEFAULT_SCHEDULE)
    scheduler = token_refresh_scheduler(
        lambda event: app.runner.invoke("token_refresh", event), expression, stop=app.stopping
    )
    app.log("token_refresh", f"scheduled {expression}")
    return run_in_thread("token-refresh", scheduler.run, scheduler.stop)
