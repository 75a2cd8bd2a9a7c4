"""Cold starts as deployed, side by side with the floor and the official SDK, in one run.

Every case is a fresh interpreter timed from its first line to its result; the cases take turns
round by round, so a busy machine slows them alike. Our functions run on what their images hold:
each function's requirements installed for the Lambda platform and trimmed as the Dockerfile
trims them, the code staged through ``.dockerignore``, everything precompiled by Python 3.12
(``scripts/image_runtime.py``'s staging), started with ``-S`` so nothing else is importable.
AWS is moto's server over HTTP; Lark is the project's sandbox.

Webhook cases, one signed and encrypted ``im.message.receive_v1`` push each, de-duplicated
(conditional PutItem, then UpdateItem) and enqueued (SendMessage):

- ours, credentials from Secrets Manager (``LARK_SECRET_ID``, as the template deploys it);
- ours, credentials in environment variables;
- the floor: a script that imports botocore, creates the clients and makes the same AWS calls,
  nothing else — no verification, no configuration, no logging or metrics;
- lark-oapi 1.7.5 (its own virtual environment): boto3 reads the secret, the SDK's
  ``EventDispatcherHandler`` verifies and decrypts, the registered handler makes the same calls;
- the URL challenge (environment credentials): must not import botocore at all.

Worker: one SQS record (the demo bot's message) handled, which fetches a tenant token from the
sandbox and replies there. Token refresh: one scheduled run against the sandbox.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bench.report import Goal, row, table
from lark_service.devtools.local.aws import FAKE_CREDENTIALS, create_stack, moto_server
from lark_service.devtools.local.samples import Credentials, function_url_event, signed_request
from lark_service.devtools.sandbox import SandboxApp, SandboxServer, SandboxState
from scripts import image_budget, image_runtime

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
WHEELS = ROOT / ".tools" / "image-budget" / "wheels"
CREDS = Credentials(verification_token="bench-token", encrypt_key="bench-encrypt-key", app_id="cli_bench")
APP_SECRET = "bench-app-secret"

# A child prints one line: BENCH {"ms": ..., "cpu_ms": ..., "rss_mb": ...}, timed from its first
# line. Peak RSS is the kernel's VmHWM: getrusage's ru_maxrss survives exec and would report the
# parent's size when the parent is larger.
PEAK_RSS = 'int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024'

OURS = r"""
import time; t0, c0 = time.perf_counter(), time.process_time()
import json, sys
sys.path.insert(0, ".")
import app
t1 = time.perf_counter()
class Context:  # the attributes of Lambda's context object that Powertools reads
    function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench-request"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    def get_remaining_time_in_millis(self): return 30000
reply = app.handler(json.load(open(sys.argv[1])), Context())
t2 = time.perf_counter()
expect = sys.argv[2]
if expect == "batch":
    assert reply == {"batchItemFailures": []}, reply
elif expect == "refresh":
    assert isinstance(reply, dict), reply
else:
    assert reply["statusCode"] == 200 and expect in reply["body"], reply
aws = sorted(m for m in ("boto3", "botocore.session", "botocore.client") if m in sys.modules)
print("BENCH " + json.dumps({"ms": (t2 - t0) * 1e3, "cpu_ms": (time.process_time() - c0) * 1e3,
    "import_ms": (t1 - t0) * 1e3, "rss_mb": PEAK_RSS, "aws": aws}))
""".replace("PEAK_RSS", PEAK_RSS)

# The same AWS work and nothing else: the least any Python function doing it can cost.
FLOOR = r"""
import time; t0, c0 = time.perf_counter(), time.process_time()
import json, os, sys
import botocore.session
session = botocore.session.get_session()
secret_id, key = sys.argv[1], sys.argv[2]
if secret_id:
    sm = session.create_client("secretsmanager")
    json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
if sys.argv[3:] == ["config"]:  # the floor plus our configuration alone
    sys.path.insert(0, ".")
    from lark_service.config import Settings, parse_environment
    parse_environment(Settings)
ddb = session.create_client("dynamodb")
sqs = session.create_client("sqs")
now = str(int(time.time()))
table = os.environ["IDEMPOTENCY_TABLE"]
ddb.put_item(TableName=table, Item={"id": {"S": key}, "expiration": {"N": now}},
    ConditionExpression="attribute_not_exists(id) OR expiration < :now",
    ExpressionAttributeValues={":now": {"N": now}})
sqs.send_message(QueueUrl=os.environ["EVENTS_QUEUE_URL"], MessageBody="{}")
ddb.update_item(TableName=table, Key={"id": {"S": key}}, UpdateExpression="SET #s = :c",
    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":c": {"S": "COMPLETED"}})
t2 = time.perf_counter()
print("BENCH " + json.dumps({"ms": (t2 - t0) * 1e3, "cpu_ms": (time.process_time() - c0) * 1e3,
    "rss_mb": PEAK_RSS}))
""".replace("PEAK_RSS", PEAK_RSS)

# The same flow on the official SDK: boto3 for AWS (appended to sys.path so it never shadows the
# SDK's own dependencies), lark-oapi's dispatcher for verification, decryption and routing.
LARK_OAPI = r"""
import time; t0, c0 = time.perf_counter(), time.process_time()
import json, os, sys
sys.path.append(sys.argv[3])
import boto3
import lark_oapi as lark
from lark_oapi.core.model import RawRequest
secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=sys.argv[1])["SecretString"])
ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
table = os.environ["IDEMPOTENCY_TABLE"]
handled = []

def on_message(data):
    key, now = "lark-oapi#" + data.header.event_id, str(int(time.time()))
    ddb.put_item(TableName=table, Item={"id": {"S": key}, "expiration": {"N": now}},
        ConditionExpression="attribute_not_exists(id) OR expiration < :now",
        ExpressionAttributeValues={":now": {"N": now}})
    sqs.send_message(QueueUrl=os.environ["EVENTS_QUEUE_URL"], MessageBody=lark.JSON.marshal(data))
    ddb.update_item(TableName=table, Key={"id": {"S": key}}, UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":c": {"S": "COMPLETED"}})
    handled.append(data.header.event_id)

dispatcher = (lark.EventDispatcherHandler.builder(secret["encrypt_key"], secret["verification_token"])
    .register_p2_im_message_receive_v1(on_message).build())
event = json.load(open(sys.argv[2]))
request = RawRequest()
request.uri = event["rawPath"]
request.headers = {name.title(): value for name, value in event["headers"].items()}
request.body = event["body"].encode()
response = dispatcher.do(request)
t2 = time.perf_counter()
assert response.status_code == 200 and handled, (response.status_code, response.content)
print("BENCH " + json.dumps({"ms": (t2 - t0) * 1e3, "cpu_ms": (time.process_time() - c0) * 1e3,
    "rss_mb": PEAK_RSS}))
""".replace("PEAK_RSS", PEAK_RSS)


@dataclass
class Case:
    name: str
    argv: Callable[[int], list[str]]
    env: dict[str, str]
    cwd: Path
    samples: list[dict[str, Any]] = field(default_factory=list)

    def run(self, index: int) -> None:
        started = time.perf_counter()
        proc = subprocess.run(
            self.argv(index),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall = (time.perf_counter() - started) * 1e3
        line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"{self.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        self.samples.append({**json.loads(line[6:]), "process_ms": wall})

    def median(self, key: str = "ms") -> float:
        return statistics.median(s[key] for s in self.samples)

    def spread(self, key: str = "ms") -> str:
        values = sorted(s[key] for s in self.samples)
        return f"{values[0]:.0f}-{values[-1]:.0f}"

    def peak(self, key: str = "rss_mb") -> float:
        return max(s[key] for s in self.samples)


@dataclass(frozen=True)
class Staged:
    deps: Path
    task: Path


def stage(python: str, scratch: Path) -> dict[str, Staged]:
    """Each function's /opt/deps and /var/task, built as the Dockerfile builds them."""
    staged = {}
    for function in ("webhook", "worker", "token_refresh"):
        deps, task = image_runtime.stage_image(function, ROOT, python, WHEELS, scratch / function)
        staged[function] = Staged(deps, task)
    return staged


def boto3_for_lark_oapi(lark_python: Path, scratch: Path) -> Path:
    """boto3 for the SDK's interpreter, in a folder of its own (the SDK's environment stays as made)."""
    target = scratch / "boto3-for-lark-oapi"
    pin = next(
        p
        for p in image_budget.ROOT.joinpath("pyproject.toml").read_text().split('"')
        if p.startswith("boto3==")
    )
    subprocess.run(
        [
            str(lark_python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            pin,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    subprocess.run(
        [str(lark_python), "-m", "compileall", "-q", "-j", "0", str(target)], check=True, capture_output=True
    )
    return target


@contextmanager
def sandbox() -> Iterator[str]:
    # Pushes here never pass through the sandbox, so replies to unseen messages land in one chat,
    # as under ``lark-service dev``.
    apps = [SandboxApp(CREDS.app_id, APP_SECRET, "self_built")]  # type: ignore[arg-type]
    state = SandboxState(apps, unseen_messages_chat="oc_bench")
    with SandboxServer(state) as server:
        yield server.url


def write_event(directory: Path, name: str, document: dict[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(document))
    return path


def webhook_push(directory: Path, kind: str, index: int, creds: Credentials = CREDS) -> Path:
    headers, body = signed_request(kind, creds, event_id=f"bench-{kind}-{index}-{uuid.uuid4().hex}")
    return write_event(
        directory,
        f"{kind}-{index}-{uuid.uuid4().hex[:6]}",
        function_url_event("POST", "/lark/events", headers, body),
    )


def worker_event(directory: Path, index: int) -> Path:
    """The worker's SQS fixture with a fresh event id, so idempotency lets every run do the work."""
    event = json.loads((ROOT / "tests/events/worker_sqs_message.json").read_text())
    record = event["Records"][0]
    envelope = json.loads(record["body"])
    fresh = uuid.uuid4().hex
    envelope["event_id"] = fresh
    envelope["body"]["header"]["event_id"] = fresh
    envelope["body"]["event"]["message"]["message_id"] = f"om_{fresh[:24]}"
    record["body"] = json.dumps(envelope)
    record["messageId"] = str(uuid.uuid4())
    return write_event(directory, f"worker-{index}-{fresh[:6]}", event)


def main(lark_python: Path | None, runs: int = RUNS) -> bool:
    """Run every cold case; print the table; return True when a goal was missed."""
    python = image_budget.find_runtime_python(None)
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp,
        moto_server() as endpoint,
        sandbox() as lark_url,
    ):
        scratch = Path(tmp)
        staged = stage(python, scratch)
        stack = create_stack(endpoint, prefix="bench")
        sm = boto3.client(
            "secretsmanager",
            endpoint_url=endpoint,
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        secret_id = sm.create_secret(
            Name=f"bench/{uuid.uuid4().hex}",
            SecretString=json.dumps(
                {
                    "app_id": CREDS.app_id,
                    "app_secret": APP_SECRET,
                    "encrypt_key": CREDS.encrypt_key,
                    "verification_token": CREDS.verification_token,
                }
            ),
        )["ARN"]
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **stack.environ(),
            "POWERTOOLS_SERVICE_NAME": "bench",
            "LARK_BASE_URL": lark_url,
            "LARK_DEMO_HANDLERS": "true",
            "LAMBDA_TASK_ROOT": "",
        }
        env_creds = {
            "LARK_APP_ID": CREDS.app_id,
            "LARK_APP_SECRET": APP_SECRET,
            "LARK_ENCRYPT_KEY": CREDS.encrypt_key or "",
            "LARK_VERIFICATION_TOKEN": CREDS.verification_token,
        }

        def ours(
            function: str, creds: dict[str, str], event: Callable[[int], Path], expect: str
        ) -> tuple[Callable[[int], list[str]], dict[str, str], Path]:
            where = staged[function]
            env = {**base, **creds, "PYTHONPATH": str(where.deps), "LAMBDA_TASK_ROOT": str(where.task)}
            return (lambda i: [python, "-S", "-c", OURS, str(event(i)), expect]), env, where.task

        secret = {"LARK_SECRET_ID": secret_id}
        push = lambda i: webhook_push(scratch, "message", i)  # noqa: E731
        challenge = lambda i: webhook_push(scratch, "url_verification", i)  # noqa: E731
        cases = [
            Case("ours, secret (as deployed)", *ours("webhook", secret, push, "success")),
            Case("ours, env credentials", *ours("webhook", env_creds, push, "success")),
            Case("URL challenge, cold", *ours("webhook", env_creds, challenge, "challenge")),
            Case(
                "floor: botocore + same calls, secret",
                lambda i: [python, "-S", "-c", FLOOR, secret_id, f"floor#{i}-{uuid.uuid4().hex}"],
                {**base, "PYTHONPATH": str(staged["webhook"].deps)},
                scratch,
            ),
            Case(
                "floor + our Settings, secret",
                lambda i: [python, "-S", "-c", FLOOR, secret_id, f"floor#{i}-{uuid.uuid4().hex}", "config"],
                {**base, **env_creds, "PYTHONPATH": str(staged["webhook"].deps)},
                staged["webhook"].task,
            ),
            Case(
                "floor: botocore + same calls, env",
                lambda i: [python, "-S", "-c", FLOOR, "", f"floor#{i}-{uuid.uuid4().hex}"],
                {**base, "PYTHONPATH": str(staged["webhook"].deps)},
                scratch,
            ),
            Case(
                "worker: first event handled",
                *ours("worker", secret, lambda i: worker_event(scratch, i), "batch"),
            ),
            Case(
                "token refresh: first run",
                *ours(
                    "token_refresh",
                    secret,
                    lambda i: ROOT / "tests/events/token_refresh_scheduled.json",
                    "refresh",
                ),
            ),
        ]
        if lark_python:
            lark_python = lark_python.absolute()  # not resolve(): the venv's python is a link
            boto3_dir = boto3_for_lark_oapi(lark_python, scratch)
            subprocess.run(
                [
                    str(lark_python),
                    "-m",
                    "compileall",
                    "-q",
                    "-j",
                    "0",
                    str(Path(lark_python).parents[1] / "lib"),
                ],
                capture_output=True,
                check=False,
            )
            cases.append(
                Case(
                    "lark-oapi 1.7.5 + boto3, secret",
                    lambda i: [
                        str(lark_python),
                        "-c",
                        LARK_OAPI,
                        secret_id,
                        str(webhook_push(scratch, "message", i)),
                        str(boto3_dir),
                    ],
                    {**base, "PYTHONDONTWRITEBYTECODE": "1"},
                    scratch,
                )
            )
        for case in cases:  # warm the disk cache once, unmeasured
            case.run(-1)
            case.samples.clear()
        for index in range(runs):
            for case in cases:
                case.run(index)
    return report(cases, python, runs)


def report(cases: list[Case], python: str, runs: int) -> bool:
    named = {case.name: case for case in cases}
    ours_secret = named["ours, secret (as deployed)"]
    ours_env = named["ours, env credentials"]
    floor_secret = named["floor: botocore + same calls, secret"]
    floor_env = named["floor: botocore + same calls, env"]
    floor_config = named["floor + our Settings, secret"]
    challenge = named["URL challenge, cold"]
    worker = named["worker: first event handled"]
    refresh = named["token refresh: first run"]
    lark = named.get("lark-oapi 1.7.5 + boto3, secret")
    interpreter = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"cold start: {runs} fresh processes per case, interleaved; Python {interpreter} (lark-oapi: its own venv)"
    )
    print("  ms = first line of the process to the reply (init + first invocation), wall clock;")
    print("  CPU ms = the same span in CPU time (steadier on a busy machine); process = fork to exit")
    print(
        f"  load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n"
    )
    rows = [
        row(c.name, c.median(), c.spread(), c.median("cpu_ms"), c.median("process_ms"), c.peak())
        for c in [
            ours_secret,
            ours_env,
            floor_secret,
            floor_config,
            floor_env,
            challenge,
            *([lark] if lark else []),
            worker,
            refresh,
        ]
    ]
    table(["case", "median ms", "range ms", "CPU ms", "process ms", "peak RSS MB"], rows)
    config_ms = floor_config.median("cpu_ms") - floor_secret.median("cpu_ms")
    print(f"  our Settings alone add {config_ms:.0f} ms CPU to the floor")
    goals = [
        Goal("webhook cold, secret (as deployed)", ours_secret.median(), "<=", 200, "ms"),
        Goal("  / floor (same calls), wall", ours_secret.median() / floor_secret.median(), "<=", 1.3, "x"),
        Goal(
            "  / floor (same calls), CPU",
            ours_secret.median("cpu_ms") / floor_secret.median("cpu_ms"),
            "<=",
            1.3,
            "x",
        ),
        Goal("webhook cold, env / floor (env), wall", ours_env.median() / floor_env.median(), "<=", 1.3, "x"),
        Goal("URL challenge, cold", challenge.median(), "<=", 60, "ms"),
        Goal(
            "URL challenge runs with an AWS client",
            float(sum(bool(s["aws"]) for s in challenge.samples)),
            "<=",
            0,
            "runs",
        ),
        Goal("peak RSS after the first event", max(ours_secret.peak(), ours_env.peak()), "<=", 64, "MB"),
        Goal("worker cold, first event handled", worker.median(), "<=", 400, "ms"),
        Goal("token refresh cold", refresh.median(), "<=", 250, "ms"),
    ]
    if lark:
        goals.insert(
            1, Goal("  lark-oapi / ours (secret)", lark.median() / ours_secret.median(), ">=", 10, "x faster")
        )
    print()
    return Goal.print_all(goals)
