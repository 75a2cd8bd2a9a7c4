"""``lark-service exporter``: the EMF receiver as a command.

Listens like the CloudWatch agent (TCP and UDP on 25888), reads stdin and files, and serves the
resulting series on ``/metrics`` for Prometheus. It runs until interrupted, so that a finished
``sam local invoke ... 2>&1 |`` pipe still leaves its metrics scrapable.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from lark_service.devtools.exporter.receiver import Receiver
from lark_service.devtools.exporter.sources import Sources

DEFAULT_EMF_PORT = 25888
DEFAULT_METRICS_PORT = 9090


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address for TCP/UDP and /metrics (0.0.0.0 in containers)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_EMF_PORT, help="TCP and UDP port for EMF (default 25888)"
    )
    parser.add_argument("--no-tcp", action="store_true", help="do not listen on TCP")
    parser.add_argument("--no-udp", action="store_true", help="do not listen on UDP")
    parser.add_argument("--stdin", action="store_true", help="read EMF lines from standard input")
    parser.add_argument(
        "--file",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="read EMF lines from a file (repeatable)",
    )
    parser.add_argument("--follow", action="store_true", help="keep reading lines appended to --file")
    parser.add_argument(
        "--watch-queue",
        action="append",
        default=[],
        metavar="QUEUE_URL",
        help="poll an SQS queue's depth (AWS_ENDPOINT_URL points boto3 at a local AWS; repeatable)",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="port of /metrics (default 9090)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("lark_service.devtools.exporter")
    receiver = Receiver()
    sources = Sources(receiver)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        metrics_port = receiver.start_http(args.metrics_port, args.host)
        log.info("serving /metrics on http://%s:%d/metrics", args.host, metrics_port)
        if not args.no_tcp:
            log.info("EMF over TCP on %s:%d", args.host, sources.listen_tcp(args.host, args.port))
        if not args.no_udp:
            log.info("EMF over UDP on %s:%d", args.host, sources.listen_udp(args.host, args.port))
        if args.stdin:
            sources.read_stream(sys.stdin)
        for path in args.file:
            sources.read_file(path, follow=args.follow)
        for url in args.watch_queue:
            sources.watch_queue(url)
    except OSError as exc:
        print(f"lark-service exporter: cannot listen: {exc}", file=sys.stderr)
        sources.close()
        receiver.stop()
        return 1
    done.wait()
    sources.close()
    receiver.stop()
    return 0
