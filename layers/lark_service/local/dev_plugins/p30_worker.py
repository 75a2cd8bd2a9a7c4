"""The worker, fed from the events queue as Lambda's SQS event source mapping would feed it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lark_service.local.dev import LocalApp
from lark_service.local.poller import SqsPoller


def start(app: LocalApp) -> Callable[[], None]:
    poller = SqsPoller(
        app.stack.events_queue_url, lambda event: app.runner.invoke("worker", event), stop=app.stopping
    )
    thread = threading.Thread(target=poller.run, name="sqs-poller", daemon=True)
    thread.start()
    app.log("worker", f"polling {app.stack.events_queue_url}")

    def stop() -> None:
        poller.stop.set()
        thread.join(timeout=5)

    return stop
