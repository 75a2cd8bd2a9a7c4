"""Smoke-test a built function image through the Lambda runtime interface emulator (RIE).

The image is started as Lambda would start it (its ENTRYPOINT and CMD, behind the emulator),
given one event from ``tests/events/``, and its answer is checked:

- ``challenge``: a Function URL ``url_verification`` push must come back as HTTP 200 with the
  very challenge it carried — the webhook's whole cold path, configuration included.
- ``runs``: the handler must have been loaded and run. An error the handler raises is accepted
  (no AWS or Lark is reachable from the smoke test); an init failure (``Runtime.*`` errors such
  as a missing module) is not, because it means the image lacks something the code imports.

The emulator binary is the one SAM CLI ships (pinned with SAM CLI), mounted read-only. Only the
standard library is used; the container is always removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LOGICAL_IDS = {
    "webhook": "WebhookFunction",
    "worker": "WorkerFunction",
    "token_refresh": "TokenRefreshFunction",
}


class SmokeError(RuntimeError):
    """The image failed the smoke test; the message says how."""


def check_challenge(event: dict[str, Any], response: Any) -> str:
    """The webhook's answer to a plain url_verification push, or why it is wrong."""
    expected = json.loads(event["body"])["challenge"]
    if not isinstance(response, dict) or response.get("statusCode") != 200:
        raise SmokeError(f"expected an HTTP 200 Function URL response, got {json.dumps(response)[:500]}")
    try:
        body = json.loads(response.get("body") or "")
    except json.JSONDecodeError as exc:
        raise SmokeError(f"the response body is not JSON: {response.get('body')!r}") from exc
    if body != {"challenge": expected}:
        raise SmokeError(f"expected {{'challenge': {expected!r}}}, got {body!r}")
    return f"answered the challenge {expected!r}"


def check_runs(response: Any) -> str:
    """Accept any answer of a handler that ran; refuse the runtime's own init failures."""
    if isinstance(response, dict) and "errorType" in response:
        error_type = str(response["errorType"])
        if error_type.startswith("Runtime."):
            raise SmokeError(f"the handler did not load: {error_type}: {response.get('errorMessage')}")
        return f"handler ran and raised {error_type} (no AWS or Lark in the smoke test)"
    return f"handler ran and returned {json.dumps(response)[:200]}"


def load_env(path: Path, function: str) -> dict[str, str]:
    """The function's variables from a ``sam local invoke --env-vars`` file."""
    document = json.loads(path.read_text())
    section = document.get(LOGICAL_IDS[function])
    if not isinstance(section, dict):
        raise SmokeError(f"{path} has no {LOGICAL_IDS[function]} section")
    return {str(key): str(value) for key, value in section.items()}


def _docker(*args: str, timeout: float = 60) -> str:
    executable = shutil.which("docker")
    if executable is None:
        raise SmokeError("docker is not on PATH")
    proc = subprocess.run(  # noqa: S603 - fixed argv
        [executable, *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if proc.returncode != 0:
        raise SmokeError(f"docker {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def invoke(url: str, payload: bytes, deadline: float) -> Any:
    """POST the event, retrying only while the emulator is still starting."""
    while True:
        request = urllib.request.Request(url, data=payload, method="POST")  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=90) as reply:  # noqa: S310
                return json.loads(reply.read() or b"null")
        except (urllib.error.URLError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise SmokeError(f"the emulator at {url} did not answer: {exc}") from exc
            time.sleep(0.5)


def run(image: str, function: str, event_path: Path, env_path: Path, rie: Path, expect: str) -> str:
    event = json.loads(event_path.read_text())
    env = load_env(env_path, function)
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    container = _docker(
        "run",
        "--detach",
        "--publish",
        "127.0.0.1::8080",
        "--volume",
        f"{rie.resolve()}:/aws-lambda-rie:ro",
        "--entrypoint",
        "/aws-lambda-rie",
        *env_args,
        image,
        # The image's own ENTRYPOINT and CMD, which the emulator starts as Lambda would.
        "/usr/local/bin/python",
        "-m",
        "awslambdaric",
        "app.handler",
    )
    try:
        host_port = _docker("port", container, "8080/tcp").splitlines()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{host_port}{INVOKE_PATH}"
        response = invoke(url, json.dumps(event).encode(), time.monotonic() + 30)
        return check_challenge(event, response) if expect == "challenge" else check_runs(response)
    except SmokeError:
        print(_docker("logs", container), file=sys.stderr)
        raise
    finally:
        subprocess.run(  # noqa: S603 - fixed argv, our own container id
            ["docker", "rm", "--force", container],  # noqa: S607 - docker was found on PATH above
            capture_output=True,
            check=False,
            timeout=60,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image_smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--function", required=True, choices=sorted(LOGICAL_IDS))
    parser.add_argument("--event", required=True, type=Path, help="a fixture from tests/events/")
    parser.add_argument("--env-vars", required=True, type=Path, help="sam local invoke --env-vars file")
    parser.add_argument("--rie", required=True, type=Path, help="the aws-lambda-rie binary")
    parser.add_argument("--expect", choices=("challenge", "runs"), default="runs")
    args = parser.parse_args(argv)
    try:
        verdict = run(args.image, args.function, args.event, args.env_vars, args.rie, args.expect)
    except (SmokeError, OSError, ValueError, KeyError) as exc:
        print(f"FAIL {args.image}: {exc}", file=sys.stderr)
        return 1
    print(f"ok   {args.image}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
