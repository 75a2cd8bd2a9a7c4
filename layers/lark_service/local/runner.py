"""Warm function processes for the local runner: Lambda's container model without Docker.

Each function runs in its own long-lived child process (``lark_service.local.container``): its
module is imported once (the cold start) and every invocation after that is warm, as in Lambda.
Invocations travel over two inherited pipes (a JSON line each way); the function's stdout and
stderr are captured line by line and handed to every registered output hook.

Interface for the other parts of ``lark-service dev``::

    runner = Runner(env=function_environment)          # or LocalApp.runner in dev plugins
    runner.add_output_hook(lambda line: ...)           # OutputLine(function, stream, text)
    result = runner.invoke("worker", sqs_event)        # starts functions/worker on first use
    runner.stop()                                      # terminates every child

``invoke`` is thread-safe; invocations of one function are serialised (one container each, like
a function with reserved concurrency 1). A handler exception raises ``FunctionError`` carrying
Lambda's error document; an invocation past the function's timeout kills the container (the next
invoke starts a fresh one) and raises ``FunctionTimeout``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lark_service.local.container import INVOCATION_END

TIMEOUTS = {"webhook": 5.0, "worker": 30.0, "token_refresh": 60.0, "alert_notifier": 30.0}
"""Per-function timeouts, as template.yaml sets them; others get ``DEFAULT_TIMEOUT``."""
DEFAULT_TIMEOUT = 30.0
INIT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class OutputLine:
    function: str
    stream: str  # "stdout" or "stderr"
    text: str


OutputHook = Callable[[OutputLine], None]


class FunctionError(RuntimeError):
    """The handler (or its import) raised; ``error`` is Lambda's ``{errorType, errorMessage, stackTrace}``."""

    def __init__(self, function: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"{function}: {error.get('errorType')}: {error.get('errorMessage')}")
        self.function = function
        self.error = dict(error)


class FunctionTimeout(RuntimeError):
    pass


def find_root(start: Path | None = None) -> Path:
    """The project directory holding ``functions/``: the working directory or the package's checkout."""
    for candidate in (start or Path.cwd(), Path(__file__).resolve().parents[3]):
        if (candidate / "functions").is_dir():
            return candidate
    raise FileNotFoundError("cannot find the functions/ directory; run from the project's root")


class FunctionProcess:
    """One warm container. Use ``Runner``; this class is its building block."""

    def __init__(
        self,
        function: str,
        env: Mapping[str, str],
        root: Path,
        emit_line: Callable[[OutputLine], None],
        timeout: float,
    ) -> None:
        self.function = function
        self.timeout = timeout
        self._emit_line = emit_line
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._buffer = b""
        self._closed = False
        self._ends = threading.Semaphore(0)
        request_r, self._request_w = os.pipe()
        self._response_r, response_w = os.pipe()
        child_env = {
            **env,
            "PYTHONUNBUFFERED": "1",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "POWERTOOLS_SERVICE_NAME": env.get("POWERTOOLS_SERVICE_NAME", function),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "lark_service.local.container",
                "--function",
                function,
                "--root",
                str(root),
                "--request-fd",
                str(request_r),
                "--response-fd",
                str(response_w),
            ],
            pass_fds=(request_r, response_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            cwd=root,
        )
        os.close(request_r)
        os.close(response_w)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, "stderr"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            ready = self._receive(INIT_TIMEOUT)
        except (FunctionTimeout, FunctionError):
            self.stop()
            raise
        self._wait_for_output(time.monotonic() + 2)
        if ready.get("type") != "ready":
            self.stop()
            raise FunctionError(
                function, ready.get("error", {"errorType": "InitError", "errorMessage": "no ready"})
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _pump(self, stream: IO[bytes], name: str) -> None:
        for raw in stream:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if INVOCATION_END in text:
                before = text.split(INVOCATION_END, 1)[0]
                if before:
                    self._emit_line(OutputLine(self.function, name, before))
                self._ends.release()
                continue
            self._emit_line(OutputLine(self.function, name, text))
        # EOF: release any waiter for this stream's marker.
        self._ends.release()

    def _wait_for_output(self, deadline: float) -> None:
        """Both streams have delivered everything the invocation printed (bounded)."""
        for _ in range(2):
            if not self._ends.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FunctionTimeout(f"{self.function}: task timed out after {timeout:.2f} seconds")
            readable, _, _ = select.select([self._response_r], [], [], min(remaining, 0.5))
            if readable:
                chunk = os.read(self._response_r, 65536)
                if not chunk:
                    code = self.process.wait(timeout=5)
                    raise FunctionError(
                        self.function, {"errorType": "ProcessExited", "errorMessage": f"exit code {code}"}
                    )
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def invoke(self, event: Any, timeout: float | None = None) -> Any:
        timeout = self.timeout if timeout is None else timeout
        with self._lock:
            request_id = str(uuid.uuid4())
            request = {
                "id": next(self._ids),
                "request_id": request_id,
                "deadline_ms": int((time.time() + timeout) * 1000),
                "event": event,
            }
            data = json.dumps(request).encode("utf-8") + b"\n"
            try:
                self._write_all(data)
                reply = self._receive(timeout)
            except FunctionTimeout:
                self.stop()
                raise
            except (BrokenPipeError, FunctionError) as exc:
                self.stop()
                if isinstance(exc, FunctionError):
                    raise
                raise FunctionError(
                    self.function, {"errorType": "ProcessExited", "errorMessage": "pipe closed"}
                ) from None
            self._wait_for_output(time.monotonic() + 2)
            if reply.get("type") == "error":
                raise FunctionError(self.function, reply.get("error", {}))
            return reply.get("result")

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._request_w, view)
            view = view[written:]

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for fd in (self._request_w, self._response_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        for reader in self._readers:
            reader.join(timeout=2)


class Runner:
    """Starts and invokes function processes; the local stand-in for the Lambda service."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        root: Path | None = None,
        hooks: Iterable[OutputHook] = (),
        function_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.root = root or find_root()
        self.function_env = {k: dict(v) for k, v in (function_env or {}).items()}
        self._hooks: list[OutputHook] = list(hooks)
        self._functions: dict[str, FunctionProcess] = {}
        self._lock = threading.Lock()

    def add_output_hook(self, hook: OutputHook) -> None:
        """Receive every line any function prints (EMF documents are the lines containing ``"_aws"``)."""
        self._hooks.append(hook)

    def _emit(self, line: OutputLine) -> None:
        for hook in list(self._hooks):
            try:
                hook(line)
            except Exception as exc:  # a broken hook must not stop the function's output
                print(f"output hook failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def start(self, function: str, env: Mapping[str, str] | None = None) -> FunctionProcess:
        """Start (or return the running) container for ``functions/<function>``; raises on init errors."""
        with self._lock:
            current = self._functions.get(function)
            if current is not None and current.alive:
                return current
            merged = {**self.env, **self.function_env.get(function, {}), **(env or {})}
            process = FunctionProcess(
                function, merged, self.root, self._emit, TIMEOUTS.get(function, DEFAULT_TIMEOUT)
            )
            self._functions[function] = process
            return process

    def invoke(self, function: str, event: Any, timeout: float | None = None) -> Any:
        """Run one invocation and return the handler's result (starting the container if needed)."""
        return self.start(function).invoke(event, timeout)

    def stop(self) -> None:
        with self._lock:
            functions, self._functions = list(self._functions.values()), {}
        for process in functions:
            process.stop()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
