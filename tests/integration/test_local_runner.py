"""The local runner's containers, ``invoke`` and ``dev``, over real processes and sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from lark_service.devtools.local.aws import free_port, wait_for_http
from lark_service.devtools.local.runner import FunctionError, FunctionTimeout, OutputLine, Runner
from tests.conftest import EVENTS, ROOT

pytestmark = pytest.mark.integration

DEADLINE = 120.0
"""Seconds for anything a busy two-core runner may be slow at (starting ``dev``, a first reply).
Waits poll for the event they need and return as soon as it happens, so a long deadline costs
nothing when the machine is idle."""

CLI = [sys.executable, "-m", "lark_service.devtools.cli"]

ECHO_APP = """
import json, sys, time
COUNT = 0
print("init done")

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print(json.dumps({"_aws": {"CloudWatchMetrics": []}, "n": COUNT}))
    print("to stderr", file=sys.stderr)
    return {"count": COUNT, "event": event, "request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "functions" / "echo").mkdir(parents=True)
    (tmp_path / "functions" / "echo" / "app.py").write_text(textwrap.dedent(ECHO_APP))
    (tmp_path / "functions" / "broken").mkdir()
    (tmp_path / "functions" / "broken" / "app.py").write_text("raise RuntimeError('bad config: X_VAR')\n")
    return tmp_path


def test_containers_stay_warm_and_hand_every_line_to_the_hooks(project: Path) -> None:
    lines: list[OutputLine] = []
    with Runner(dict(os.environ), root=project, hooks=[lines.append]) as runner:
        first = runner.invoke("echo", {"a": 1})
        second = runner.invoke("echo", {"a": 2})
        assert (first["count"], second["count"]) == (1, 2)  # one import, two invocations
        assert first["event"] == {"a": 1}
        assert first["request_id"] != second["request_id"]
        assert 0 < first["remaining"] <= 30_000
        # Output is complete when invoke returns: both EMF lines and both stderr lines are in.
        emf = [line for line in lines if '"_aws"' in line.text]
        assert [json.loads(line.text)["n"] for line in emf] == [1, 2]
        assert {line.function for line in lines} == {"echo"}
        assert [line.text for line in lines if line.stream == "stderr"] == ["to stderr", "to stderr"]
        assert lines[0].text == "init done"


def test_handler_errors_and_init_errors_are_lambda_error_documents(project: Path) -> None:
    lines: list[OutputLine] = []
    with Runner(dict(os.environ), root=project, hooks=[lines.append]) as runner:
        with pytest.raises(FunctionError) as info:
            runner.invoke("echo", {"fail": True})
        assert info.value.error["errorType"] == "ValueError"
        assert runner.invoke("echo", {})["count"] == 2  # the container survived its handler's error
        with pytest.raises(FunctionError, match="bad config: X_VAR"):
            runner.invoke("broken", {})
    assert any("Traceback" in line.text for line in lines if line.function == "broken")


def test_timeout_kills_the_container_and_the_next_invoke_is_cold(project: Path) -> None:
    with Runner(dict(os.environ), root=project) as runner:
        assert runner.invoke("echo", {})["count"] == 1
        started = time.monotonic()
        with pytest.raises(FunctionTimeout):
            runner.invoke("echo", {"sleep": 30}, timeout=0.5)
        assert time.monotonic() - started < 20  # far below the handler's 30 s sleep
        assert runner.invoke("echo", {})["count"] == 1


def test_concurrent_invokes_are_serialised_per_container(project: Path) -> None:
    results: list[int] = []
    with Runner(dict(os.environ), root=project) as runner:
        runner.start("echo")
        threads = [
            threading.Thread(target=lambda: results.append(runner.invoke("echo", {})["count"]))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    assert sorted(results) == [1, 2, 3, 4, 5, 6]


def test_invoke_command_prints_output_then_the_result() -> None:
    out = subprocess.run(
        [
            *CLI,
            "invoke",
            "webhook",
            "--event",
            str(EVENTS / "event_v2_message.json"),
            "--env-vars",
            str(EVENTS / "env.json"),
            "--local-aws",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert (result["statusCode"], json.loads(result["body"])) == (200, {"msg": "success"})
    emf = [json.loads(line) for line in lines[:-1] if '"_aws"' in line]
    assert {"ColdStart", "WebhookEventsReceived", "WebhookAckDuration"} <= {k for doc in emf for k in doc}


def test_invoke_command_reports_configuration_errors() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
    # The resources are named (else `invoke` asks for --local-aws first): the function's own check speaks.
    env |= {"IDEMPOTENCY_TABLE": "idempotency", "EVENTS_QUEUE_URL": "http://127.0.0.1:9/000000000000/q"}
    out = subprocess.run(
        [*CLI, "invoke", "webhook", "--event", str(EVENTS / "health.json")],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert out.returncode == 1
    assert json.loads(out.stdout.strip().splitlines()[-1])["errorMessage"].startswith(
        "LARK_VERIFICATION_TOKEN"
    )


def _send(url: str, *args: str) -> tuple[int, dict[str, object]]:
    out = subprocess.run(
        [*CLI, "send-event", *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=ROOT,
        check=False,
    )
    status, body = out.stdout.strip().splitlines()
    return int(status), json.loads(body)


def _start_dev(port: int, *flags: str) -> subprocess.Popen[str]:
    """`lark-service dev` as a user starts it: no Lark credentials, no AWS endpoint, its own group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LARK_", "AWS_ENDPOINT"))}
    return subprocess.Popen(
        [*CLI, "dev", "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


@pytest.mark.timeout(4 * DEADLINE)
def test_dev_serves_the_webhook_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    proc = _start_dev(port, "--no-plugins", "--show-emf")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout=DEADLINE)
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        status, body = _send(f"{url}/lark/events", "url_verification")
        assert status == 200
        assert str(body["challenge"]).startswith("challenge-")
        assert _send(f"{url}/lark/events", "message", "--event-id", "dev-1") == (200, {"msg": "success"})
        assert _send(f"{url}/lark/events", "message", "--event-id", "dev-1") == (200, {"msg": "success"})
        assert _send(f"{url}/lark/events", "message", "--verification-token", "wrong")[0] == 401
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, output
    assert "encrypt key         local-encrypt-key" in output
    assert "[webhook] " in output
    assert "WebhookDuplicates" in output
    assert "Traceback" not in output
    moto = next(line.split()[-1] for line in output.splitlines() if "local AWS (moto)" in line)
    with pytest.raises(OSError, match=r"refused|reset|timed out"):
        urllib.request.urlopen(f"{moto}/moto-api/", timeout=2)


def _url_after(output: list[str], marker: str, timeout: float = DEADLINE) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(output):
            if marker in line:
                return next(word for word in line.split() if word.startswith("http://"))
        time.sleep(0.1)
    raise AssertionError(f"{marker!r} never printed: {''.join(output)}")


def _poll(condition: Callable[[], bool], what: str, output: list[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE}s: {''.join(output)}")
        time.sleep(0.2)


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _queue_drained(endpoint: str, queue_url: str) -> bool:
    """Nothing waiting and nothing in flight: the worker has finished with every queued event."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint)
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


def _exposition(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


@pytest.mark.timeout(4 * DEADLINE)
def test_dev_replies_once_to_a_message_delivered_twice() -> None:
    """The whole loop of `make dev`: webhook → queue → worker → Lark (the sandbox), metrics on /metrics."""
    port = free_port()
    proc = _start_dev(port)
    assert proc.stdout is not None
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        sandbox = _url_after(output, "[sandbox] Lark sandbox on")
        metrics = _url_after(output, "[metrics] Prometheus metrics on")
        webhook = f"http://127.0.0.1:{port}/lark/events"
        moto = _url_after(output, "local AWS (moto)")
        queue_url = _url_after(output, "events queue")
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=DEADLINE)
        for _ in range(2):  # Lark's retry of the same delivery
            assert _send(webhook, "message", "--event-id", "dev-loop-1") == (200, {"msg": "success"})
        processed = 'lark_service_worker_events_processed_total{event_type="im.message.receive_v1"} 1.0'
        # No fixed pause for a second, wrong reply: wait until the worker has processed the event
        # and the queue holds nothing, waiting or in flight, that could still produce one.
        _poll(lambda: processed in _exposition(metrics), "the worker processing the event", output)
        _poll(lambda: _queue_drained(moto, queue_url), "the events queue draining", output)
        messages = _get_json(f"{sandbox}/_sandbox/messages")
        assert isinstance(messages, list)
        assert len(messages) == 1, messages
        assert "You said: hello" in messages[0]["body"]["content"]
        exposition = _exposition(metrics)
        assert (
            'lark_service_worker_events_processed_total{event_type="im.message.receive_v1"} 1.0' in exposition
        )
        assert 'lark_service_webhook_duplicates_total{event_type="im.message.receive_v1"} 1.0' in exposition
        assert 'lark_service_token_refresh_success_total{token_type="tenant_access_token"} 1.0' in exposition
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=DEADLINE)
        reader.join(timeout=DEADLINE)
    assert proc.returncode == 0, "".join(output)
    assert "Traceback" not in "".join(output)
