"""Where EMF lines come from: the CloudWatch agent's TCP and UDP protocol, stdin, files, SQS depth.

Each source runs in a daemon thread and stops when the shared ``threading.Event`` is set, so the
command and the tests can shut everything down in bounded time.
"""

from __future__ import annotations

import logging
import os
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lark_service.devtools.exporter.receiver import Receiver

log = logging.getLogger("lark_service.devtools.exporter")

MAX_LINE_BYTES = 1024 * 1024
"""CloudWatch Logs caps an event at 256 KiB; four times that is certainly not a metric document."""
UDP_MAX_DATAGRAM = 65535


class _TcpHandler(socketserver.StreamRequestHandler):
    """One connection of newline-delimited JSON, as the CloudWatch agent accepts it."""

    server: _TcpServer

    def handle(self) -> None:
        receiver = self.server.receiver
        while not self.server.stopping.is_set():
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                receiver.reject("oversized_line", f"a line longer than {MAX_LINE_BYTES} bytes")
                self._skip_to_newline()
                continue
            receiver.feed_line(line)

    def _skip_to_newline(self) -> None:
        while True:
            chunk = self.rfile.readline(MAX_LINE_BYTES)
            if not chunk or chunk.endswith(b"\n"):
                return


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], receiver: Receiver, stopping: threading.Event) -> None:
        self.receiver = receiver
        self.stopping = stopping
        super().__init__(address, _TcpHandler)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data: bytes = self.request[0]
        self.server.receiver.feed_text(data)


class _UdpServer(socketserver.UDPServer):
    allow_reuse_address = True
    max_packet_size = UDP_MAX_DATAGRAM

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(address, _UdpHandler)


class Sources:
    """The running inputs of one receiver; ``close()`` stops them all."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.stopping = threading.Event()
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def listen_tcp(self, host: str, port: int) -> int:
        server = _TcpServer((host, port), self.receiver, self.stopping)
        self._serve(server, "emf-tcp")
        bound: int = server.server_address[1]
        return bound

    def listen_udp(self, host: str, port: int) -> int:
        server = _UdpServer((host, port), self.receiver)
        self._serve(server, "emf-udp")
        bound: int = server.server_address[1]
        return bound

    def read_stream(self, stream: IO[str], name: str = "stdin") -> threading.Thread:
        """Feed every line of a stream (``sam local invoke ... 2>&1 | lark-service exporter --stdin``)."""

        def run() -> None:
            for line in stream:
                if self.stopping.is_set():
                    return
                self.receiver.feed_line(line)
            log.info("%s ended; still serving /metrics", name)

        return self._start(run, f"emf-{name}")

    def read_file(self, path: Path, follow: bool = False, poll: float = 0.2) -> threading.Thread:
        """Feed a file's lines; with ``follow``, keep reading what is appended (and survive truncation)."""
        return self._start(lambda: self._tail(path, follow, poll), f"emf-file-{path.name}")

    def watch_queue(self, queue_url: str, interval: float = 5.0) -> threading.Thread:
        """Poll an SQS queue's depth: locally there is no CloudWatch to publish AWS/SQS metrics."""
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        client = _sqs_client()

        def poll() -> None:
            while not self.stopping.is_set():
                try:
                    attributes = client.get_queue_attributes(
                        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                    )["Attributes"]
                    self.receiver.set_queue_depth(name, float(attributes["ApproximateNumberOfMessages"]))
                except Exception as exc:  # a queue that is briefly away must not stop the loop
                    log.warning("cannot read the depth of queue %s: %s", name, exc)
                self.stopping.wait(interval)

        return self._start(poll, f"sqs-{name}")

    def close(self) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def _serve(self, server: socketserver.BaseServer, name: str) -> None:
        self._servers.append(server)
        self._start(lambda: server.serve_forever(poll_interval=0.2), name)

    def _start(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _tail(self, path: Path, follow: bool, poll: float) -> None:
        position = 0
        pending = b""
        while not self.stopping.is_set():
            try:
                size = os.stat(path).st_size
                if size < position:  # truncated or rotated: start over
                    position, pending = 0, b""
                if size > position:
                    with path.open("rb") as handle:
                        handle.seek(position)
                        chunk = handle.read(size - position)
                    position += len(chunk)
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        self.receiver.feed_line(line)
                    if len(pending) > MAX_LINE_BYTES:
                        pending = b""
            except FileNotFoundError:
                if not follow:
                    log.warning("file %s does not exist", path)
                    return
            if not follow:
                if pending:
                    self.receiver.feed_line(pending)
                return
            self.stopping.wait(poll)


def _sqs_client() -> Any:
    import boto3  # noqa: PLC0415 - only the queue watcher needs boto3

    return boto3.client("sqs")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes: receivers fill asynchronously, so
    callers that feed one over a socket (tests, the local runner) wait for a result, not a time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
