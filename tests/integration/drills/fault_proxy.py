"""A TCP proxy between the functions' real botocore clients and moto's server, with AWS's faults.

The clients speak HTTP/1.1 with keep-alive to the proxy as they would to AWS; the proxy reads
each request, names its operation, applies the next matching fault (or none), and relays moto's
answer. The faults are the ones AWS shows a Lambda function, shaped the way botocore meets them:

``late``        the request reaches moto (the write happens) but the answer is held until the
                client gives up (its read timeout) and hangs up; botocore then retries the same
                request on a new connection. No sleep: the proxy waits for the client's close.
``reset``       the connection is reset (RST) before the request reaches moto.
``reset_after`` the request reaches moto, then the connection is reset instead of answered.
``throttle``    DynamoDB's ``ProvisionedThroughputExceededException`` (HTTP 400).
``throttling``  ``ThrottlingException`` (HTTP 400), as DynamoDB answers when request rate is high.
``server_error`` HTTP 500 ``InternalError`` (SQS's and DynamoDB's "retry me" answer).

Error bodies follow the AWS JSON 1.0 protocol both services use (botocore's
``botocore/data/{dynamodb,sqs}/*/service-2.json``: ``"protocol": "json"``, ``jsonVersion 1.0``;
errors as ``{"__type": "<namespace>#<Code>", "message": ...}``, parsed by
``botocore/parsers.py:BaseJSONParser._do_error_parse``). botocore's standard retry mode retries
both throttling codes (``botocore/retries/standard.py:ThrottlingErrorDetector``
``_THROTTLED_ERROR_CODES``), status 500 (``TransientRetryableChecker._TRANSIENT_STATUS_CODES``)
and connection errors (``_TRANSIENT_EXCEPTION_CLS``), which is what the drills rely on.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

FAULTS = ("late", "reset", "reset_after", "throttle", "throttling", "server_error")
HOLD_LIMIT = 60.0
"""A ``late`` answer is dropped when the client has not hung up after this long (a safety net)."""

_ERRORS = {
    "throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "throttling": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "server_error": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_NAMESPACES = {"DynamoDB_20120810": "com.amazonaws.dynamodb.v20120810", "AmazonSQS": "com.amazonaws.sqs"}


@dataclass
class Rule:
    operation: str
    """``PutItem``, ``SendMessage``, ... (the ``X-Amz-Target`` operation name)."""
    fault: str
    times: int = 1


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.calls: Counter[str] = Counter()
        self.faults_applied: Counter[tuple[str, str]] = Counter()
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    # --- control ----------------------------------------------------------------------------
    def add(self, operation: str, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {FAULTS}")
        with self._lock:
            self._rules.append(Rule(operation, fault, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(rule.times for rule in self._rules)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _take(self, operation: str) -> str | None:
        with self._lock:
            for rule in self._rules:
                if rule.operation == operation and rule.times > 0:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    self.faults_applied[(operation, rule.fault)] += 1
                    return rule.fault
        return None

    # --- serving ----------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        reader = client.makefile("rb")
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                target = headers.get("x-amz-target", "")
                prefix, _, operation = target.partition(".")
                operation = operation or "other"
                self.calls[operation] += 1
                fault = self._take(operation)
                if fault == "reset":
                    _reset(client)
                    return
                if fault in _ERRORS:
                    client.sendall(_error_response(fault, prefix))
                    continue
                upstream.request(method, path, body, {k: v for k, v in headers.items() if k != "host"})
                answer = upstream.getresponse()
                data = answer.read()
                if fault == "reset_after":
                    _reset(client)
                    return
                if fault == "late":
                    # The write happened; the answer never comes. Wait for the client to give up.
                    select.select([client], [], [], HOLD_LIMIT)
                    _reset(client)
                    return
                client.sendall(_response(answer, data))
        except OSError:
            return
        finally:
            upstream.close()
            reader.close()
            client.close()


def _read_request(reader: object) -> tuple[str, str, dict[str, str], bytes] | None:
    line = reader.readline()  # type: ignore[attr-defined]
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = reader.readline()  # type: ignore[attr-defined]
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))  # type: ignore[attr-defined]
    return method, path, headers, body


def _response(answer: http.client.HTTPResponse, data: bytes) -> bytes:
    lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
    skip = {"transfer-encoding", "connection", "content-length", "keep-alive"}
    lines += [f"{k}: {v}" for k, v in answer.getheaders() if k.lower() not in skip]
    lines += [f"Content-Length: {len(data)}", "Connection: keep-alive"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def _error_response(fault: str, target_prefix: str) -> bytes:
    status, code, message = _ERRORS[fault]
    namespace = _NAMESPACES.get(target_prefix, "com.amazonaws")
    body = json.dumps({"__type": f"{namespace}#{code}", "message": message}).encode()
    reason = "Bad Request" if status == 400 else "Internal Server Error"
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/x-amz-json-1.0",
        "x-amzn-RequestId: fault-proxy",
        f"Content-Length: {len(body)}",
    ]
    if target_prefix == "AmazonSQS":
        head.append(f"x-amzn-query-error: {code};{'Receiver' if status >= 500 else 'Sender'}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, as a dropped connection looks to the client."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
