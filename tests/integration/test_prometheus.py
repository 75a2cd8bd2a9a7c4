"""The whole chain on real servers: EMF → receiver → the real Prometheus → every panel and rule.

Prometheus runs with the project's own configuration, rules and alerts, changed only where a test
must: loopback ports, a temporary data directory and one-second intervals. The workload emits
through the same ``emit`` the functions call, and its output travels to the receiver over TCP as
it would to the CloudWatch agent.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from lark_service.exporter.receiver import Receiver
from lark_service.exporter.sources import Sources
from lark_service.local.aws import Stack, free_port, wait_for_http
from lark_service.render.dashboard import panel_queries
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

MONITORING = ROOT / "monitoring" / "prometheus"
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "lark-service.json"
DEADLINE_SECONDS = 50.0
DLQ_MESSAGES = 2


def prometheus_config(tmp: Path, prometheus_port: int, receiver_port: int) -> Path:
    """The project's prometheus.yml with loopback targets and one-second intervals."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    config["rule_files"] = [str(MONITORING / path) for path in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "emf-receiver", "cloudwatch"}
    jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{prometheus_port}"]}]
    jobs["emf-receiver"]["static_configs"] = [{"targets": [f"127.0.0.1:{receiver_port}"]}]
    # The CloudWatch exporter needs AWS; its half of the rules is covered by `promtool test rules`.
    config["scrape_configs"] = [jobs["prometheus"], jobs["emf-receiver"]]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus(tmp_path: Path, receiver_http: int) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "the Prometheus server is needed: install the 'prometheus' package (make tools)"
    port = free_port()
    config = prometheus_config(tmp_path, port, receiver_http)
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready", timeout=30)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, Sources]]:
    receiver = Receiver()
    sources = Sources(receiver)
    try:
        yield receiver, sources
    finally:
        sources.close()
        receiver.stop()


@pytest.fixture
def receiver_http(receiver: tuple[Receiver, Sources]) -> int:
    return receiver[0].start_http(0)


@pytest.fixture
def workload(receiver: tuple[Receiver, Sources]) -> Iterator[None]:
    """The functions' EMF, piped line by line into the receiver's TCP port like the CloudWatch agent's."""
    port = receiver[1].listen_tcp("127.0.0.1", 0)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "integration" / "emf_workload.py"),
            "--rounds",
            "400",
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    def forward() -> None:
        assert proc.stdout
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            for line in proc.stdout:
                conn.sendall(line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        thread.join(timeout=10)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def has_data(result: list[dict[str, Any]]) -> bool:
    return bool(result) and all(math.isfinite(float(item["value"][1])) for item in result)


def test_every_panel_query_and_recording_rule_returns_data(
    stack: Stack, receiver: tuple[Receiver, Sources], prometheus: str, workload: None
) -> None:
    sqs = boto3.client("sqs")
    for index in range(DLQ_MESSAGES):
        sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=json.dumps({"poison": index}))
    receiver[1].watch_queue(stack.dead_letter_queue_url, interval=0.5)
    receiver[1].watch_queue(stack.events_queue_url, interval=0.5)

    recording = yaml.safe_load((MONITORING / "rules" / "recording.yml").read_text())
    records = [rule["record"] for group in recording["groups"] for rule in group["rules"]]
    panels = panel_queries(DASHBOARD.read_text())
    pending: dict[str, str] = {expr: f"panel {title!r} query {ref}" for title, ref, expr in panels}
    pending.update({record: f"recording rule {record}" for record in records})
    assert len(pending) >= 40

    started = time.monotonic()
    while pending and time.monotonic() - started < DEADLINE_SECONDS:
        for expr in list(pending):
            if has_data(query(prometheus, expr)):
                del pending[expr]
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert not pending, f"no data after {elapsed:.0f}s for: " + "; ".join(sorted(pending.values()))
    print(f"every panel and recorded series had data after {elapsed:.1f}s")

    dlq = query(prometheus, 'lark_service:sqs_messages_visible{queue_name=~".*-dlq"}')
    assert [float(item["value"][1]) for item in dlq] == [DLQ_MESSAGES]
    ratio = float(query(prometheus, "lark_service:api_error_ratio:rate5m")[0]["value"][1])
    assert 0 < ratio < 0.5
    p99 = query(prometheus, "lark_service:webhook_ack_duration_seconds:p99")
    assert 0.05 < float(p99[0]["value"][1]) < 1.0

    with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=5) as response:
        groups = json.load(response)["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["type"] for rule in rules} == {"recording", "alerting"}
    broken = [
        (rule["name"], rule.get("lastError")) for rule in rules if rule["health"] not in ("ok", "unknown")
    ]
    assert not broken
    active = {rule["name"] for rule in rules if rule["type"] == "alerting" and rule["state"] != "inactive"}
    assert "LarkDeadLetterQueueNotEmpty" in active
