"""The helpers CI runs and the rules its files keep: the emulator smoke verdicts, one deploy
command per stage, image pinning by digest, the workflows' own rules (pinned actions, least
privilege, stages chained in their environments, deploy only from main), and every variable the
functions read declared in the template."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import image_smoke, pin_images
from tests.conftest import EVENTS, ROOT

CHALLENGE_EVENT = {"body": json.dumps({"challenge": "c-123", "token": "t", "type": "url_verification"})}
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
DEPLOY = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())


class _CloudFormation(yaml.SafeLoader):
    """template.yaml with its short-form intrinsics (!Ref, !Sub ...) read as None."""


_CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: None)
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)


# --- emulator smoke verdicts ---------------------------------------------------------------------


def test_challenge_answered() -> None:
    response = {"statusCode": 200, "headers": {}, "body": '{"challenge": "c-123"}'}
    assert "c-123" in image_smoke.check_challenge(CHALLENGE_EVENT, response)


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ({"statusCode": 403, "body": "{}"}, "expected an HTTP 200"),
        ({"errorType": "Runtime.ImportModuleError", "errorMessage": "No module named 'httpx'"}, "HTTP 200"),
        ({"statusCode": 200, "body": "<html>"}, "not JSON"),
        ({"statusCode": 200, "body": '{"challenge": "other"}'}, "expected {'challenge': 'c-123'}"),
        ({"statusCode": 200, "body": '{"challenge": "c-123", "encrypt": "x"}'}, "expected {'challenge'"),
        (None, "expected an HTTP 200"),
    ],
)
def test_wrong_challenge_answers_fail(response: object, fragment: str) -> None:
    with pytest.raises(image_smoke.SmokeError, match=re.escape(fragment)):
        image_smoke.check_challenge(CHALLENGE_EVENT, response)


def test_a_handler_that_ran_passes_even_when_it_raised() -> None:
    assert "returned" in image_smoke.check_runs({"batchItemFailures": []})
    raised = image_smoke.check_runs({"errorType": "EndpointConnectionError", "errorMessage": "no AWS"})
    assert "EndpointConnectionError" in raised


@pytest.mark.parametrize("error_type", ["Runtime.ImportModuleError", "Runtime.HandlerNotFound"])
def test_a_handler_that_did_not_load_fails(error_type: str) -> None:
    with pytest.raises(image_smoke.SmokeError, match=error_type):
        image_smoke.check_runs({"errorType": error_type, "errorMessage": "x"})


def test_smoke_env_has_every_function_and_no_secret_id() -> None:
    for function in image_smoke.LOGICAL_IDS:
        env = image_smoke.load_env(EVENTS / "smoke_env.json", function)
        assert env["LARK_SECRET_ID"] == "", "the smoke test must not reach Secrets Manager"
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert image_smoke.load_env(EVENTS / "smoke_env.json", "webhook")["LARK_VERIFICATION_TOKEN"]


def test_smoke_env_without_the_function_is_named(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text("{}")
    with pytest.raises(image_smoke.SmokeError, match="no WorkerFunction section"):
        image_smoke.load_env(path, "worker")


@pytest.mark.parametrize("name", ["smoke_worker_sqs.json", "token_refresh_scheduled.json"])
def test_smoke_events_are_json(name: str) -> None:
    assert json.loads((EVENTS / name).read_text())


# --- samconfig: one command per stage --------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_each_stage_deploys_with_its_config_env_alone(stage: str) -> None:
    """`sam deploy --config-env <stage>` needs nothing more: no secret ARN, a stage-named stack."""
    section = SAMCONFIG[stage]["deploy"]["parameters"]
    assert section["stack_name"] == f"lark-service-{stage}"  # deploy.yml's smoke test reads this name
    overrides = section["parameter_overrides"]
    assert overrides.startswith(f"Stage={stage} ")
    assert "LarkSecret" not in overrides  # the template derives lark-service/<stage>
    assert "Architecture=" not in overrides  # deploy.yml pins the digest of the default architecture


def test_local_invoke_reads_the_one_env_file() -> None:
    assert SAMCONFIG["default"]["local_invoke"]["parameters"]["env_vars"] == "tests/events/env.json"
    assert (EVENTS / "env.json").is_file()


def test_every_physical_name_carries_the_stage() -> None:
    resources = TEMPLATE["Resources"]
    named = {
        "IdempotencyTable": ("TableName",),
        "TokenTable": ("TableName",),
        "EventsQueue": ("QueueName",),
        "EventsDeadLetterQueue": ("QueueName",),
        "WebhookFunction": ("FunctionName",),
        "WorkerFunction": ("FunctionName",),
        "TokenRefreshFunction": ("FunctionName",),
    }
    text = (ROOT / "template.yaml").read_text()
    for logical_id, keys in named.items():
        for key in keys:
            block = text.split(f"  {logical_id}:\n", 1)[1].split("\n  # ---", 1)[0]
            assert f"{key}: !Sub lark-service-${{Stage}}-" in block, f"{logical_id}.{key} lacks the stage"
    schedule = resources["TokenRefreshFunction"]["Properties"]["Events"]["Schedule"]["Properties"]
    assert "Name" in schedule  # SAM would name it TokenRefreshFunctionSchedule in every stage
    assert "Name: !Sub lark-service-${Stage}-token-refresh" in text


# --- pinning the tested images ---------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lark-service-dev"
FUNCTIONS = ("WebhookFunction", "WorkerFunction", "TokenRefreshFunction", "AlertNotifierFunction")


def _template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)  # type: ignore[no-any-return]


def test_pin_sets_every_image_function_to_its_digest() -> None:
    images = {name: f"{REPO}@{DIGEST}" for name in FUNCTIONS}
    resources = pin_images.pin(_template(), images)["Resources"]
    for name, uri in images.items():
        assert resources[name]["Properties"]["ImageUri"] == uri


@pytest.mark.parametrize(
    ("images", "fragment"),
    [
        ({"WebhookFunction": f"{REPO}@{DIGEST}"}, "need exactly one image for each of"),
        ({n: f"{REPO}:latest" for n in FUNCTIONS}, "not an ECR image pinned by digest"),
        ({n: f"ghcr.io/o/r@{DIGEST}" for n in FUNCTIONS}, "not an ECR image pinned by digest"),
    ],
)
def test_pin_refuses_what_lambda_cannot_run_by_digest(images: dict[str, str], fragment: str) -> None:
    with pytest.raises(pin_images.PinError, match=fragment):
        pin_images.pin(_template(), images)


def test_deploy_pins_the_templates_default_architecture() -> None:
    """Lambda runs a single-architecture image, not an index: deploy.yml picks that manifest."""
    docker_name = {"arm64": "arm64", "x86_64": "amd64"}
    default = TEMPLATE["Parameters"]["Architecture"]["Default"]
    assert default == "arm64"
    assert DEPLOY["jobs"]["deploy"]["env"]["IMAGE_ARCH"] == docker_name[default]


# --- the workflows' own rules ----------------------------------------------------------------------


def _steps() -> list[dict[str, object]]:
    jobs = [*WORKFLOW["jobs"].values(), *DEPLOY["jobs"].values()]
    return [step for job in jobs for step in job.get("steps", [])]


def test_every_action_is_pinned_by_commit_sha() -> None:
    uses = [str(step["uses"]) for step in _steps() if "uses" in step]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by full commit SHA"


def test_least_privilege_and_oidc_only_for_deploy() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert DEPLOY["permissions"] == {"contents": "read"}
    assert DEPLOY["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    for name, job in WORKFLOW["jobs"].items():
        if name.startswith("deploy-"):
            assert job["permissions"] == {"contents": "read", "id-token": "write"}
        else:
            assert "permissions" not in job, f"{name} must inherit the read-only default"


def test_stages_are_chained_jobs_in_their_environments_and_only_main_deploys() -> None:
    jobs = WORKFLOW["jobs"]
    assert jobs["build"]["needs"] == "verify"
    chain = [("deploy-dev", "build"), ("deploy-staging", "deploy-dev"), ("deploy-prod", "deploy-staging")]
    for job, needs in chain:
        assert jobs[job]["needs"] == needs
        assert jobs[job]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[job]["with"] == {"stage": job.removeprefix("deploy-")}
        assert job.removeprefix("deploy-") in SAMCONFIG
    assert jobs["deploy-dev"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    deploy = DEPLOY["jobs"]["deploy"]
    # The job's environment makes the OIDC subject repo:O/R:environment:<stage> and gates prod.
    assert deploy["environment"]["name"] == "${{ inputs.stage }}"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert "concurrency" in WORKFLOW


def test_deploy_ships_the_tested_archives_and_never_rebuilds() -> None:
    build = (ROOT / ".github" / "workflows" / "ci.yml").read_text().split("  build:", 1)[1]
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    for name in ("webhook", "worker", "token-refresh"):
        assert f"outputs: type=oci,dest=images/{name}.tar" in build
        assert f"lark-service:{name}" in build.split("Size gate", 1)[1].split("Install SAM CLI", 1)[0]
        assert f"python3 scripts/image_smoke.py lark-service:{name}" in build
    assert build.count("platforms: linux/arm64,linux/amd64") == len(FUNCTIONS)
    assert "sam build" not in deploy
    assert "docker build" not in deploy
    assert "skopeo copy --all --preserve-digests" in deploy
    assert 'sam deploy --config-env "$STAGE"' in deploy
    assert "scripts/pin_images.py" in deploy


def test_every_x86_64_image_is_smoke_tested_after_sams_rebuild_step() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for name in ("webhook", "worker", "token-refresh"):
        command = text.split(f"python3 scripts/image_smoke.py lark-service:{name} ", 1)[1].split("\n", 1)[0]
        assert "--sam-rebuild" in command


def test_sam_local_invoke_can_set_every_lark_variable_the_smoke_env_sets() -> None:
    """`sam local invoke --env-vars` only sets variables the template declares for the function."""
    globals_env = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    smoke = json.loads((EVENTS / "smoke_env.json").read_text())
    for logical_id, variables in smoke.items():
        function_env = (
            TEMPLATE["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        )
        declared = globals_env | set(function_env)
        needed = {
            name for name in variables if name.startswith("LARK_") or name.endswith(("_TABLE", "_QUEUE_URL"))
        }
        assert needed <= declared, f"{logical_id}: {sorted(needed - declared)} not declared in template.yaml"


def _read_variables() -> dict[str, object]:
    """Every environment variable the functions read, with the code's default (the settings models)."""
    from lark_service.config import Settings
    from lark_service.tokens.tuning import TokenTuning
    from lark_service.worker.tuning import WorkerTuning

    found: dict[str, object] = {"LARK_SECRET_ID": None, "AWS_ENDPOINT_URL": None}
    for model in (Settings, TokenTuning, WorkerTuning):
        for var in model.variables().values():
            found[var.env] = None if var.required else var.default
    return found


def test_every_variable_the_functions_read_is_declared_with_the_codes_default() -> None:
    """Undeclared variables never reach a function under `sam local invoke` (docs/deployment.md)."""
    declared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for name, default in _read_variables().items():
        assert name in declared, f"{name} is read by the functions but not declared in template.yaml"
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert float(declared[name]) == float(default), (
                f"{name}: template {declared[name]!r}, code {default!r}"
            )
