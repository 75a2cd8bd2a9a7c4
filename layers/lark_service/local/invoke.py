"""``lark-service invoke FUNCTION --event FILE``: one invocation, as ``sam local invoke`` does it.

A fresh process imports ``functions/<FUNCTION>/app.py`` (so every run is a cold start), with the
current environment plus ``--env-vars`` (SAM's format: ``Parameters`` for every function, then
the function's logical id or folder name). The function's own output (logs, EMF) is printed as
it is, then the JSON result on the last line of stdout, so the output can be piped straight
into ``lark-service exporter --stdin``. ``--local-aws`` runs the invocation against a throwaway
moto server holding the stack's table and queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

LOGICAL_IDS = {
    "webhook": "WebhookFunction",
    "worker": "WorkerFunction",
    "token_refresh": "TokenRefreshFunction",
    "alert_notifier": "AlertNotifierFunction",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "function", help="folder under functions/: webhook, worker, token_refresh, alert_notifier"
    )
    parser.add_argument("--event", "-e", required=True, help="event JSON file, or - for stdin")
    parser.add_argument("--env-vars", "-n", type=Path, help="environment JSON in `sam local invoke` format")
    parser.add_argument(
        "--local-aws",
        action="store_true",
        help="start a moto server with the stack's table and queue for this run",
    )
    parser.add_argument("--timeout", type=float, help="seconds before the invocation is killed")


def env_from_file(path: Path, function: str) -> dict[str, str]:
    """SAM's ``--env-vars``: ``Parameters`` apply to every function, then the function's own block."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--env-vars {path}: cannot read a JSON object ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise SystemExit(f"--env-vars {path}: not a JSON object")
    env: dict[str, str] = {}
    for block in ("Parameters", LOGICAL_IDS.get(function, ""), function):
        values = doc.get(block)
        if isinstance(values, dict):
            env.update({str(k): str(v) for k, v in values.items()})
    return env


def read_event(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--event {source}: cannot read a JSON event ({type(exc).__name__})") from None


def run(args: argparse.Namespace) -> int:
    from lark_service.local.runner import FunctionError, FunctionTimeout, OutputLine, Runner, find_root  # noqa: PLC0415

    root = find_root()
    if not (root / "functions" / args.function / "app.py").is_file():
        print(
            f"lark-service invoke: no function {args.function!r} (functions/{args.function}/app.py)",
            file=sys.stderr,
        )
        return 2
    event = read_event(args.event)
    env = dict(os.environ)
    if args.env_vars:
        env.update(env_from_file(args.env_vars, args.function))

    def echo(line: OutputLine) -> None:
        print(line.text, file=sys.stdout if line.stream == "stdout" else sys.stderr, flush=True)

    with ExitStack() as stack:
        if args.local_aws:
            from lark_service.local.aws import create_stack, moto_server  # noqa: PLC0415

            endpoint = stack.enter_context(moto_server())
            env.update(create_stack(endpoint).environ())
        runner = stack.enter_context(Runner(env, root=root, hooks=[echo]))
        try:
            result = runner.invoke(args.function, event, args.timeout)
        except FunctionError as exc:
            print(
                json.dumps({k: exc.error[k] for k in ("errorType", "errorMessage") if k in exc.error}),
                flush=True,
            )
            return 1
        except FunctionTimeout as exc:
            print(json.dumps({"errorType": "TimeoutError", "errorMessage": str(exc)}), flush=True)
            return 1
        print(json.dumps(result), flush=True)
    return 0
