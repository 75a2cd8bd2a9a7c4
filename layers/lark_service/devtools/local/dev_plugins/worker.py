"""The worker, fed from the events queue as Lambda's SQS event source mapping would feed it."""

from __future__ import annotations

from collections.abc import Callable

from lark_service.devtools.local.dev import LocalApp, run_in_thread
from lark_service.devtools.local.poller import SqsPoller


def start(app: LocalApp) -> Callable[[], None]:
    poller = SqsPoller(
        app.stack.events_queue_url, lambda event: app.runner.invoke("worker", event), stop=app.stopping
    )
    app.log("worker", f"polling {app.stack.events_queue_url}")
    return run_in_thread("sqs-poller", poller.run, poller.stop)
