"""``lark-service invoke FUNCTION --event FILE``: one invocation, as ``sam local invoke`` does it.

FUNCTION is the template's logical id (``WebhookFunction``), as a SAM user types it, or the
folder under ``functions/`` (``webhook``). A fresh process imports ``functions/<folder>/app.py``
(so every run is a cold start), with the current environment plus ``--env-vars`` (SAM's format:
``Parameters`` for every function, then the function's own block, by logical id or folder). The
function's own output (logs, EMF) is printed as it is, then the JSON result on the last line of
stdout, so the output can be piped straight into ``lark-service exporter --stdin``.

``--local-aws`` runs the invocation against a throwaway moto server holding the stack's tables and
queues, and a Lark sandbox that knows the app's id and secret (unless ``LARK_BASE_URL`` points
elsewhere), so nothing is retried against the real Lark with local credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

PROG = "lark-service invoke"
LOGICAL_IDS = {
    "webhook": "WebhookFunction",
    "worker": "WorkerFunction",
    "token_refresh": "TokenRefreshFunction",
    "alert_notifier": "AlertNotifierFunction",
}
NEEDS_AWS = {
    "webhook": ("IDEMPOTENCY_TABLE", "EVENTS_QUEUE_URL"),
    "worker": ("IDEMPOTENCY_TABLE", "TOKEN_TABLE"),
    "token_refresh": ("TOKEN_TABLE",),
}
"""What each function cannot start without (it stops at init naming the first one missing)."""


class InvokeError(Exception):
    """A usage problem, reported as one line naming the command and exit status 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "function", help=f"a logical id ({', '.join(LOGICAL_IDS.values())}) or a folder under functions/"
    )
    parser.add_argument("--event", "-e", required=True, help="event JSON file, or - for stdin")
    parser.add_argument("--env-vars", "-n", type=Path, help="environment JSON in `sam local invoke` format")
    parser.add_argument(
        "--local-aws",
        action="store_true",
        help="start a throwaway moto server with the stack's tables and queues, and a Lark sandbox",
    )
    parser.add_argument("--timeout", type=float, help="seconds before the invocation is killed")


def resolve_function(name: str) -> str:
    """The folder under ``functions/`` for a logical id or folder name, or a list of valid names."""
    by_logical_id = {logical_id.lower(): folder for folder, logical_id in LOGICAL_IDS.items()}
    folder = name if name in LOGICAL_IDS else by_logical_id.get(name.lower())
    if folder is None:
        valid = [*LOGICAL_IDS.values(), *LOGICAL_IDS]
        raise InvokeError(f"no function {name!r}; choose one of: {', '.join(valid)}")
    return folder


def env_from_file(path: Path, function: str) -> dict[str, str]:
    """SAM's ``--env-vars``: ``Parameters`` apply to every function, then the function's own block."""
    doc = _read_json(path.read_text() if path.exists() else None, f"--env-vars {path}")
    if not isinstance(doc, dict):
        raise InvokeError(f"--env-vars {path}: not a JSON object")
    env: dict[str, str] = {}
    for block in ("Parameters", LOGICAL_IDS.get(function, ""), function):
        values = doc.get(block)
        if isinstance(values, dict):
            env.update({str(k): str(v) for k, v in values.items()})
    return env


def read_event(source: str) -> Any:
    if source == "-":
        return _read_json(sys.stdin.read(), "--event -")
    path = Path(source)
    return _read_json(path.read_text() if path.is_file() else None, f"--event {source}")


def _read_json(text: str | None, what: str) -> Any:
    if text is None:
        raise InvokeError(f"{what}: no such file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvokeError(
            f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except InvokeError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from lark_service.local.runner import FunctionError, FunctionTimeout, OutputLine, Runner, find_root  # noqa: PLC0415

    function = resolve_function(args.function)
    root = find_root()
    event = read_event(args.event)
    env = dict(os.environ)
    if args.env_vars:
        env.update(env_from_file(args.env_vars, function))
    missing = [name for name in NEEDS_AWS[function] if not env.get(name)]
    if missing and not args.local_aws:
        raise InvokeError(
            f"{LOGICAL_IDS[function]} needs {', '.join(missing)}: add --local-aws to run against a "
            "throwaway local AWS and Lark sandbox, or set them (with AWS_ENDPOINT_URL for a local AWS)"
        )

    def echo(line: OutputLine) -> None:
        print(line.text, file=sys.stdout if line.stream == "stdout" else sys.stderr, flush=True)

    with ExitStack() as stack:
        if args.local_aws:
            env.update(_start_local_aws(stack, env))
        runner = stack.enter_context(Runner(env, root=root, hooks=[echo]))
        try:
            result = runner.invoke(function, event, args.timeout)
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


def _start_local_aws(stack: ExitStack, env: dict[str, str]) -> dict[str, str]:
    """moto with the stack's resources, and the Lark sandbox unless LARK_BASE_URL is set."""
    from lark_service.local.aws import create_stack, moto_server  # noqa: PLC0415
    from lark_service.local.samples import LOCAL_APP_ID, LOCAL_APP_SECRET  # noqa: PLC0415
    from lark_service.sandbox.server import SandboxServer  # noqa: PLC0415
    from lark_service.sandbox.state import SandboxApp, SandboxState  # noqa: PLC0415

    extra = create_stack(stack.enter_context(moto_server())).environ()
    if not env.get("LARK_BASE_URL"):
        app = SandboxApp(
            env.get("LARK_APP_ID") or LOCAL_APP_ID,
            env.get("LARK_APP_SECRET") or LOCAL_APP_SECRET,
            env.get("LARK_APP_TYPE", "self_built"),  # type: ignore[arg-type]
        )
        sandbox = stack.enter_context(SandboxServer(SandboxState([app])))
        extra["LARK_BASE_URL"] = sandbox.url
    return extra
