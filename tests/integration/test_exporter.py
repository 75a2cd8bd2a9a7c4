"""The receiver over real sockets and pipes: TCP and UDP as the CloudWatch agent, stdin, files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from lark_service.exporter.receiver import Receiver
from lark_service.exporter.sources import Sources, wait_until
from lark_service.local.aws import free_port, wait_for_http
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

VALID = (
    '{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"LarkService",'
    '"Dimensions":[["reason"]],"Metrics":[{"Name":"WebhookRequestsRejected","Unit":"Count"}]}]},'
    '"reason":"bad_signature","WebhookRequestsRejected":1}'
)
REJECTED = "lark_service_webhook_requests_rejected_total"


def sample(receiver: Receiver, name: str, **labels: str) -> float:
    return receiver.registry.get_sample_value(name, labels) or 0.0


def test_aws_embedded_metrics_in_agent_mode_over_tcp(emf_receiver: tuple[Receiver, Sources]) -> None:
    """An independent EMF implementation, talking to us as it would to the CloudWatch agent."""
    receiver, sources = emf_receiver
    port = sources.listen_tcp("127.0.0.1", 0)
    producer = textwrap.dedent(
        """
        from aws_embedded_metrics import metric_scope

        @metric_scope
        def handler(metrics):
            metrics.set_namespace("LarkService")
            metrics.put_dimensions({"method": "POST", "endpoint": "/open-apis/im/v1/messages", "status": "200"})
            metrics.put_metric("ApiRequests", 1, "Count")
            metrics.put_metric("ApiRequests", 2, "Count")
            metrics.set_property("RequestId", "not-a-dimension")

        @metric_scope
        def timed(metrics):
            metrics.set_namespace("LarkService")
            metrics.put_dimensions({"method": "POST", "endpoint": "/open-apis/im/v1/messages"})
            metrics.put_metric("ApiRequestDuration", 120, "Milliseconds")

        @metric_scope
        def tokens(metrics):
            metrics.set_namespace("LarkService")
            metrics.put_dimensions({"token_type": "tenant"})
            metrics.put_metric("TokenSecondsToExpiry", 6900, "Seconds")

        for _ in range(5):
            handler()
        timed()
        tokens()
        """
    )
    env = {
        **os.environ,
        "AWS_EMF_ENVIRONMENT": "Default",
        "AWS_EMF_AGENT_ENDPOINT": f"tcp://127.0.0.1:{port}",
        "AWS_EMF_SERVICE_NAME": "lark-service-tests",
    }
    subprocess.run([sys.executable, "-c", producer], env=env, check=True, timeout=60)
    labels = {"method": "POST", "endpoint": "/open-apis/im/v1/messages"}
    assert wait_until(
        lambda: sample(receiver, "lark_service_token_seconds_to_expiry", token_type="tenant") > 0, 10
    )
    assert sample(receiver, "lark_service_api_requests_total", status="200", **labels) == 15
    assert sample(receiver, "lark_service_api_request_duration_seconds_sum", **labels) == pytest.approx(0.12)
    assert sample(receiver, "lark_service_token_seconds_to_expiry", token_type="tenant") == 6900
    assert sample(receiver, "emf_receiver_documents_total", outcome="invalid") == 0


def test_tcp_survives_garbage_and_oversized_lines(emf_receiver: tuple[Receiver, Sources]) -> None:
    receiver, sources = emf_receiver
    port = sources.listen_tcp("127.0.0.1", 0)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"not json at all\n")
        conn.sendall(b'{"_aws": {"Timestamp": "yesterday"}}\n')
        conn.sendall(b"x" * (1024 * 1024 + 10) + b"\n")
        conn.sendall(VALID.encode() + b"\n" + VALID.encode())  # the last line ends with the connection
    assert wait_until(lambda: sample(receiver, REJECTED, reason="bad_signature") == 2, 10)
    assert sample(receiver, "emf_receiver_invalid_documents_total", reason="bad_timestamp") == 1
    assert sample(receiver, "emf_receiver_invalid_documents_total", reason="oversized_line") == 1
    assert sample(receiver, "emf_receiver_ignored_lines_total") == 1


def test_udp_datagrams_may_hold_several_lines(emf_receiver: tuple[Receiver, Sources]) -> None:
    receiver, sources = emf_receiver
    port = sources.listen_udp("127.0.0.1", 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(f"{VALID}\n{VALID}\n".encode(), ("127.0.0.1", port))
        sock.sendto(b"\xff\xfe", ("127.0.0.1", port))
    assert wait_until(lambda: sample(receiver, REJECTED, reason="bad_signature") == 2, 10)


def test_a_followed_file_picks_up_appended_lines_and_truncation(
    emf_receiver: tuple[Receiver, Sources], tmp_path: Path
) -> None:
    receiver, sources = emf_receiver
    polls = [0]
    wait = sources.stopping.wait

    def counted_wait(timeout: float | None = None) -> bool:  # one call per pass of the follower
        polls[0] += 1
        return wait(timeout)

    sources.stopping.wait = counted_wait  # type: ignore[method-assign]
    log = tmp_path / "function.log"
    log.write_text(f"START RequestId: 1\n{VALID}\n")
    sources.read_file(log, follow=True, poll=0.05)
    assert wait_until(lambda: sample(receiver, REJECTED, reason="bad_signature") == 1, 10)
    with log.open("a") as handle:
        handle.write(VALID[:40])
        handle.flush()
        seen = polls[0]
        assert wait_until(lambda: polls[0] >= seen + 2, 10)  # a whole pass since: the half line is read
        assert sample(receiver, REJECTED, reason="bad_signature") == 1  # and kept it back
        handle.write(VALID[40:] + "\n")
    assert wait_until(lambda: sample(receiver, REJECTED, reason="bad_signature") == 2, 10)
    log.write_text(f"{VALID}\n")  # rotated: shorter than before
    assert wait_until(lambda: sample(receiver, REJECTED, reason="bad_signature") == 3, 10)


def test_the_command_reads_stdin_serves_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``sam local invoke ... 2>&1 | lark-service exporter --stdin``, end to end, as a process."""
    metrics_port, emf_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lark_service.cli",
            "exporter",
            "--stdin",
            "--no-udp",
            "--port",
            str(emf_port),
            "--metrics-port",
            str(metrics_port),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdin
        proc.stdin.write(f'{{"level":"INFO"}}\n{VALID}\n{{"_aws": 1}}\n')
        proc.stdin.close()
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for_http(url)

        def scraped() -> str:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: str = response.read().decode()
                return body

        assert wait_until(lambda: f'{REJECTED}{{reason="bad_signature"}} 1.0' in scraped(), 10)
        assert 'emf_receiver_invalid_documents_total{reason="bad_metadata"} 1.0' in scraped()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.stderr
    assert "bad_metadata" in proc.stderr.read()


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lark_service.cli", "exporter", "--metrics-port", str(port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
