"""An alert's whole way into Lark, on real servers, and its card updated when it resolves.

The sandbox rate-limits the demo bot's replies; the real worker (local runner) meets the 429s and
reports them as EMF; the receiver turns them into counters; the real Prometheus evaluates the
project's recording and alert rules and fires ``LarkRateLimited``; the real Alertmanager
(``prometheus-alertmanager``) groups it and calls the webhook that ``make dev`` serves; the real
alert notifier posts the card into the sandbox chat. When the fault clears, the alert resolves
and the same card is patched: one card, updated, never a second.

Configuration is the committed one, changed only where a test must: loopback ports, temporary
directories, one-second intervals, and the rules' durations divided by ``TIME_SCALE`` (every
range selector and every ``for:``), so five minutes of production time pass in five seconds
with the expressions themselves untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lark_service.exporter.receiver import Receiver
from lark_service.exporter.sources import Sources
from lark_service.local.aws import Stack, free_port, stop_process, wait_for_http
from lark_service.local.dev import LocalApp, function_environment
from lark_service.local.dev_plugins import p50_alerts
from lark_service.local.runner import FunctionError, OutputLine, Runner
from lark_service.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState
from tests.conftest import EVENTS, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
ALERTMANAGER_CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
TIME_SCALE = 60
MIN_RANGE_SECONDS = 3
"""A range selector needs a few one-second scrapes to give rate() two samples."""
ALERT = "LarkRateLimited"
REPLY_PATHS = "/open-apis/im/v1/messages/*/reply"
CHAT = "oc_alerts_integration"
DEADLINE_SECONDS = 150.0
"""Per phase; a quiet machine needs about 20 s to fire and 10 s to resolve."""

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_RANGE = re.compile(r"\[(?P<range>[0-9a-z]+)(?P<step>:[0-9a-z]*)?\]")
_OFFSET = re.compile(r"\boffset\s+(?P<d>[0-9a-z]+)")


def seconds(duration: str) -> float:
    """A Prometheus duration such as ``1h30m``; ``ValueError`` for anything else."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def scaled(duration: str, minimum: float = 0) -> str:
    return f"{max(minimum, round(seconds(duration) / TIME_SCALE))}s"


def compress_rules(text: str) -> str:
    """The rule file with every duration divided by TIME_SCALE; expressions otherwise unchanged."""

    def in_expr(expr: str) -> str:
        expr = _RANGE.sub(
            lambda m: (
                f"[{scaled(m['range'], MIN_RANGE_SECONDS)}"
                + (f":{scaled(m['step'][1:], 1)}" if m["step"] and len(m["step"]) > 1 else m["step"] or "")
                + "]"
            ),
            expr,
        )
        return _OFFSET.sub(lambda m: f"offset {scaled(m['d'])}", expr)

    doc = yaml.safe_load(text)
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["expr"] = in_expr(str(rule["expr"]))
            if "for" in rule:
                rule["for"] = scaled(str(rule["for"]))
    return str(yaml.safe_dump(doc, sort_keys=False))


def test_compress_rules_scales_ranges_subqueries_offsets_and_for() -> None:
    text = yaml.safe_dump(
        {
            "groups": [
                {
                    "name": "g",
                    "rules": [
                        {
                            "alert": "A",
                            "expr": "max_over_time(x:rate5m[30m:1m]) > rate(y[5m] offset 1h) or z[1m]",
                            "for": "10m",
                        }
                    ],
                }
            ]
        }
    )
    rule = yaml.safe_load(compress_rules(text))["groups"][0]["rules"][0]
    assert rule["expr"] == "max_over_time(x:rate5m[30s:1s]) > rate(y[5s] offset 60s) or z[3s]"
    assert rule["for"] == "10s"
    assert seconds("1h30m") == 5400
    with pytest.raises(ValueError, match="duration"):
        seconds("5 minutes")


# --- the servers -----------------------------------------------------------------------------
def start_server(binary_name: str, args: list[str], ready_url: str, log: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which(binary_name)
    assert binary, f"{binary_name} is needed: `make tools` installs it (Debian packages)"
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for_http(ready_url, timeout=60)
    except BaseException:
        stop_process(proc)
        raise
    return proc


@pytest.fixture
def lark() -> Iterator[tuple[SandboxServer, SandboxControl]]:
    from lark_service.local.samples import LOCAL_APP_ID, LOCAL_APP_SECRET

    state = SandboxState([SandboxApp(LOCAL_APP_ID, LOCAL_APP_SECRET)], chats=(CHAT,))
    server = SandboxServer(state).start()
    control = SandboxControl(server.url)
    try:
        yield server, control
    finally:
        control.close()
        server.stop()


@pytest.fixture
def functions(
    stack: Stack, lark: tuple[SandboxServer, SandboxControl], emf_receiver: tuple[Receiver, Sources]
) -> Iterator[tuple[LocalApp, list[str]]]:
    """The worker and the alert notifier in the local runner, their EMF fed to the receiver."""
    receiver = emf_receiver[0]
    errors: list[str] = []

    def hook(line: OutputLine) -> None:
        if '"_aws"' in line.text:
            receiver.feed_line(line.text)
        elif line.function == "alert_notifier" and (
            '"level":"ERROR"' in line.text or "Traceback" in line.text
        ):
            errors.append(f"{line.function}: {line.text[:300]}")

    env = function_environment(stack)
    env.update(
        LARK_BASE_URL=lark[0].url,
        LARK_ALERT_CHAT_ID=CHAT,
        LARK_HTTP_TIMEOUT_SECONDS="2",
        LARK_RATE_LIMIT_MAX_WAIT_SECONDS="0.5",  # a 1 s reset is not waited out: the event fails
    )
    runner = Runner(env, hooks=[hook])
    app = LocalApp(runner, stack)
    try:
        for name in ("worker", "alert_notifier"):  # cold starts before any clock runs
            runner.start(name)
        yield app, errors
    finally:
        app.stopping.set()
        runner.stop()


@pytest.fixture
def notifier_url(functions: tuple[LocalApp, list[str]]) -> Iterator[str]:
    """The notifier's webhook exactly as ``make dev`` serves it (its dev plug-in)."""
    url, stop = p50_alerts.serve(functions[0], "127.0.0.1", 0)
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def alertmanager(tmp_path: Path, notifier_url: str) -> Iterator[str]:
    """The real Alertmanager on the committed configuration, with one-second grouping."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    (receiver,) = [r for r in config["receivers"] if r["name"] == config["route"]["receiver"]]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["send_resolved"] is True
    webhook["url"] = notifier_url
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(
        "prometheus-alertmanager",
        [
            f"--config.file={path}",
            f"--storage.path={tmp_path / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a single instance
            "--log.level=warn",
        ],
        f"{url}/-/ready",
        tmp_path / "alertmanager.log",
    )
    try:
        yield url
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture
def prometheus(tmp_path: Path, alertmanager: str, emf_receiver: tuple[Receiver, Sources]) -> Iterator[str]:
    """The real Prometheus: the committed config and rules, time-compressed, alerting to the test's Alertmanager."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    rule_files = []
    for name in config["rule_files"]:
        copy = tmp_path / Path(name).name
        copy.write_text(compress_rules((PROMETHEUS_DIR / name).read_text()))
        rule_files.append(str(copy))
    config["rule_files"] = rule_files
    (jobs,) = [j for j in config["scrape_configs"] if j["job_name"] == "emf-receiver"]
    jobs["static_configs"] = [{"targets": [f"127.0.0.1:{emf_receiver[0].start_http(0)}"]}]
    config["scrape_configs"] = [jobs]
    (alerting,) = config["alerting"]["alertmanagers"]  # the committed block, pointed at the test's
    alerting["static_configs"] = [{"targets": [alertmanager.removeprefix("http://")]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(
        "prometheus",
        [
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        f"{url}/-/ready",
        tmp_path / "prometheus.log",
    )
    try:
        yield url
    finally:
        stop_process(proc, timeout=10)


# --- the fault -------------------------------------------------------------------------------
def sqs_message_event() -> dict[str, Any]:
    """The worker's SQS fixture with a fresh event and message id, so each is a new message."""
    event: dict[str, Any] = json.loads((EVENTS / "worker_sqs_message.json").read_text())
    record = event["Records"][0]
    envelope = json.loads(record["body"])
    event_id = uuid.uuid4().hex
    envelope["event_id"] = envelope["body"]["header"]["event_id"] = event_id
    envelope["body"]["event"]["message"]["message_id"] = f"om_{event_id[:24]}"
    record["body"] = json.dumps(envelope)
    record["messageId"] = str(uuid.uuid4())
    return event


class Traffic:
    """Messages for the demo bot, one after another, until stopped."""

    def __init__(self, app: LocalApp) -> None:
        self.app = app
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-traffic", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=40)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.app.runner.invoke("worker", sqs_message_event())
                self.sent += 1
            except FunctionError as exc:
                self.errors.append(str(exc))
                return
            self._stop.wait(0.3)


def wait_for(what: str, check: Callable[[], Any], deadline: float = DEADLINE_SECONDS) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not seen within {deadline:.0f}s")


def cards_for(control: SandboxControl, alert: str) -> list[dict[str, Any]]:
    cards = []
    for message in control.messages():
        if message["chat_id"] != CHAT or message["msg_type"] != "interactive":
            continue
        card = json.loads(message["body"]["content"])
        if card["header"]["title"]["content"].endswith(f"] {alert}"):
            cards.append({**message, "card": card})
    return cards


def test_rate_limit_alert_reaches_the_chat_and_its_card_resolves(
    functions: tuple[LocalApp, list[str]],
    lark: tuple[SandboxServer, SandboxControl],
    notifier_url: str,
    prometheus: str,
) -> None:
    app, function_errors = functions
    control = lark[1]
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]

    # Malformed payloads are refused over HTTP with a reason, before any alert flows.
    refused = httpx.post(notifier_url, content=b'{"version": "3"}', timeout=10)
    assert refused.status_code == 400
    assert "version" in refused.json()["msg"]

    started = time.monotonic()
    control.add_fault(REPLY_PATHS, "rate_limit", None, reset=1)
    with Traffic(app) as traffic:
        (firing,) = wait_for(
            f"a firing {ALERT} card in {CHAT}",
            lambda: [c for c in cards_for(control, ALERT) if c["card"]["header"]["template"] != "green"],
        )
        fired = time.monotonic() - started
        control.clear_faults()
    assert not traffic.errors, traffic.errors
    assert traffic.sent > 0
    rate_limited = [r for r in control.requests() if r["fault"] == "rate_limit"]
    assert rate_limited, "the sandbox never rate-limited a reply"

    card = firing["card"]
    texts = json.dumps(card, ensure_ascii=False)
    assert card["header"]["title"]["content"] == f"[FIRING] {ALERT}"
    assert card["header"]["template"] == {"warning": "orange", "critical": "red"}[rule["labels"]["severity"]]
    assert card["config"]["update_multi"] is True
    assert rule["annotations"]["summary"] in texts
    assert rule["annotations"]["description"] in texts
    assert "endpoint=/open-apis/im/v1/messages/:message_id/reply" in texts  # the alert's label
    assert "Started: " in texts

    message_id = firing["message_id"]
    cleared = time.monotonic()

    def resolved() -> bool:
        cards = cards_for(control, ALERT)
        return any(
            c["message_id"] == message_id and c["card"]["header"]["template"] == "green" for c in cards
        )

    wait_for(f"the {ALERT} card resolved", resolved)
    resolved_after = time.monotonic() - cleared

    (card_record,) = cards_for(control, ALERT)  # one card for the group, never a second
    assert card_record["message_id"] == message_id
    assert card_record["card"]["header"]["title"]["content"] == f"[RESOLVED] {ALERT}"
    assert card_record["update_count"] >= 1
    assert json.loads(card_record["history"][0])["header"]["title"]["content"] == f"[FIRING] {ALERT}"
    patches = [r for r in control.requests() if r["method"] == "PATCH" and r["path"].endswith(message_id)]
    assert patches
    assert all(r["status"] == 200 for r in patches)
    assert not function_errors, function_errors
    print(
        f"{ALERT}: card after {fired:.1f}s of rate limiting ({traffic.sent} messages), "
        f"resolved {resolved_after:.1f}s after the fault cleared"
    )


def test_cloudwatch_alarm_through_sns_posts_then_updates_one_card(
    functions: tuple[LocalApp, list[str]], lark: tuple[SandboxServer, SandboxControl]
) -> None:
    """The SNS door of the real function: the stack's alarm, its redelivery, then its OK."""
    app, function_errors = functions
    alarm = json.loads((EVENTS / "alert_sns_alarm.json").read_text())
    ok = json.loads((EVENTS / "alert_sns_ok.json").read_text())
    outcomes = [
        app.runner.invoke("alert_notifier", event)["deliveries"][0]["outcome"]
        for event in (alarm, alarm, ok, ok)
    ]
    assert outcomes == ["posted", "unchanged", "updated", "unchanged"]
    name = json.loads(alarm["Records"][0]["Sns"]["Message"])["AlarmName"]
    (card,) = cards_for(lark[1], name)
    assert card["card"]["header"] == {
        "template": "green",
        "title": {"tag": "plain_text", "content": f"[RESOLVED] {name}"},
    }
    assert card["update_count"] == 1
    assert not function_errors, function_errors
    # A notification that is not a CloudWatch alarm fails the invocation, naming the field.
    with pytest.raises(FunctionError, match=r"MalformedAlert: Records\[0\]\.Sns\.Message\.AlarmName"):
        app.runner.invoke(
            "alert_notifier", {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]}
        )


def test_card_store_on_dynamodb(stack: Stack) -> None:
    """The group→card record over moto's DynamoDB: lifetime kept on update, expired items ignored."""
    import boto3

    from lark_service.alerts.store import CARD_LIFETIME_SECONDS, AlertCardStore, CardRecord, record_id

    now = [1_000_000.0]
    store = AlertCardStore(stack.idempotency_table, dynamodb=boto3.client("dynamodb"), clock=lambda: now[0])
    assert store.get("alertmanager:g") is None
    store.put("alertmanager:g", CardRecord("om_1", 1, "firing", "a"), new_card=True)
    now[0] += 100
    store.put("alertmanager:g", CardRecord("om_1", 1, "resolved", "b"), new_card=False)
    assert store.get("alertmanager:g") == CardRecord("om_1", 1, "resolved", "b")
    item = boto3.client("dynamodb").get_item(
        TableName=stack.idempotency_table, Key={"id": {"S": record_id("alertmanager:g")}}
    )["Item"]
    assert item["id"]["S"].startswith("alert-card#")
    assert int(item["expiration"]["N"]) == 1_000_000 + CARD_LIFETIME_SECONDS  # an update keeps the lifetime
    now[0] += CARD_LIFETIME_SECONDS
    assert store.get("alertmanager:g") is None  # past its TTL, even before DynamoDB deletes it
