"""Each image installs exactly its function's runtime pins, and those pins are pyproject.toml's.

``functions/<name>/requirements.txt`` is what the Dockerfile and the offline size estimate
install; ``pyproject.toml`` is where versions are decided. These tests keep the two from drifting
and keep local and development packages out of every image.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.image_budget import functions
from tests.conftest import ROOT

RUNTIME_CLIENT = "awslambdaric"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            pins[_normalise(match["name"])] = match["version"]
    return pins


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = _pins(PYPROJECT["project"]["dependencies"])
EXTRAS = {extra: _pins(lines) for extra, lines in PYPROJECT["project"]["optional-dependencies"].items()}
FUNCTIONS = functions()


def _requirements(function: str) -> dict[str, str]:
    lines = (ROOT / "functions" / function / "requirements.txt").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for entry in entries:
        assert PIN.match(entry), (
            f"functions/{function}/requirements.txt: {entry!r} is not an exact name==version pin"
        )
    return _pins(entries)


def test_every_templated_function_has_requirements() -> None:
    class _CloudFormation(yaml.SafeLoader):
        pass

    def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        return None

    _CloudFormation.add_multi_constructor("!", _any_tag)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)
    images = {
        resource["Metadata"]["DockerBuildArgs"]["FUNCTION"]
        for resource in template["Resources"].values()
        if resource.get("Properties", {}).get("PackageType") == "Image"
    }
    assert images == {"webhook", "worker", "token_refresh", "alert_notifier"}
    assert set(FUNCTIONS) == images


@pytest.mark.parametrize("function", FUNCTIONS)
def test_pins_are_pyprojects_runtime_pins(function: str) -> None:
    requirements = _requirements(function)
    assert requirements.get(RUNTIME_CLIENT) == EXTRAS["dev"][RUNTIME_CLIENT], (
        f"{function}: every image needs the runtime interface client at pyproject's pin"
    )
    for name, version in requirements.items():
        if name == RUNTIME_CLIENT:
            continue
        assert name in RUNTIME, f"{function}: {name} is not a runtime dependency in pyproject.toml"
        assert version == RUNTIME[name], f"{function}: {name}=={version}, pyproject.toml pins {RUNTIME[name]}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_local_or_development_package_in_an_image(function: str) -> None:
    requirements = set(_requirements(function))
    for extra in ("local", "dev"):
        leaked = (requirements & set(EXTRAS[extra])) - {RUNTIME_CLIENT}
        assert not leaked, f"{function}: {sorted(leaked)} belong to the {extra!r} extra, not an image"


def test_every_runtime_dependency_is_in_some_image() -> None:
    used = set().union(*(_requirements(function) for function in FUNCTIONS))
    assert set(RUNTIME) <= used, f"runtime dependencies no image installs: {sorted(set(RUNTIME) - used)}"


def test_the_webhook_stays_light() -> None:
    """The webhook never calls Lark, so it does without the HTTP client the others need."""
    webhook = _requirements("webhook")
    assert "httpx" not in webhook
    assert {"aws-lambda-powertools", "boto3", "pydantic", "cryptography"} <= set(webhook)
    for function in ("worker", "token_refresh"):
        assert "httpx" in _requirements(function)


def test_requirement_files_are_where_the_dockerfile_reads_them() -> None:
    assert "COPY functions/${FUNCTION}/requirements.txt requirements.txt" in (ROOT / "Dockerfile").read_text()
    for function in FUNCTIONS:
        assert Path(ROOT / "functions" / function / "requirements.txt").is_file()
