"""The production metrics path, end to end: the functions' EMF → CloudWatch → the exporter → Prometheus.

The webhook, worker and token refresh run under template.yaml's environment (``function_workload``)
twice: a healthy workload and one with every fault the functions can meet. Their EMF is what the
tests here start from:

* each metric's dimension set, as printed, must equal the exporter's ``aws_dimensions``, and
  every CloudWatch alarm in the template must watch a metric under a dimension set (and a
  ``service``) the functions really print;
* replayed through the CloudWatch stand-in and the exporter stand-in (``cloudwatch_standin``,
  both built from their sources) into the real Prometheus with the project's rules, every
  dashboard panel has data, no alert is active for the healthy workload, the faults' alerts are
  active, and the CloudWatch branch counts every event the receiver counts, once.

The replay moves the recorded timestamps into the minute the exporter reads next (its delay is
ten minutes); everything after that runs at the production settings: the exporter's period,
range, delay and ``set_timestamp`` from its configuration file, the rules' offset. Only the
scrape interval (15 s) and evaluation interval (1 s) are shorter, which the ``set_timestamp``
design allows (a datapoint seen again is stored once). The data therefore appears ``offset`` after its minute, as
in production: this test waits about three minutes for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from lark_service.devtools.exporter.emf import parse_line
from lark_service.devtools.exporter.receiver import Receiver
from lark_service.devtools.exporter.sources import wait_until
from lark_service.devtools.local.aws import create_stack, free_port, stop_process, wait_for_http
from lark_service.devtools.render.dashboard import panel_queries
from lark_service.devtools.render.rules import OFFSET_SECONDS, WINDOW_SECONDS, rate_series
from lark_service.metrics.catalog import BY_EMF_NAME, CATALOG, EXPORTER, NAMESPACE, POWERTOOLS_DIMENSIONS
from tests.conftest import ROOT
from tests.integration.cloudwatch_standin import CloudWatch, Exporter, put_emf, put_value
from tests.integration.function_workload import POISON_ROUNDS, FunctionsWorkload

# Recording both workloads takes a minute or two on a busy machine, and the replayed minute
# reaches the rules `offset` (12.5 minutes) after its start: about three minutes from the replay.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MONITORING = ROOT / "monitoring"
FUNCTIONS = {
    "WebhookFunction": "webhook",
    "WorkerFunction": "worker",
    "TokenRefreshFunction": "token_refresh",
}
"""Logical id → the function name the local runner gives it (its default POWERTOOLS_SERVICE_NAME)."""
FAULT_ALERTS = {
    "LarkWebhookErrorRateHigh",
    "LarkWebhookRejectedSignatureSpike",
    "LarkApiErrorRateHigh",
    "LarkTokenRefreshFailing",
    "LarkRateLimited",
    "LarkDeadLetterQueueNotEmpty",
    "LarkWorkerErrors",
}
"""Alerts the faulty workload must raise. LarkTokenRefreshStalled needs 30 minutes without a
success and LarkTokenNearExpiry a token Lark never issues (it reissues below 30 minutes): their
firing cases are promtool cases (``rules.test.yml``); here they must stay silent on both runs."""
FAULTY_ROUNDS = 8
"""Traffic rounds of the faulty workload (``FunctionsWorkload``): enough for every metric, few enough
that the first rounds' faults stay well above the alerts' ratios."""
MINUTE_MS = 60_000
DEADLINE_SECONDS = 420.0


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref``, ``!GetAtt``) kept as ``{tag: value}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return loaded


def template_environment() -> dict[str, str]:
    """The literal POWERTOOLS_* settings every function gets (Globals), as template.yaml sets them."""
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    return {k: v for k, v in variables.items() if k.startswith("POWERTOOLS_") and isinstance(v, str)}


@dataclass
class Run:
    lines: list[str] = field(default_factory=list)
    dead_letter_queue: str = ""
    dead_letters: int = 0


def _record(faults: bool, endpoint: str) -> Run:
    run = Run()
    lock = threading.Lock()

    def keep(line: str) -> None:
        with lock:
            run.lines.append(line)

    # A stack named like the template's, so the exporter's queue regex selects its DLQ.
    stack = create_stack(endpoint, prefix=f"lark-service-t{uuid.uuid4().hex[:8]}")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**stack.environ(), **template_environment()}.items():
            patch.setenv(name, value)
        # Faults loud enough to cross each alert's threshold within the replayed minutes: more than
        # 30 bad signatures in 5 minutes, more than 5 % of replies 5xx. A fixed number of rounds:
        # the token and poison faults come in the first two, and rounds added while a busy machine
        # waits for the dead-letter queue would dilute the error ratios towards their thresholds
        # (Lark API 5xx, measured: 22 % of calls after eight rounds, 9 % after sixty, tending to 6 %).
        workload = FunctionsWorkload(
            stack,
            keep,
            faults=faults,
            bad_signatures=12 if faults else 1,
            unavailable=3 if faults else 1,
            rounds=FAULTY_ROUNDS if faults else 200,
        )
        sqs = boto3.client("sqs", endpoint_url=endpoint)

        def dead() -> int:
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"])

        try:
            workload.start()
            wanted = {spec.emf_name for spec in CATALOG}

            def done() -> bool:
                if workload.errors or workload.rounds < 3:
                    return bool(workload.errors)
                return not faults or (workload.emf_names == wanted and dead() == len(POISON_ROUNDS))

            assert wait_until(done, 180, interval=0.2), (
                f"workload incomplete after 180 s: {workload.rounds} rounds"
            )
        finally:
            workload.stop()
        assert not workload.errors, workload.errors
        run.dead_letter_queue = stack.dead_letter_queue_url.rsplit("/", 1)[1]
        run.dead_letters = dead()
    return run


@pytest.fixture(scope="module")
def runs(moto_endpoint: str) -> dict[str, Run]:
    """The healthy and the faulty workload's EMF (recorded once for every test here)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    return {"healthy": _record(False, moto_endpoint), "faulty": _record(True, moto_endpoint)}


def emitted(lines: list[str]) -> dict[str, dict[frozenset[str], set[str]]]:
    """Metric name → dimension set → the ``service`` values it was printed with."""
    out: dict[str, dict[frozenset[str], set[str]]] = {}
    for line in lines:
        document = parse_line(line)
        assert document is not None, line
        # Standard resolution, which the CloudWatch stand-in assumes: it reads each minute whole.
        for block in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            assert all(d.get("StorageResolution", 60) == 60 for d in block["Metrics"]), line
        for metric in document.metrics:
            assert metric.namespace == NAMESPACE, line
            for dimension_set in metric.dimension_sets:
                services = out.setdefault(metric.name, {}).setdefault(frozenset(dimension_set), set())
                services.add(metric.dimensions.get("service", ""))
    return out


def test_every_function_runs_under_the_templates_service_name() -> None:
    resources = template()["Resources"]
    for logical_id, function in FUNCTIONS.items():
        variables = resources[logical_id]["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == function, logical_id
    assert template_environment()["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_emitted_dimension_sets_are_the_exporters_and_the_catalogs(runs: dict[str, Run]) -> None:
    printed = emitted(runs["healthy"].lines + runs["faulty"].lines)
    assert set(printed) == {spec.emf_name for spec in CATALOG}
    config = yaml.safe_load((MONITORING / "cloudwatch-exporter/config.yml").read_text())
    fetched = {
        rule["aws_metric_name"]: rule for rule in config["metrics"] if rule["aws_namespace"] == NAMESPACE
    }
    for name, sets in printed.items():
        assert len(sets) == 1, f"{name} is printed under several dimension sets: {sets}"
        (dimensions,) = sets
        assert set(POWERTOOLS_DIMENSIONS) <= dimensions, name
        assert dimensions == set(fetched[name]["aws_dimensions"]), name
        assert len(fetched[name]["aws_dimensions"]) == len(dimensions)
        assert sets[dimensions] == set(BY_EMF_NAME[name].emitters), name


def test_every_alarm_watches_what_the_functions_print(runs: dict[str, Run]) -> None:
    printed = emitted(runs["healthy"].lines + runs["faulty"].lines)
    resources = template()["Resources"]
    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert {
        "WebhookErrorsAlarm",
        "TokenRefreshFailureAlarm",
        "WorkerFailuresAlarm",
        "EventsQueueAgeAlarm",
    } <= set(alarms)
    query = re.compile(r"SELECT SUM\((\w+)\) FROM SCHEMA\(\"(\w+)\", ([\w, ]+)\) WHERE service = '(\w+)'$")
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "AlertsTopic"}], name
        if "Metrics" in alarm:
            (metric,) = alarm["Metrics"]
            match = query.match(metric["Expression"])
            assert match, metric["Expression"]
            metric_name, namespace, keys, service = match.groups()
            assert namespace == NAMESPACE, name
            schema = frozenset(key.strip() for key in keys.split(","))
            assert schema in printed[metric_name], (
                f"{name}: {metric_name} is never printed with {sorted(schema)}"
            )
            assert service in printed[metric_name][schema], (
                f"{name}: {metric_name} never comes from {service}"
            )
        else:
            assert alarm["Namespace"] == "AWS/SQS", name
            (dimension,) = alarm["Dimensions"]
            queue = dimension["Value"]["GetAtt"].split(".")
            assert dimension["Name"] == "QueueName"
            assert resources[queue[0]]["Type"] == "AWS::SQS::Queue"
            assert queue[1] == "QueueName"
    assert resources["AlertsTopic"]["Type"] == "AWS::SNS::Topic"


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class Pipeline:
    run: Run
    exporter: Exporter
    prometheus: str
    first_bucket_ms: int
    last_bucket_ms: int


def _prometheus_config(tmp: Path, exporter_port: int) -> Path:
    """The project's prometheus.yml, its cloudwatch job pointed at the exporter stand-in."""
    config = yaml.safe_load((MONITORING / "prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    config["rule_files"] = [str(MONITORING / "prometheus" / path) for path in config["rule_files"]]
    config.pop("alerting", None)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    cloudwatch = jobs["cloudwatch"]
    # Four chances per minute: a busy machine may need seconds for one scrape's hundred calls.
    cloudwatch.update(scrape_interval="15s", scrape_timeout="15s")
    cloudwatch["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    config["scrape_configs"] = [cloudwatch]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def pipelines(runs: dict[str, Run], tmp_path: Path) -> Iterator[dict[str, Pipeline]]:
    binary = shutil.which("prometheus")
    assert binary, "the Prometheus server is needed: install the 'prometheus' package (make tools)"
    config = yaml.safe_load((MONITORING / "cloudwatch-exporter/config.yml").read_text())
    assert (config["delay_seconds"], config["range_seconds"]) == (
        EXPORTER.delay_seconds,
        EXPORTER.range_seconds,
    )
    cloudwatch = CloudWatch()
    procs: list[subprocess.Popen[bytes]] = []
    exporters: list[Exporter] = []
    out: dict[str, Pipeline] = {}
    try:
        # The first minute the exporter reads from now on (its window ends `delay` before the scrape).
        ready = time.time() + 30
        first_bucket = -(-int((ready - EXPORTER.delay_seconds - 60) * 1000) // MINUTE_MS) * MINUTE_MS
        for index, (name, run) in enumerate(sorted(runs.items())):
            region = ("us-east-1", "us-west-2")[index]
            client = boto3.client("cloudwatch", endpoint_url=cloudwatch.endpoint, region_name=region)
            stamps = [doc.timestamp_ms for doc in map(parse_line, run.lines) if doc is not None]
            shift = first_bucket + 1000 - min(stamps)
            put_emf(client, run.lines, shift)
            for minute in range(0, max(stamps) + shift - first_bucket + MINUTE_MS, MINUTE_MS):
                put_value(
                    client,
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": run.dead_letter_queue},
                    float(run.dead_letters),
                    first_bucket + minute + 30_000,
                )
            exporter = Exporter(config, client, time.time)
            exporters.append(exporter)
            port = free_port()
            directory = tmp_path / name
            directory.mkdir()
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={_prometheus_config(directory, exporter.serve())}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(directory / "prometheus.log").open("w"),
            )
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/-/ready", timeout=60)
            last_bucket = (max(stamps) + shift) // MINUTE_MS * MINUTE_MS
            out[name] = Pipeline(run, exporter, url, first_bucket, last_bucket)
        yield out
    finally:
        for proc in procs:
            stop_process(proc, timeout=10)
        for exporter in exporters:
            exporter.close()
        cloudwatch.close()


def api(url: str, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}/api/v1/{path}{query}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def result(url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """The query's value now, or as Prometheus evaluated it at the instant ``at``."""
    params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
    found: list[dict[str, Any]] = api(url, "query", **params)["result"]
    return found


def active_alerts(url: str, at: float | None = None) -> set[str]:
    """Alerts pending or firing (the ``ALERTS`` series), now or at the instant ``at``."""
    return {item["metric"]["alertname"] for item in result(url, "ALERTS", at)}


def test_the_cloudwatch_path_serves_every_panel_and_the_right_alerts(pipelines: dict[str, Pipeline]) -> None:
    faulty, healthy = pipelines["faulty"], pipelines["healthy"]
    recording = yaml.safe_load((MONITORING / "prometheus/rules/recording.yml").read_text())
    records = [rule["record"] for group in recording["groups"] for rule in group["rules"]]
    panels = panel_queries((MONITORING / "grafana/dashboards/lark-service.json").read_text())
    checks = {f"panel {title!r} {ref}": expr for title, ref, expr in panels}
    checks.update({f"recorded {record}": record for record in records})

    missing: dict[str, str] = dict(checks)

    def everything_has_data() -> bool:
        for name, expr in list(missing.items()):
            if result(faulty.prometheus, expr):
                del missing[name]
        return not missing

    # Every minute of the replay is read by the exporter and visible to the rules `offset` later;
    # the checks below need all of them inside one five-minute window. They judge the rules and
    # alerts as Prometheus evaluated them at one instant inside that window (a query's `time`),
    # not whenever the test gets there: on a busy machine "now" may already have slid past the
    # first minute, which would drop its counts and dilute the alerts' ratios.
    last = max(p.last_bucket_ms for p in pipelines.values())
    assert last - faulty.first_bucket_ms < (WINDOW_SECONDS - 60) * 1000, (
        "the workloads took too long to record"
    )
    # Each minute has four scrapes to be read in, and is in Prometheus well before this.
    judged_at = last / 1000 + OFFSET_SECONDS + 30
    assert judged_at - OFFSET_SECONDS - WINDOW_SECONDS < faulty.first_bucket_ms / 1000
    assert wait_until(everything_has_data, DEADLINE_SECONDS, interval=1.0), sorted(missing)
    assert wait_until(lambda: time.time() > judged_at + 5, DEADLINE_SECONDS, interval=1.0)
    raised = active_alerts(faulty.prometheus, judged_at)
    assert raised >= FAULT_ALERTS, (
        f"not raised: {sorted(FAULT_ALERTS - raised)}",
        result(faulty.prometheus, "sum_over_time(up[20m])"),
        result(faulty.prometheus, "count_over_time(up[20m])"),
    )
    assert not raised & {"LarkTokenRefreshStalled", "LarkTokenNearExpiry"}

    # The healthy run: its data is there, and nothing is wrong with it.
    assert result(healthy.prometheus, rate_series(BY_EMF_NAME["WebhookEventsReceived"]))
    assert result(healthy.prometheus, "token_type:lark_service_token_refresh_success:increase25m")
    assert active_alerts(healthy.prometheus) == set()

    # Same workload, same counts: the CloudWatch branch counts each event the receiver counts, once.
    receiver = Receiver()
    receiver.feed_lines(faulty.run.lines)
    for spec in CATALOG:
        if spec.prom_type != "counter":
            continue
        local: Counter[tuple[tuple[str, str], ...]] = Counter()
        for family in receiver.registry.collect():
            for sample in family.samples:
                if sample.name == spec.prom_name:
                    local[tuple(sorted(sample.labels.items()))] += sample.value
        remote = {
            tuple(sorted(item["metric"].items() - {("__name__", rate_series(spec))})): float(item["value"][1])
            * WINDOW_SECONDS
            for item in result(faulty.prometheus, rate_series(spec), judged_at)
        }
        assert {k: round(v, 6) for k, v in remote.items()} == {k: v for k, v in local.items() if v}, (
            spec.emf_name,
            result(faulty.prometheus, "min_over_time(up[20m])", judged_at),
            result(faulty.prometheus, "max_over_time(scrape_duration_seconds[20m])", judged_at),
        )

    for pipeline in pipelines.values():
        assert not pipeline.exporter.errors
        duplicates = result(pipeline.prometheus, "prometheus_target_scrapes_sample_duplicate_timestamp_total")
        assert all(float(item["value"][1]) == 0 for item in duplicates)
