"""The sandbox as a command, its app_ticket push, and the local poller and scheduler loops."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_service.local.aws import Stack
from lark_service.local.poller import SqsPoller
from lark_service.local.scheduler import Scheduler, scheduled_event
from lark_service.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState
from tests.conftest import load_function
from tests.integration.lark.conftest import FakeLambdaContext, Sandbox

pytestmark = pytest.mark.integration


def test_sandbox_command_serves_the_api() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lark_service.cli",
            "sandbox",
            "--port",
            "0",
            "--app-id",
            "cli_cmd",
            "--app-secret",
            "s3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        answer = httpx.post(
            f"{url}/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": "cli_cmd", "app_secret": "s3"},
            timeout=5,
        ).json()
        assert answer["code"] == 0
        assert answer["expire"] == 7200
        control = SandboxControl(url)
        assert len(control.requests()) == 1
        control.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


class _Receiver:
    """A stand-in webhook that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/lark/events"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def _decrypt(encrypted: str, key: str) -> dict[str, Any]:
    raw = base64.b64decode(encrypted)
    decryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    doc: dict[str, Any] = json.loads(unpadder.update(padded) + unpadder.finalize())
    return doc


def test_resend_pushes_an_encrypted_signed_app_ticket(receiver: _Receiver) -> None:
    state = SandboxState([SandboxApp("cli_store", "s", "marketplace")])
    with SandboxServer(state, push_url=receiver.url, verification_token="vt", encrypt_key="ek") as server:
        answer = httpx.post(
            f"{server.url}/open-apis/auth/v3/app_ticket/resend",
            json={"app_id": "cli_store", "app_secret": "s"},
        ).json()
        assert answer == {"code": 0, "msg": "success"}  # the resend page's response sample
        assert receiver.arrived.wait(5)
    headers, raw = receiver.received[0]
    signed = headers["x-lark-request-timestamp"] + headers["x-lark-request-nonce"] + "ek"
    assert headers["x-lark-signature"] == hashlib.sha256(signed.encode() + raw).hexdigest()
    event = _decrypt(json.loads(raw)["encrypt"], "ek")
    assert event["token"] == "vt"
    assert event["event"] == {
        "app_id": "cli_store",
        "app_ticket": state.current_ticket("cli_store"),
        "type": "app_ticket",
    }


def test_poller_and_scheduler_run_until_stopped(lark_env: Stack, sandbox: Sandbox) -> None:
    stop = threading.Event()
    refresh = load_function("token_refresh")
    scheduler = Scheduler(0.2, lambda: refresh.handler(scheduled_event(), FakeLambdaContext()), stop=stop)
    worker = load_function("worker")
    invoked: list[int] = []

    def invoke(event: dict[str, Any]) -> Any:
        invoked.append(len(event["Records"]))
        return worker.handler(event, FakeLambdaContext())

    poller = SqsPoller(
        lark_env.events_queue_url, invoke, client=boto3.client("sqs"), wait_seconds=1, stop=stop
    )
    threads = [threading.Thread(target=scheduler.run), threading.Thread(target=poller.run)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while scheduler.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)
    assert scheduler.runs >= 2
    assert len(sandbox.calls("/open-apis/auth/v3/tenant_access_token/internal")) == scheduler.runs
    assert invoked == []  # an empty queue invokes nothing, as the event source mapping does


def test_store_app_tickets_are_pushed_every_hour_of_the_sandbox_clock(receiver: _Receiver) -> None:
    state = SandboxState([SandboxApp("cli_store", "s", "marketplace")])
    first = state.current_ticket("cli_store")
    with SandboxServer(
        state, push_url=receiver.url, verification_token="vt", ticket_check_interval=0.05
    ) as server:
        control = SandboxControl(server.url)
        assert not receiver.arrived.wait(0.5)  # within the hour: nothing
        control.advance_clock(3600)
        assert receiver.arrived.wait(10)
        control.close()
    _, raw = receiver.received[0]
    pushed = json.loads(raw)["event"]["app_ticket"]
    assert pushed == state.current_ticket("cli_store")
    assert pushed != first
