"""One function's "container": a child process that imports a handler once and serves invocations.

Started by ``lark_service.devtools.local.runner``; not meant to be run by hand. The handler's stdout and
stderr stay the function's own (the runner captures them), so invocations travel over two
inherited pipes instead: one JSON line per request in, one JSON line per reply out.

Messages out: ``{"type": "ready"}`` after the import (Lambda's init phase), or
``{"type": "init_error", "error": {...}}``; then per request ``{"type": "result", "id", "result"}``
or ``{"type": "error", "id", "error": {"errorType", "errorMessage", "stackTrace"}}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

INVOCATION_END = "\x1elark-service-invocation-end\x1e"
"""Written to stdout and stderr after each invocation so the runner knows the output is complete."""


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, request_id: str, deadline_ms: int, memory_mb: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(root: Path, function: str) -> Any:
    path = root / "functions" / function / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"no handler at functions/{function}/app.py")
    spec = importlib.util.spec_from_file_location(f"{function}_app", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load functions/{function}/app.py")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.handler


def error_doc(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-6:],
    }


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message, default=str).encode("utf-8") + b"\n")
    out.flush()


def _end_of_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.write(INVOCATION_END + "\n")
        stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--function", required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, default=512)
    args = parser.parse_args(argv)
    # Ctrl-C in a terminal reaches the whole process group; the runner stops containers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(args.request_fd, "rb")
    responses = os.fdopen(args.response_fd, "wb")
    try:
        handler = load_handler(args.root, args.function)
    except BaseException as exc:
        traceback.print_exc()
        _end_of_output()
        _send(responses, {"type": "init_error", "error": error_doc(exc)})
        return 1
    _end_of_output()
    _send(responses, {"type": "ready"})
    for line in requests:
        request = json.loads(line)
        context = LambdaContext(args.function, request["request_id"], request["deadline_ms"], args.memory_mb)
        try:
            reply = {"type": "result", "id": request["id"], "result": handler(request["event"], context)}
        except Exception as exc:
            traceback.print_exc()
            reply = {"type": "error", "id": request["id"], "error": error_doc(exc)}
        _end_of_output()
        _send(responses, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
