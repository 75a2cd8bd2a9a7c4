"""The helpers CI runs: the emulator smoke verdicts, samconfig's deploy parameters, the workflow's
own rules (pinned actions, least privilege, deploy only from main)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts import image_smoke, samconfig_env
from tests.conftest import EVENTS, ROOT

CHALLENGE_EVENT = {"body": json.dumps({"challenge": "c-123", "token": "t", "type": "url_verification"})}
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lark-service-AbCdEf"
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


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


# --- samconfig -----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_parameter_overrides_add_the_secret_to_the_environments_own(env: str) -> None:
    overrides = samconfig_env.parameter_overrides(SAMCONFIG, env, SECRET)
    assert overrides.startswith(f"Stage={env} ")
    assert overrides.endswith(f" LarkSecretArn={SECRET}")
    assert samconfig_env.stack_name(SAMCONFIG, env) == f"lark-service-{env}"


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        (None, "LARK_SECRET_ARN is not set"),
        ("", "is not set"),
        ("my-secret", "not a Secrets Manager secret ARN"),
    ],
)
def test_missing_or_malformed_secret_is_named(secret: str | None, fragment: str) -> None:
    with pytest.raises(samconfig_env.ConfigEnvError, match=fragment):
        samconfig_env.parameter_overrides(SAMCONFIG, "dev", secret)


def test_unknown_environment_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert samconfig_env.main(["stack-name", "qa"], {}) == 1
    err = capsys.readouterr().err
    assert "[qa.deploy.parameters]" in err
    assert "dev, prod, staging" in err


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert samconfig_env.main(["parameter-overrides", "prod"], {"LARK_SECRET_ARN": SECRET}) == 0
    assert "LogRetentionDays=90" in capsys.readouterr().out
    assert samconfig_env.main(["bogus"], {}) == 2


def test_samconfig_never_hard_codes_the_secret() -> None:
    config = {"dev": {"deploy": {"parameters": {"parameter_overrides": f"Stage=dev LarkSecretArn={SECRET}"}}}}
    with pytest.raises(samconfig_env.ConfigEnvError, match="must not hard-code"):
        samconfig_env.parameter_overrides(config, "dev", SECRET)


# --- the workflow's own rules --------------------------------------------------------------------


def _steps() -> list[dict[str, object]]:
    return [step for job in WORKFLOW["jobs"].values() for step in job["steps"]]


def test_every_action_is_pinned_by_commit_sha() -> None:
    uses = [str(step["uses"]) for step in _steps() if "uses" in step]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by full commit SHA"


def test_least_privilege_and_oidc_only_for_deploy() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read"}
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    for name, job in WORKFLOW["jobs"].items():
        if name != "deploy":
            assert "permissions" not in job, f"{name} must inherit the read-only default"


def test_jobs_chain_and_deploy_only_from_main() -> None:
    jobs = WORKFLOW["jobs"]
    assert jobs["build"]["needs"] == "verify"
    assert set(jobs["deploy"]["needs"]) == {"verify", "build"}
    assert jobs["deploy"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["deploy"]["strategy"]["matrix"]["stage"] == ["dev", "staging", "prod"]
    assert set(jobs["deploy"]["strategy"]["matrix"]["stage"]) <= set(SAMCONFIG)
    assert "concurrency" in WORKFLOW
    assert jobs["deploy"]["concurrency"]["cancel-in-progress"] is False


def test_workflow_runs_the_gate_on_every_function_image() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for tag in ("webhook", "worker", "token-refresh"):
        assert f"tags: lark-service:{tag}" in text
        assert f"lark-service:{tag}" in text.split("Size gate", 1)[1].split("Install SAM CLI", 1)[0]
        assert f"python3 scripts/image_smoke.py lark-service:{tag}" in text
    assert "--expect challenge" in text


def test_sam_local_invoke_can_set_every_lark_variable_the_smoke_env_sets() -> None:
    """`sam local invoke --env-vars` only sets variables the template declares for the function."""

    class _CloudFormation(yaml.SafeLoader):
        pass

    _CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)
    globals_env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    smoke = json.loads((EVENTS / "smoke_env.json").read_text())
    for logical_id, variables in smoke.items():
        function_env = (
            template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        )
        declared = globals_env | set(function_env)
        needed = {
            name for name in variables if name.startswith("LARK_") or name.endswith(("_TABLE", "_QUEUE_URL"))
        }
        assert needed <= declared, f"{logical_id}: {sorted(needed - declared)} not declared in template.yaml"
