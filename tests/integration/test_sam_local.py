"""The documented ``sam local invoke`` commands, through SAM CLI's own code.

``sam local invoke`` itself needs Docker's bridge network; what decides whether it works is what
SAM passes the function. ``sam_probe.py`` runs the real ``sam local invoke`` command line (SAM CLI
from ``.tools/sam``) in a project laid out as ``sam build`` leaves it and records the environment
SAM resolves from template.yaml, samconfig.toml's ``[default.local_invoke.parameters]``, the
``--env-vars`` file and the shell. The function then runs with exactly that environment (the
local runner imports ``functions/<name>/app.py`` as the image does) and must answer as documented.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lark_service.devtools.local.aws import Stack, create_stack, moto_server
from lark_service.devtools.local.runner import Runner
from tests.conftest import EVENTS, ROOT

SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
PROBE = Path(__file__).with_name("sam_probe.py")
IMAGE_TAGS = {
    "WebhookFunction": "webhook",
    "WorkerFunction": "worker",
    "TokenRefreshFunction": "token-refresh",
}

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _sam_cli_installed() -> None:
    """SAM CLI is the oracle here; `make test` installs it, so its absence fails, never skips."""
    if not SAM_PYTHON.exists():
        pytest.fail("SAM CLI is not installed: run `make tools` first")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as ``sam build`` leaves it: the built template names each function's image.

    ``sam build`` copies the template to ``.aws-sam/build/template.yaml`` and sets each image
    function's ``ImageUri`` to ``<logical id lower-cased>:<DockerTag>`` (aws/aws-sam-cli
    ``samcli/lib/build/app_builder.py``, ``_build_lambda_image`` and ``update_template``).
    """
    root = tmp_path_factory.mktemp("sam-project")
    (root / ".aws-sam" / "build").mkdir(parents=True)
    for name in ("samconfig.toml", "tests"):
        (root / name).symlink_to(ROOT / name)
    template = (ROOT / "template.yaml").read_text()
    for logical_id, tag in IMAGE_TAGS.items():
        header = f"  {logical_id}:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        assert header in template, f"{logical_id} not found in template.yaml"
        template = template.replace(header, f"{header}      ImageUri: {logical_id.lower()}:{tag}\n")
    (root / ".aws-sam" / "build" / "template.yaml").write_text(template)
    return root


def sam_local_invoke(project: Path, *args: str, shell: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``sam local invoke ARGS`` would start the function with; ``shell`` is the caller's env."""
    out = project / "probe.json"
    out.unlink(missing_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(project), "SAM_CLI_TELEMETRY": "0"}
    env |= {"SAM_PROBE_OUT": str(out), **(shell or {})}
    proc = subprocess.run(
        [str(SAM_PYTHON), str(PROBE), "invoke", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_function(function: str, env: dict[str, str | None], event: Any) -> Any:
    """Run the handler with SAM's environment (an image function's handler variable is None)."""
    with Runner({k: v for k, v in env.items() if v is not None}, root=ROOT) as runner:
        return runner.invoke(function, event, 60)


@pytest.fixture(scope="module")
def local_aws() -> Iterator[Stack]:
    with moto_server() as endpoint:
        yield create_stack(endpoint)


@pytest.mark.parametrize("function", ["WebhookFunction", "WorkerFunction", "TokenRefreshFunction"])
def test_every_function_gets_the_fixture_configuration(project: Path, function: str) -> None:
    """As documented: no --env-vars and no --parameter-overrides on the command line."""
    event = "url_verification.json" if function == "WebhookFunction" else "token_refresh_scheduled.json"
    probe = sam_local_invoke(project, function, "-e", f"tests/events/{event}")
    env = probe["env"]
    env_file = json.loads((EVENTS / "env.json").read_text())
    for name, value in env_file["Parameters"].items():
        assert env[name] == value, f"{function} gets {name}={env[name]!r}"
    assert env["LARK_SECRET_ID"] == ""  # not the template's secret name: nothing reaches Secrets Manager
    assert env["AWS_ENDPOINT_URL"] == ""  # boto3's own endpoints unless the shell says otherwise
    assert probe["imageuri"] == f"{function.lower()}:{IMAGE_TAGS[function]}"
    assert probe["architecture"] == "arm64"


def test_webhook_answers_the_encrypted_challenge_as_sam_starts_it(project: Path) -> None:
    probe = sam_local_invoke(project, "WebhookFunction", "-e", "tests/events/url_verification.json")
    event = json.loads(probe["event"])
    reply = run_function("webhook", probe["env"], event)
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"])["challenge"].startswith("challenge-")


def test_signed_fixture_reaches_the_queue_through_the_shells_endpoint(
    project: Path, local_aws: Stack
) -> None:
    """A declared variable takes the shell's value (SAM's ``EnvironmentVariables.resolve``)."""
    shell = {"AWS_ENDPOINT_URL": local_aws.endpoint, **local_aws.environ()}
    probe = sam_local_invoke(
        project, "WebhookFunction", "-e", "tests/events/event_v2_message.json", shell=shell
    )
    env = probe["env"]
    assert env["AWS_ENDPOINT_URL"] == local_aws.endpoint
    assert env["EVENTS_QUEUE_URL"] == local_aws.events_queue_url
    assert (
        env["LARK_DEDUPE_TTL_SECONDS"]
        == json.loads((EVENTS / "env.json").read_text())["WebhookFunction"]["LARK_DEDUPE_TTL_SECONDS"]
    )
    reply = run_function("webhook", env, json.loads(probe["event"]))
    assert reply["statusCode"] == 200, reply  # not 401 "stale": the replay window came through
    import boto3

    sqs = boto3.client("sqs", endpoint_url=local_aws.endpoint, region_name="us-east-1")
    received = sqs.receive_message(QueueUrl=local_aws.events_queue_url, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    # The fixture generator seeds each event id with SHA-256 of the fixture's name.
    expected_id = hashlib.sha256(b"event_v2_message").hexdigest()[:32]
    assert [(b["event_type"], b["event_id"]) for b in bodies] == [("im.message.receive_v1", expected_id)]


def test_without_the_env_file_sam_would_hand_over_the_template_values(project: Path, tmp_path: Path) -> None:
    """The failure the env file prevents: the derived secret name, and the fixtures' 401."""
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    probe = sam_local_invoke(
        project, "WebhookFunction", "-e", "tests/events/url_verification.json", "-n", str(empty)
    )
    assert probe["env"]["LARK_SECRET_ID"] == "lark-service/dev"
    assert probe["env"]["LARK_VERIFICATION_TOKEN"] == ""


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_the_smoke_tests_rebuild_step_is_sams_own(architecture: str) -> None:
    """scripts/image_smoke.py --sam-rebuild writes the Dockerfile SAM CLI's generator writes."""
    from scripts.image_smoke import sam_rebuild_dockerfile

    out = subprocess.run(
        [str(SAM_PYTHON), str(PROBE), "dockerfile", "lark-service:webhook", architecture],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert sam_rebuild_dockerfile("lark-service:webhook", architecture) == json.loads(out[0])
    assert json.loads(out[1])["name"] == f"aws-lambda-rie-{architecture}"
