"""Smoke-test a built function image through the Lambda runtime interface emulator (RIE).

The image is started as Lambda would start it (its ENTRYPOINT and CMD, behind the emulator),
given one event from ``tests/events/``, and its answer is checked:

- ``challenge``: a Function URL ``url_verification`` push must come back as HTTP 200 with the
  very challenge it carried — the webhook's whole cold path, configuration included.
- ``runs``: the handler must have been loaded and run. An error the handler raises is accepted
  (no AWS or Lark is reachable from the smoke test); an init failure (``Runtime.*`` errors such
  as a missing module) is not, because it means the image lacks something the code imports.

The emulator binary is the one SAM CLI ships (pinned with SAM CLI), mounted read-only. The image
runs as Lambda runs it: as a non-root user, on a read-only file system with a writable ``/tmp``.

Networks: ``--network bridge`` publishes the emulator's port (Docker's default network);
``--network host`` needs no bridge at all — the emulator and its Runtime API listen on free
loopback ports instead of 8080/9001 — so it runs where Docker has no bridge, and the function can
reach services on the host's loopback (a moto server, the Lark sandbox).

``--sam-rebuild`` first does what ``sam local invoke`` does to an image function: build
``FROM <image>`` + ``ADD`` the emulator + ``RUN mv … && chmod +x …`` (the Dockerfile SAM CLI
generates, ``sam_rebuild_dockerfile``), then starts the rebuilt image with SAM's entry point
(``/var/rapid/aws-lambda-rie --log-level error`` + the image's ENTRYPOINT) and its CMD. That
``RUN`` fails on an image whose last USER is not root (aws/aws-sam-cli#3891).

Only the standard library is used; containers and rebuilt images are always removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LAMBDA_USER = "993:990"
"""Lambda's sandbox user (sbx_user1051) and group; any non-root id shows the same thing."""
SAM_RIE_DIR = "/var/rapid/"
SAM_ENTRYPOINT = [f"{SAM_RIE_DIR}aws-lambda-rie", "--log-level", "error"]
"""samcli/local/docker/lambda_container.py, ``LambdaContainer._get_default_entry_point``."""
LOGICAL_IDS = {
    "webhook": "WebhookFunction",
    "worker": "WorkerFunction",
    "token_refresh": "TokenRefreshFunction",
    "alert_notifier": "AlertNotifierFunction",
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


def sam_rebuild_dockerfile(base_image: str, architecture: str = "x86_64") -> str:
    """The Dockerfile ``sam local invoke`` builds on top of an image function (no layers).

    aws-sam-cli 1.170.0, samcli/local/docker/lambda_image.py, ``LambdaImage._generate_dockerfile``
    and ``get_rapid_name``; tests compare this with SAM CLI's own function.
    """
    rie_name = f"aws-lambda-rie-{architecture}"
    return (
        f"FROM {base_image}\n"
        f"ADD {rie_name} {SAM_RIE_DIR}\n"
        f"RUN mv {SAM_RIE_DIR}{rie_name} {SAM_RIE_DIR}aws-lambda-rie && chmod +x {SAM_RIE_DIR}aws-lambda-rie\n"
    )


def sam_rebuild(image: str, rie: Path, tag: str, architecture: str = "x86_64") -> str:
    """Build SAM CLI's image on top of ``image`` (host network, as everything here); return the tag."""
    with tempfile.TemporaryDirectory(prefix="sam-rebuild-") as context:
        Path(context, "Dockerfile").write_text(sam_rebuild_dockerfile(image, architecture))
        shutil.copyfile(rie, Path(context, f"aws-lambda-rie-{architecture}"))
        _docker("build", "--network", "host", "--force-rm", "--quiet", "--tag", tag, context, timeout=300)
    return tag


def image_command(image: str) -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT and CMD, which the emulator starts as Lambda would."""
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", image))
    return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(
    image: str,
    function: str,
    event_path: Path,
    env_path: Path,
    rie: Path,
    expect: str,
    network: str = "bridge",
    rebuild: bool = False,
) -> str:
    event = json.loads(event_path.read_text())
    env = load_env(env_path, function)
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    rebuilt = (
        sam_rebuild(image, rie, f"{image.split(':', maxsplit=1)[0]}:sam-rebuild-{free_port()}")
        if rebuild
        else None
    )
    entrypoint, command = image_command(rebuilt or image)
    if rebuilt:
        emulator, mounts = SAM_ENTRYPOINT, []
    else:
        emulator, mounts = ["/aws-lambda-rie"], ["--volume", f"{rie.resolve()}:/aws-lambda-rie:ro"]
    if network == "host":
        rie_port = free_port()
        emulator = [
            *emulator,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{rie_port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",
        ]
        network_args = ["--network", "host"]
    else:
        network_args = ["--publish", "127.0.0.1::8080"]
    try:
        container = _docker(
            "run",
            "--detach",
            *network_args,
            "--user",
            LAMBDA_USER,
            "--read-only",
            "--tmpfs",
            "/tmp",  # noqa: S108 - Lambda's only writable folder
            *mounts,
            "--entrypoint",
            emulator[0],
            *env_args,
            rebuilt or image,
            *emulator[1:],
            *entrypoint,
            *command,
        )
        try:
            if network == "host":
                host_port = str(rie_port)
            else:
                host_port = _docker("port", container, "8080/tcp").splitlines()[0].rsplit(":", 1)[1]
            url = f"http://127.0.0.1:{host_port}{INVOKE_PATH}"
            response = invoke(url, json.dumps(event).encode(), time.monotonic() + 30)
            verdict = check_challenge(event, response) if expect == "challenge" else check_runs(response)
        except SmokeError:
            print(_docker("logs", container), file=sys.stderr)
            raise
        finally:
            _remove("rm", "--force", container)
    finally:
        if rebuilt:
            _remove("rmi", "--force", rebuilt)
    return f"{verdict} (after SAM CLI's rebuild)" if rebuilt else verdict


def _remove(*args: str) -> None:
    subprocess.run(  # noqa: S603 - fixed argv, our own container or image
        ["docker", *args],  # noqa: S607 - docker was found on PATH before anything was created
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
    parser.add_argument(
        "--network",
        choices=("bridge", "host"),
        default="bridge",
        help="host: no Docker bridge needed; the emulator listens on free loopback ports",
    )
    parser.add_argument(
        "--sam-rebuild", action="store_true", help="first rebuild the image as sam local invoke does"
    )
    args = parser.parse_args(argv)
    try:
        verdict = run(
            args.image,
            args.function,
            args.event,
            args.env_vars,
            args.rie,
            args.expect,
            network=args.network,
            rebuild=args.sam_rebuild,
        )
    except (SmokeError, OSError, ValueError, KeyError) as exc:
        print(f"FAIL {args.image}: {exc}", file=sys.stderr)
        return 1
    print(f"ok   {args.image}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
