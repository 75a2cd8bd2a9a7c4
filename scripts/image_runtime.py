"""Run a function's image contents through ``awslambdaric`` where Docker is missing.

CI smoke-tests the real images through the runtime interface emulator. This is the same test
for machines without Docker: it assembles what the image would hold — the function's
requirements installed for the Lambda platform, the code staged through ``.dockerignore``,
bytecode compiled by Python 3.12 (all exactly as ``image_budget.py offline`` does) — and starts
``python3.12 -m awslambdaric app.handler`` against a stand-in for the Lambda Runtime API on
loopback, the way the emulator would.

- ``--expect challenge``: the event is a ``url_verification`` push; the handler's response must
  be HTTP 200 with the challenge.
- ``--expect init``: the runtime must finish its init phase (import the handler module) and
  ask for the first event; an init error (a module the image lacks, a bad configuration) fails.

The runtime process and the server are always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import image_budget
from scripts.image_smoke import LOGICAL_IDS, SmokeError, check_challenge

API = "/2018-06-01/runtime"
REQUEST_ID = "image-runtime-0001"


@dataclass
class _Exchange:
    """What the runtime did, as the stand-in saw it."""

    event: bytes
    serve_event: bool
    asked: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    outcome: dict[str, Any] = field(default_factory=dict)


def _handler_class(exchange: _Exchange) -> type[BaseHTTPRequestHandler]:
    class RuntimeApi(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next" or exchange.asked.is_set():
                return  # a second poll: the one event was handled and the runtime is being stopped
            exchange.asked.set()
            if not exchange.serve_event:
                # Polling for an event means the init phase (the handler's import) succeeded.
                exchange.outcome["init"] = "ok"
                exchange.finished.set()
                return
            self.send_response(200)
            deadline_ms = int((time.time() + 30) * 1000)
            for name, value in (
                ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:000000000000:function:local",
                ),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(exchange.event))),
            ):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(exchange.event)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kinds = {
                f"{API}/invocation/{REQUEST_ID}/response": "response",
                f"{API}/invocation/{REQUEST_ID}/error": "error",
                f"{API}/init/error": "init_error",
            }
            kind = kinds.get(self.path, "unexpected")
            try:
                exchange.outcome[kind] = json.loads(body or b"null")
            except json.JSONDecodeError:
                exchange.outcome[kind] = body.decode(errors="replace")
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            exchange.finished.set()

    return RuntimeApi


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections the stopped runtime leaves half-open are expected, not worth a traceback."""


def run_handler(
    task: Path,
    deps: Path,
    python: str,
    env: Mapping[str, str],
    event: dict[str, Any] | None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Start the runtime on a staged image tree and return what it reported.

    With ``event`` None only the init phase runs. Keys of the result: ``init`` ("ok"),
    ``response``, ``error``, ``init_error``, and ``output`` (the runtime's stdout and stderr).
    """
    exchange = _Exchange(json.dumps(event).encode(), serve_event=event is not None)
    server = _Server(("127.0.0.1", 0), _handler_class(exchange))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runtime_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(deps),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
        "AWS_LAMBDA_FUNCTION_NAME": "local",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "_HANDLER": "app.handler",
        **env,
    }
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [python, "-m", "awslambdaric", "app.handler"],
            cwd=task,
            env=runtime_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            exchange.finished.wait(timeout)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            exchange.finished.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
        output.seek(0)
        result = dict(exchange.outcome)
        result["output"] = output.read().decode(errors="replace")
    return result


def stage_image(function: str, root: Path, python: str, wheelhouse: Path, dest: Path) -> tuple[Path, Path]:
    """Assemble /opt/deps and /var/task for ``function`` under ``dest``, as the Dockerfile does."""
    deps, task = dest / "deps", dest / "task"
    image_budget.install_requirements(root / "functions" / function / "requirements.txt", deps, wheelhouse)
    task.mkdir(parents=True)
    image_budget.stage_code(function, task, root)
    for path in (deps, task):
        image_budget.compile_tree(python, path)
    return deps, task


def verdict(result: Mapping[str, Any], event: dict[str, Any] | None) -> str:
    """The smoke test's judgement of one run (SmokeError when it failed)."""
    if "init_error" in result:
        raise SmokeError(f"the handler did not load: {json.dumps(result['init_error'])[:500]}")
    if event is None:
        if result.get("init") != "ok":
            raise SmokeError("the runtime never finished its init phase")
        return "init phase finished; the runtime asked for an event"
    if "error" in result:
        raise SmokeError(f"the handler raised: {json.dumps(result['error'])[:500]}")
    if "response" not in result:
        raise SmokeError("the runtime never answered the event")
    return check_challenge(event, result["response"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image_runtime", description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", required=True, choices=sorted(LOGICAL_IDS))
    parser.add_argument("--expect", choices=("challenge", "init"), default="init")
    parser.add_argument("--event", type=Path, help="a url_verification fixture (with --expect challenge)")
    parser.add_argument("--env-vars", type=Path, default=image_budget.ROOT / "tests/events/smoke_env.json")
    parser.add_argument("--python", help="a Python 3.12 interpreter")
    parser.add_argument("--cache", default=str(image_budget.ROOT / ".tools" / "image-budget" / "wheels"))
    args = parser.parse_args(argv)
    if args.expect == "challenge" and args.event is None:
        parser.error("--expect challenge needs --event")
    try:
        from scripts.image_smoke import load_env  # noqa: PLC0415 - keeps the import list short

        python = image_budget.find_runtime_python(args.python)
        event = json.loads(args.event.read_text()) if args.expect == "challenge" else None
        with tempfile.TemporaryDirectory(prefix="image-runtime-") as scratch:
            deps, task = stage_image(
                args.function, image_budget.ROOT, python, Path(args.cache), Path(scratch)
            )
            result = run_handler(task, deps, python, load_env(args.env_vars, args.function), event)
        try:
            message = verdict(result, event)
        except SmokeError:
            print(result["output"][-3000:], file=sys.stderr)
            raise
    except (SmokeError, image_budget.BudgetError, OSError, ValueError) as exc:
        print(f"FAIL {args.function}: {exc}", file=sys.stderr)
        return 1
    print(f"ok   {args.function}: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
