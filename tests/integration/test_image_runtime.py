"""What each image holds is enough to run its handler under the real runtime interface client.

No Docker here, so the image's file system is assembled as the Dockerfile does (Lambda-platform
wheels from the function's requirements, code through ``.dockerignore``, Python 3.12 bytecode)
and ``python3.12 -m awslambdaric app.handler`` runs it against a Runtime API stand-in on
loopback. Stand-in handlers probe the images' edges; the real handlers are run whenever their
``functions/<name>/app.py`` is in the tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts import image_budget, image_runtime, image_smoke, image_trim
from scripts.image_smoke import SmokeError, load_env
from tests.conftest import EVENTS, ROOT

pytestmark = pytest.mark.integration

WHEELS = ROOT / ".tools" / "image-budget" / "wheels"
SMOKE_ENV = EVENTS / "smoke_env.json"
CHALLENGE = {
    "version": "2.0",
    "rawPath": "/lark/events",
    "requestContext": {"http": {"method": "POST", "path": "/lark/events"}},
    "headers": {"content-type": "application/json"},
    "body": json.dumps(
        {"challenge": "c-image-runtime", "token": "local-verification-token", "type": "url_verification"}
    ),
    "isBase64Encoded": False,
}

STANDIN_WEBHOOK = """
import json

import aws_lambda_powertools
import boto3
from cryptography.hazmat.primitives.ciphers import Cipher

from lark_service.config import load_settings

SETTINGS = load_settings()


def handler(event, context):
    body = json.loads(event["body"])
    token = SETTINGS.verification_token
    if token is None or body["token"] != token.get_secret_value():
        return {"statusCode": 403, "body": "{}"}
    return {"statusCode": 200, "body": json.dumps({"challenge": body["challenge"]})}
"""


@pytest.fixture(scope="module")
def python() -> str:
    return image_budget.find_runtime_python(None)


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Each function's /opt/deps, installed once per module."""
    built: dict[str, Path] = {}

    def build(function: str) -> Path:
        if function not in built:
            target = tmp_path_factory.mktemp(f"deps-{function}") / "deps"
            image_budget.install_requirements(
                ROOT / "functions" / function / "requirements.txt", target, WHEELS
            )
            image_budget.compile_tree(image_budget.find_runtime_python(None), target)
            built[function] = target
        return built[function]

    return build


def _standin_repo(tmp_path: Path, function: str, app_source: str) -> Path:
    """The repository as the image build sees it, with a stand-in handler for ``function``."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "layers" / "lark_service", repo / "layers" / "lark_service")
    shutil.copy(ROOT / ".dockerignore", repo / ".dockerignore")
    (repo / "functions" / function).mkdir(parents=True)
    shutil.copy(ROOT / "functions" / function / "requirements.txt", repo / "functions" / function)
    (repo / "functions" / function / "app.py").write_text(app_source)
    return repo


def _run(repo: Path, function: str, deps: Path, python: str, tmp_path: Path, event: dict | None) -> dict:
    task = tmp_path / "task"
    task.mkdir()
    image_budget.stage_code(function, task, repo)
    image_budget.compile_tree(python, task)
    return image_runtime.run_handler(task, deps, python, load_env(SMOKE_ENV, function), event)


def test_webhook_image_runs_a_handler_using_its_dependencies(
    tmp_path: Path, python: str, deps: Callable[[str], Path]
) -> None:
    repo = _standin_repo(tmp_path, "webhook", STANDIN_WEBHOOK)
    result = _run(repo, "webhook", deps("webhook"), python, tmp_path, CHALLENGE)
    assert image_runtime.verdict(result, CHALLENGE) == "answered the challenge 'c-image-runtime'"
    assert json.loads(result["response"]["body"]) == {"challenge": "c-image-runtime"}


def test_worker_image_holds_the_http_client(tmp_path: Path, python: str, deps: Callable[[str], Path]) -> None:
    source = "import httpx\nimport boto3\n\ndef handler(event, context):\n    return {}\n"
    result = _run(_standin_repo(tmp_path, "worker", source), "worker", deps("worker"), python, tmp_path, None)
    assert image_runtime.verdict(result, None).startswith("init phase finished")


def test_webhook_image_lacks_what_only_the_others_need(
    tmp_path: Path, python: str, deps: Callable[[str], Path]
) -> None:
    source = "import httpx\n\ndef handler(event, context):\n    return {}\n"
    result = _run(
        _standin_repo(tmp_path, "webhook", source), "webhook", deps("webhook"), python, tmp_path, None
    )
    assert result["init_error"]["errorType"] == "Runtime.ImportModuleError"
    assert "httpx" in result["init_error"]["errorMessage"]
    with pytest.raises(SmokeError, match="did not load"):
        image_runtime.verdict(result, None)


def test_local_only_code_stays_out_of_the_image(
    tmp_path: Path, python: str, deps: Callable[[str], Path]
) -> None:
    source = "import lark_service.devtools.local.aws\n\ndef handler(event, context):\n    return {}\n"
    result = _run(_standin_repo(tmp_path, "worker", source), "worker", deps("worker"), python, tmp_path, None)
    assert "No module named 'lark_service.devtools'" in result["init_error"]["errorMessage"]


@pytest.mark.parametrize("function", ["webhook", "worker", "token_refresh"])
def test_each_real_handler_loads_in_its_image(
    function: str, tmp_path: Path, python: str, deps: Callable[[str], Path]
) -> None:
    """The real handler under its own image; the webhook must answer the challenge fixture."""
    fixture = EVENTS / "url_verification_plain.json"
    event = json.loads(fixture.read_text()) if function == "webhook" else None
    result = _run(ROOT, function, deps(function), python, tmp_path, event)
    message = image_runtime.verdict(result, event)
    assert message.startswith("answered the challenge" if event else "init phase finished"), result["output"]


# --- SAM CLI's image rebuild and the real images under the emulator, where Docker runs -----------

SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"


def _sam(code: str) -> str:
    if not SAM_PYTHON.exists():  # make test installs it; a missing oracle must not pass silently
        pytest.fail("SAM CLI is not installed: run `make tools` first")
    return subprocess.run(
        [str(SAM_PYTHON), "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def test_the_rebuilt_image_starts_with_sam_clis_own_entry_point() -> None:
    """The rebuild's Dockerfile is checked in test_sam_local.py; this is how SAM then starts it."""
    entry = _sam(
        "import json; from samcli.local.docker.lambda_container import LambdaContainer\n"
        "print(json.dumps(LambdaContainer._get_default_entry_point()))"
    )
    assert json.loads(entry) == image_smoke.SAM_ENTRYPOINT


def test_trimmed_botocore_has_the_declared_services_and_no_other(
    python: str, deps: Callable[[str], Path]
) -> None:
    probe = (
        "import sys, botocore.session, botocore.exceptions\n"
        "s = botocore.session.get_session()\n"
        "for name in sys.argv[1:]: s.create_client(name, region_name='us-east-1')\n"
        "try:\n    s.create_client('s3', region_name='us-east-1')\n"
        "except botocore.exceptions.UnknownServiceError:\n    print('s3 dropped')\n"
    )
    for function in ("webhook", "worker"):
        services = image_trim.declared_services(ROOT / "functions" / function / "requirements.txt")
        out = subprocess.run(
            [python, "-S", "-c", probe, *services],
            env={"PYTHONPATH": str(deps(function)), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        assert out.strip() == "s3 dropped"


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=60)
    return probe.returncode == 0


docker = pytest.mark.skipif(not _docker_ready(), reason="no Docker daemon")


@pytest.fixture(scope="module")
def rie() -> Path:
    """The runtime interface emulator that SAM CLI ships."""
    found = sorted(
        (ROOT / ".tools" / "sam").glob("lib/python*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
    )
    if not found:  # make test installs it; a missing emulator must not pass silently
        pytest.fail("SAM CLI's runtime interface emulator is missing: run `make tools` first")
    return found[0]


@pytest.fixture(scope="module")
def webhook_image() -> Iterator[str]:
    """The real webhook image, built from the Dockerfile on the host network."""
    tag = f"lark-service-test/webhook:{uuid.uuid4().hex[:8]}"
    base = os.environ.get("PYTHON_IMAGE", "python:3.12-slim")
    subprocess.run(
        [
            *("docker", "build", "--network", "host", "--quiet", "--build-arg", f"PYTHON_IMAGE={base}"),
            *("--build-arg", "FUNCTION=webhook", "--tag", tag, str(ROOT)),
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    yield tag
    subprocess.run(["docker", "rmi", "--force", tag], capture_output=True, check=False, timeout=120)


@docker
def test_the_webhook_image_answers_after_sams_rebuild_as_a_non_root_user(
    webhook_image: str, rie: Path
) -> None:
    verdict = image_smoke.run(
        webhook_image,
        "webhook",
        EVENTS / "url_verification_plain.json",
        SMOKE_ENV,
        rie,
        "challenge",
        network="host",
        rebuild=True,
    )
    assert verdict.startswith("answered the challenge")
    assert verdict.endswith("(after SAM CLI's rebuild)")


@docker
def test_an_image_whose_last_user_is_not_root_fails_sams_rebuild(
    webhook_image: str, rie: Path, tmp_path: Path
) -> None:
    """aws/aws-sam-cli#3891, reproduced: the check above can fail."""
    tag = f"{webhook_image}-user"
    (tmp_path / "Dockerfile").write_text(f"FROM {webhook_image}\nUSER 10001\n")
    subprocess.run(
        ["docker", "build", "--network", "host", "--quiet", "--tag", tag, str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    try:
        with pytest.raises(SmokeError, match="Permission denied"):
            image_smoke.sam_rebuild(tag, rie, f"{tag}-sam")
    finally:
        subprocess.run(
            ["docker", "rmi", "--force", tag, f"{tag}-sam"], capture_output=True, check=False, timeout=120
        )


@docker
def test_the_webhook_image_enqueues_a_signed_push_with_credentials_from_the_secret(
    webhook_image: str, rie: Path, tmp_path: Path
) -> None:
    """As deployed: LARK_SECRET_ID, moto on loopback (host network), a signed, encrypted push."""
    import boto3

    from lark_service.devtools.local.aws import create_stack, moto_server
    from lark_service.devtools.local.samples import Credentials, function_url_event, signed_request

    creds = Credentials(verification_token="image-token", encrypt_key="image-key", app_id="cli_image")
    with moto_server() as endpoint:
        stack = create_stack(endpoint, prefix="image")
        aws = {"endpoint_url": endpoint, **{k: v for k, v in _FAKE.items()}}
        secret = boto3.client("secretsmanager", **aws).create_secret(
            Name="image",
            SecretString=json.dumps(
                {
                    "app_id": "cli_image",
                    "app_secret": "s",
                    "encrypt_key": "image-key",
                    "verification_token": "image-token",
                }
            ),
        )["ARN"]
        env = {**stack.environ(), "LARK_SECRET_ID": secret, "POWERTOOLS_SERVICE_NAME": "webhook"}
        (tmp_path / "env.json").write_text(json.dumps({"WebhookFunction": env}))
        event_id = f"image-{uuid.uuid4().hex}"
        headers, body = signed_request("message", creds, event_id=event_id)
        (tmp_path / "event.json").write_text(
            json.dumps(function_url_event("POST", "/lark/events", headers, body))
        )
        verdict = image_smoke.run(
            webhook_image,
            "webhook",
            tmp_path / "event.json",
            tmp_path / "env.json",
            rie,
            "runs",
            network="host",
        )
        assert '\\"msg\\":\\"success\\"' in verdict
        queued = boto3.client("sqs", **aws).receive_message(QueueUrl=stack.events_queue_url)["Messages"]
    assert [json.loads(m["Body"])["event_id"] for m in queued] == [event_id]


_FAKE = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@docker
def test_the_base_check_measures_what_the_dockerfile_builds(webhook_image: str) -> None:
    """Trimming the plain base in a throwaway container gives the real image's base, byte for byte."""
    base = os.environ.get("PYTHON_IMAGE", "python:3.12-slim")
    measured = image_budget.measure_base(base)
    assert measured == image_budget.measure_base(webhook_image)
    assert measured <= image_budget.parse_size(image_budget.BASE_IMAGE_BYTES)
