"""A realistic run of the real functions, their EMF handed on line by line as CloudWatch would get it.

The webhook, the worker and the token refresh run in warm child processes of the local runner,
wired as ``lark-service dev`` wires them: the environment from ``function_environment``, the
worker fed by the dev plug-in's SQS poller, the token refresh invoked with the scheduled event,
and Lark played by the sandbox. Nothing here emits a metric itself; every EMF line is printed
by a function because something really happened to it:

* signed pushes of every kind (challenge, message, app_ticket, card, an event type with no
  handler), Lark's redelivery of a push (a duplicate), and requests the webhook must refuse
  (bad signature, wrong verification token, a replayed old timestamp);
* a second webhook instance whose queue is gone, so its pushes are answered 503;
* the worker replying to messages through the sandbox, sometimes rate-limited (429 with a short
  ``x-ogw-ratelimit-reset`` waited out, or a long one that puts the event back on the queue with a
  delay) or failed (500), and a poison message whose reply always fails
  until SQS moves it to the dead-letter queue after ``REDRIVE_LIMIT`` receives;
* token refreshes, one retried after a 500 and a rate limit, one that gives up;
* a cold start of every function (two of the webhook: each instance has its own).

Each round repeats the traffic, so every histogram keeps observing while Prometheus scrapes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from lark_service.devtools.local.aws import Stack
from lark_service.devtools.local.dev import LocalApp, function_environment
from lark_service.devtools.local.dev_plugins import worker as worker_plugin
from lark_service.devtools.local.runner import FunctionError, OutputLine, Runner
from lark_service.devtools.local.samples import Credentials, function_url_event, signed_request
from lark_service.devtools.local.scheduler import scheduled_event
from lark_service.devtools.sandbox import SandboxApp, SandboxControl, SandboxServer, SandboxState

REDRIVE_LIMIT = 2
"""The test queue's maxReceiveCount; the worker is told the same (LARK_WORKER_MAX_RECEIVE_COUNT)."""
VISIBILITY_SECONDS = 1
"""A failed message is back in the queue after a second instead of the stack's thirty."""
TOKEN_ATTEMPTS = 3
POISON_ROUNDS = (0, 1)
"""Rounds that push a message whose reply Lark always refuses: each ends in the DLQ."""
TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal"
STALE_SECONDS = 2 * 24 * 3600
"""Older than the webhook's replay window (one day by default)."""

MAX_WAIT_SECONDS = 3
"""The worker's in-process rate-limit wait; a longer reset puts the event back on the queue."""

FAST = {
    # Short waits so retries and rate limits take a fraction of a second, not minutes.
    "LARK_HTTP_TIMEOUT_SECONDS": "2",
    "LARK_TOKEN_RETRY_BASE_SECONDS": "0.05",
    "LARK_TOKEN_RETRY_CAP_SECONDS": "0.2",
    "LARK_TOKEN_RETRY_ATTEMPTS": str(TOKEN_ATTEMPTS),
    "LARK_RATE_LIMIT_MAX_WAIT_SECONDS": str(MAX_WAIT_SECONDS),
    "LARK_WORKER_MAX_RECEIVE_COUNT": str(REDRIVE_LIMIT),
}


class FunctionsWorkload:
    """Start with ``start()``, stop with ``stop()``; ``errors`` holds anything that went wrong."""

    def __init__(
        self,
        stack: Stack,
        on_emf: Callable[[str], None],
        *,
        pause: float = 0.5,
        faults: bool = True,
        bad_signatures: int = 1,
        unavailable: int = 1,
        rounds: int = 200,
    ) -> None:
        self.stack = stack
        self.max_rounds = rounds
        """Rounds of traffic at most; the functions keep draining the queue after the last."""
        self.pause = pause
        self.faults = faults
        """Off: only what a healthy stack sees (valid pushes, duplicates, replies, refreshes)."""
        self.bad_signatures = bad_signatures
        self.unavailable = unavailable
        """Pushes per round to the webhook whose queue is gone (each answered 503)."""
        self.errors: list[str] = []
        self.rounds = 0
        self.emf_names: set[str] = set()
        self.poison_ids: list[str] = []
        self.messages: list[tuple[int, str]] = []
        """(round, event id) of every message the demo bot should answer."""
        self._on_emf = on_emf
        self._names_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stops: list[Callable[[], None]] = []

        env = function_environment(stack)
        self.creds = Credentials(
            verification_token=env["LARK_VERIFICATION_TOKEN"],
            encrypt_key=env["LARK_ENCRYPT_KEY"],
            app_id=env["LARK_APP_ID"],
        )
        # The pushes come from lark_service.devtools.local.samples, never through the sandbox: replies to them
        # land in the samples' chat.
        state = SandboxState(
            [SandboxApp(env["LARK_APP_ID"], env["LARK_APP_SECRET"])], unseen_messages_chat="oc_local_chat"
        )
        self.sandbox = SandboxServer(state).start()
        self._stops.append(self.sandbox.stop)
        try:
            self._prepare(env)
        except BaseException:
            self.stop()
            raise

    def _prepare(self, env: dict[str, str]) -> None:
        stack = self.stack
        self.lark = SandboxControl(self.sandbox.url)
        self._stops.append(self.lark.close)
        env.update(FAST, LARK_BASE_URL=self.sandbox.url)

        sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
        dlq = sqs.get_queue_attributes(QueueUrl=stack.dead_letter_queue_url, AttributeNames=["QueueArn"])
        redrive = {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": REDRIVE_LIMIT}
        sqs.set_queue_attributes(
            QueueUrl=stack.events_queue_url,
            Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS), "RedrivePolicy": json.dumps(redrive)},
        )
        gone = sqs.create_queue(QueueName=f"{stack.idempotency_table}-gone")["QueueUrl"]
        sqs.delete_queue(QueueUrl=gone)

        self.runner = Runner(env, hooks=[self._hook])
        self._stops.append(self.runner.stop)
        # A second webhook instance (its own cold start) whose queue no longer exists.
        self.broken = Runner({**env, "EVENTS_QUEUE_URL": gone}, hooks=[self._hook])
        self._stops.append(self.broken.stop)
        self.app = LocalApp(self.runner, stack, stopping=self._stopping)

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        starter = threading.Thread(target=self.broken.start, args=("webhook",), daemon=True)
        starter.start()
        for function in ("webhook", "token_refresh", "worker"):
            self.runner.start(function)
        starter.join(timeout=60)
        self._refresh(expect_ok=True)  # tokens first, as the dev schedule's run at start
        self._stops.append(worker_plugin.start(self.app))
        self._thread = threading.Thread(target=self._run, name="functions-workload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception as exc:
                self.errors.append(f"stopping: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        while not self._stopping.is_set() and self.rounds < self.max_rounds:
            try:
                self._round(self.rounds)
            except Exception as exc:
                self.errors.append(f"round {self.rounds}: {type(exc).__name__}: {exc}")
                return
            self.rounds += 1
            self._stopping.wait(self.pause)

    def _hook(self, line: OutputLine) -> None:
        if '"_aws"' not in line.text:
            return
        self._on_emf(line.text)
        names = _metric_names(line.text)
        with self._names_lock:
            self.emf_names.update(names)

    # --- one round -------------------------------------------------------------------------
    def _round(self, index: int) -> None:
        if not self.faults:
            self._webhook_traffic(index)
            self._refresh(expect_ok=True)
            return
        if index in POISON_ROUNDS:
            poison = f"poison{index}{uuid.uuid4().hex}"
            self.lark.add_fault(reply_path(poison), "server_error", None)  # Lark refuses it for good
            self.poison_ids.append(poison)
            self._push("message", 200, event_id=poison)
        self._webhook_traffic(index)
        self._unavailable_queue()
        if index == 0:
            self.lark.add_fault(TENANT_TOKEN_PATH, "server_error", 1)
            self.lark.add_fault(APP_TOKEN_PATH, "rate_limit", 1, reset=1)
            self._refresh(expect_ok=True)  # both retried, both stored
        elif index == 1:
            self.lark.add_fault(TENANT_TOKEN_PATH, "server_error", TOKEN_ATTEMPTS)
            self._refresh(expect_ok=False)  # the tenant token gives up; the stored one stays
        else:
            self._refresh(expect_ok=True)

    def _webhook_traffic(self, index: int) -> None:
        first, second = uuid.uuid4().hex, uuid.uuid4().hex
        if index == 0 and self.faults:  # Lark throttles one reply; the worker waits the reset out and retries
            self.lark.add_fault(reply_path(first), "rate_limit", 1, reset=1)
        if index % 4 == 0 and self.faults:  # now and then a transient 5xx; SQS redelivers the message
            self.lark.add_fault(reply_path(second), "server_error", 1)
        elif index == 1 and self.faults:  # a reset longer than the in-process wait: the worker puts it back
            self.lark.add_fault(reply_path(second), "rate_limit", 1, reset=2 * MAX_WAIT_SECONDS)
        headers, body = signed_request("message", self.creds, event_id=first)
        self._post(headers, body, 200)
        self._post(headers, body, 200)  # Lark's redelivery: a duplicate
        self._push("url_verification", 200)
        self._push("app_ticket", 200)
        self._push("card", 200)
        self._push("unknown", 200)
        self._push("message", 200, event_id=second)
        self.messages.extend([(index, first), (index, second)])
        if self.faults:
            self._refused()
        health = self.runner.invoke("webhook", function_url_event("GET", "/health", {}, b""))
        self._expect(health, 200, "GET /health")

    def _refused(self) -> None:
        for _ in range(self.bad_signatures):
            headers, body = signed_request("message", self.creds)
            self._post({**headers, "x-lark-signature": "0" * 64}, body, 401)  # bad_signature
        wrong = Credentials("wrong-token", self.creds.encrypt_key, self.creds.app_id)
        self._post(*signed_request("message", wrong), 401)  # bad_token
        self._post(*signed_request("message", self.creds, now=time.time() - STALE_SECONDS), 401)  # stale

    def _unavailable_queue(self) -> None:
        for _ in range(self.unavailable):
            headers, body = signed_request("message", self.creds)
            answer = self.broken.invoke("webhook", function_url_event("POST", "/lark/events", headers, body))
            self._expect(answer, 503, "push to the webhook whose queue is gone")

    def _push(self, kind: str, status: int, *, event_id: str | None = None) -> None:
        self._post(*signed_request(kind, self.creds, event_id=event_id), status)

    def _post(self, headers: dict[str, str], body: bytes, status: int) -> None:
        answer = self.runner.invoke("webhook", function_url_event("POST", "/lark/events", headers, body))
        self._expect(answer, status, "push")

    def _expect(self, answer: Any, status: int, what: str) -> None:
        got = answer.get("statusCode") if isinstance(answer, dict) else None
        if got != status:
            raise AssertionError(f"{what}: expected HTTP {status}, the webhook answered {answer!r}")

    def _refresh(self, *, expect_ok: bool) -> None:
        try:
            self.runner.invoke("token_refresh", scheduled_event())
        except FunctionError as exc:
            if expect_ok or exc.error.get("errorType") != "RefreshIncomplete":
                raise
        else:
            if not expect_ok:
                raise AssertionError("the token refresh succeeded although Lark kept failing")


def reply_path(event_id: str) -> str:
    """Where the demo bot replies to the message of this push (``samples`` derives its message id)."""
    return f"/open-apis/im/v1/messages/om_{event_id[:16]}/reply"


def _metric_names(line: str) -> set[str]:
    try:
        doc = json.loads(line)
        directives = doc["_aws"]["CloudWatchMetrics"]
        return {m["Name"] for d in directives for m in d["Metrics"]}
    except (ValueError, KeyError, TypeError):
        return set()
