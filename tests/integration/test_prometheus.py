"""The whole chain on real servers: the real functions → EMF → receiver → Prometheus → every panel and rule.

Prometheus runs with the project's own configuration, rules and alerts, changed only where a test
must: loopback ports, a temporary data directory and one-second intervals. The webhook, worker
and token refresh run in the local runner against moto's server and the Lark sandbox
(``function_workload``); every EMF line they print travels to the receiver over TCP, as it would
to the CloudWatch agent. No metric is emitted by the test itself: each catalog metric comes from
a function reacting to real traffic, faults and failures.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from lark_service.exporter.receiver import Receiver
from lark_service.exporter.sources import Sources, wait_until
from lark_service.local.aws import Stack, free_port, stop_process, wait_for_http
from lark_service.metrics.catalog import BY_EMF_NAME, CATALOG, DEAD_LETTER_QUEUE_REGEX
from lark_service.render.dashboard import panel_queries
from lark_service.render.rules import (
    API_ERROR_RATIO,
    DLQ_DEPTH,
    WEBHOOK_ERROR_RATIO,
    WORKER_ERROR_RATIO,
    percentile_series,
    rate_series,
)
from tests.conftest import ROOT
from tests.integration.function_workload import (
    POISON_ROUNDS,
    REDRIVE_LIMIT,
    FunctionsWorkload,
    reply_path,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]  # DEADLINE_SECONDS plus set-up

MONITORING = ROOT / "monitoring" / "prometheus"
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "lark-service.json"
DEADLINE_SECONDS = 240.0
"""About 15 s on an idle machine; a busy 2-core runner may take several times that."""
DLQ = f'{DLQ_DEPTH}{{queue_name=~"{DEAD_LETTER_QUEUE_REGEX}"}}'


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
        stop_process(proc, timeout=10)


@pytest.fixture
def receiver_http(emf_receiver: tuple[Receiver, Sources]) -> int:
    return emf_receiver[0].start_http(0)


@pytest.fixture
def workload(stack: Stack, emf_receiver: tuple[Receiver, Sources]) -> Iterator[FunctionsWorkload]:
    """The real functions' EMF, sent line by line to the receiver's TCP port like the CloudWatch agent's."""
    port = emf_receiver[1].listen_tcp("127.0.0.1", 0)
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    lock = threading.Lock()

    def forward(line: str) -> None:
        with lock:  # every function's output reader calls this
            conn.sendall(line.encode("utf-8") + b"\n")

    run = FunctionsWorkload(stack, forward)
    try:
        run.start()
        yield run
    finally:
        run.stop()
        conn.close()
    assert not run.errors, run.errors


def query(url: str, expr: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def has_data(result: list[dict[str, Any]]) -> bool:
    return bool(result) and all(math.isfinite(float(item["value"][1])) for item in result)


def value(result: list[dict[str, Any]]) -> float | None:
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_every_panel_query_and_recording_rule_returns_data(
    emf_receiver: tuple[Receiver, Sources], prometheus: str, workload: FunctionsWorkload
) -> None:
    stack = workload.stack
    emf_receiver[1].watch_queue(stack.dead_letter_queue_url, interval=0.5)
    emf_receiver[1].watch_queue(stack.events_queue_url, interval=0.5)

    recording = yaml.safe_load((MONITORING / "rules" / "recording.yml").read_text())
    records = [rule["record"] for group in recording["groups"] for rule in group["rules"]]
    panels = panel_queries(DASHBOARD.read_text())
    pending: dict[str, Callable[[], bool]] = {
        f"panel {title!r} query {ref}": partial(lambda e: has_data(query(prometheus, e)), expr)
        for title, ref, expr in panels
    }
    pending.update(
        {f"recording rule {r}": partial(lambda e: has_data(query(prometheus, e)), r) for r in records}
    )
    assert len(pending) >= 40
    poisons = len(POISON_ROUNDS)

    def dlq_depth() -> bool:
        return value(query(prometheus, DLQ)) == poisons

    def ratio(expr: str) -> bool:
        found = value(query(prometheus, expr))
        return found is not None and 0 < found < 1

    def replies() -> bool:
        answered = {m["parent_id"] for m in workload.lark.messages()}
        due = {f"om_{event_id[:16]}" for round_, event_id in workload.messages if round_ < 3}
        return workload.rounds >= 3 and due <= answered

    pending.update(
        {
            f"the DLQ holding the {poisons} poison messages": dlq_depth,
            "an API error ratio between 0 and 1": partial(ratio, API_ERROR_RATIO),
            "a webhook error ratio between 0 and 1": partial(ratio, WEBHOOK_ERROR_RATIO),
            "a worker error ratio between 0 and 1": partial(ratio, WORKER_ERROR_RATIO),
            "the demo bot's replies to the first rounds' messages": replies,
        }
    )

    started = time.monotonic()

    def all_there() -> bool:
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        return not pending or bool(workload.errors)

    wait_until(all_there, DEADLINE_SECONDS, interval=0.5)
    elapsed = time.monotonic() - started
    assert not workload.errors, workload.errors
    assert not pending, f"not there after {elapsed:.0f}s ({workload.rounds} rounds): " + "; ".join(
        sorted(pending)
    )
    print(f"every panel and recorded series had data after {elapsed:.1f}s and {workload.rounds} rounds")

    # Every catalog metric came from a real function's output, none from the test.
    assert workload.emf_names == {spec.emf_name for spec in CATALOG}
    assert all("You said: hello" in m["body"]["content"] for m in workload.lark.messages())
    for event_id in workload.poison_ids:  # one failed reply per receive, then the DLQ
        attempts = workload.lark.requests(reply_path(event_id))
        assert [r["status"] for r in attempts if r["status"] != 429] == [500] * REDRIVE_LIMIT
    dead = boto3.client("sqs").receive_message(
        QueueUrl=stack.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
    )["Messages"]
    assert sorted(json.loads(m["Body"])["event_id"] for m in dead) == sorted(workload.poison_ids)
    routes = {
        item["metric"]["route"]
        for item in query(prometheus, percentile_series(BY_EMF_NAME["WebhookAckDuration"], 0.99))
    }
    assert routes >= {"challenge", "event", "duplicate", "card", "rejected", "error", "health"}
    cold = query(prometheus, rate_series(BY_EMF_NAME["ColdStart"]))
    assert {item["metric"]["function_name"] for item in cold} == {"webhook", "worker", "token_refresh"}
    reasons = query(prometheus, rate_series(BY_EMF_NAME["WebhookRequestsRejected"]))
    assert {item["metric"]["reason"] for item in reasons} >= {"bad_signature", "bad_token", "stale"}

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
