"""Metrics on a laptop: the EMF receiver fed with every function's output, ``/metrics`` on 9090.

Functions print EMF on stdout as in Lambda; the runner hands each line here, as CloudWatch
would extract it in AWS. The receiver also listens on 25888 (like the CloudWatch agent) for
other emitters, and watches the queues' depth, which locally has no CloudWatch to report it.
"""

from __future__ import annotations

from collections.abc import Callable

from lark_service.devtools.exporter.receiver import Receiver
from lark_service.devtools.exporter.sources import Sources
from lark_service.devtools.local.dev import LocalApp
from lark_service.devtools.local.runner import OutputLine

METRICS_PORT = 9090
EMF_PORT = 25888


def _bind(listen: Callable[[str, int], int], port: int) -> int:
    try:
        return listen("127.0.0.1", port)
    except OSError:
        return listen("127.0.0.1", 0)


def start(app: LocalApp) -> Callable[[], None]:
    receiver = Receiver()
    sources = Sources(receiver)

    def feed(line: OutputLine) -> None:
        if '"_aws"' in line.text:
            receiver.feed_line(line.text)

    app.runner.add_output_hook(feed)
    metrics_port = _bind(lambda host, port: receiver.start_http(port, host), METRICS_PORT)
    tcp_port = _bind(sources.listen_tcp, EMF_PORT)
    udp_port = _bind(sources.listen_udp, EMF_PORT)
    for queue_url in (app.stack.events_queue_url, app.stack.dead_letter_queue_url):
        sources.watch_queue(queue_url)
    app.log(
        "metrics",
        f"Prometheus metrics on http://127.0.0.1:{metrics_port}/metrics (EMF on tcp/{tcp_port}, udp/{udp_port})",
    )

    def stop() -> None:
        sources.close()
        receiver.stop()

    return stop
