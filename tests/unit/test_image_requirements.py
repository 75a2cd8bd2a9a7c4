"""Each image installs exactly its function's runtime pins, and those pins are pyproject.toml's.

``functions/<name>/requirements.txt`` is what the Dockerfile and the offline size estimate
install; ``pyproject.toml`` is where versions are decided. These tests keep the two from drifting
and keep local and development packages out of every image.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import image_trim
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
    assert {"aws-lambda-powertools", "boto3", "cryptography"} <= set(webhook)
    for function in ("worker", "token_refresh"):
        assert "httpx" in _requirements(function)


def test_requirement_files_are_where_the_dockerfile_reads_them() -> None:
    assert "COPY functions/${FUNCTION}/requirements.txt requirements.txt" in (ROOT / "Dockerfile").read_text()
    for function in FUNCTIONS:
        assert Path(ROOT / "functions" / function / "requirements.txt").is_file()


# --- botocore service models: the image keeps only those the code calls -------------------------

SERVICE_CALLS = {"client", "resource", "create_client"}
"""Calls whose first argument names an AWS service: ``stores.aws.client("sqs")``,
``boto3.client("dynamodb")``, ``session.create_client(...)``, ``boto3_session.client(...)``."""
FOLLOWED = ("lark_service", "aws_lambda_powertools")
"""Packages whose code is scanned: ours, followed import by import, and Powertools. Powertools
is followed only below each utility module our code imports (``utilities.idempotency`` creates a
DynamoDB client in ``persistence/dynamodb.py``): its package graph reaches every utility (the
data classes' CodePipeline event makes an S3 client), which our functions never use."""


def _module_file(name: str) -> Path | None:
    if name.split(".", maxsplit=1)[0] == "lark_service":
        base = ROOT / "layers" / Path(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ModuleNotFoundError, ValueError):  # ``module.attribute``: not a module
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Every module an AST imports, anywhere (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                module = ".".join([*parts[: len(parts) - node.level + 1], module]).strip(".")
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in FOLLOWED}


def _services_called(tree: ast.AST) -> set[str]:
    calls = set(SERVICE_CALLS)
    for node in ast.walk(tree):  # ``from lark_service.stores.aws import client as make``
        if isinstance(node, ast.ImportFrom):
            calls.update(a.asname for a in node.names if a.name in SERVICE_CALLS and a.asname)
    services: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0]
        if name in calls and isinstance(first, ast.Constant) and isinstance(first.value, str):
            services.add(first.value)
    return services


def services_reached(entry: Path) -> set[str]:
    """The AWS services called by ``entry``, the modules of ours it imports, and what they use."""
    seen: set[Path] = set()
    pending: list[tuple[Path, str]] = [(entry, "")]
    services: set[str] = set()
    scopes: set[str] = set()
    while pending:
        path, module = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        services |= _services_called(tree)
        ours = not module.startswith("aws_lambda_powertools")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in sorted(_imports(tree, package)):
            if name.startswith("aws_lambda_powertools"):
                if ours and name.startswith("aws_lambda_powertools.utilities."):
                    scopes.add(name)
                elif not ours and not any(name.startswith(scope) for scope in scopes):
                    continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # parents run first: their __init__ counts
                parent = ".".join(parts[:depth])
                if not ours and not any(parent.startswith(scope) for scope in scopes):
                    continue
                found = _module_file(parent)
                if found:
                    pending.append((found, parent))
    return services


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_service_the_code_calls_keeps_its_botocore_model(function: str) -> None:
    requirements = ROOT / "functions" / function / "requirements.txt"
    kept = set(image_trim.declared_services(requirements))
    called = services_reached(ROOT / "functions" / function / "app.py")
    assert called <= kept, (
        f"functions/{function} calls {sorted(called - kept)} but its image drops those botocore models: "
        f"add them to the '# aws-services:' line of {requirements.relative_to(ROOT)}"
    )
    assert "secretsmanager" in called, "every function reads LARK_SECRET_ID at cold start"
    assert kept <= called, f"functions/{function} keeps models it never calls: {sorted(kept - called)}"


def test_the_scan_finds_a_call_wherever_it_hides(tmp_path: Path) -> None:
    """A service called lazily, through an alias, must still be found (the check can fail)."""
    source = (
        "def later():\n"
        "    from lark_service.stores.aws import client as make\n"
        "    return make('sns'), boto3.resource('s3'), session.create_client(\"kms\")\n"
    )
    entry = tmp_path / "app.py"
    entry.write_text(source)
    assert services_reached(entry) == {"sns", "s3", "kms"}


def test_the_webhook_reaches_the_botocore_factory_for_all_three_services() -> None:
    assert services_reached(ROOT / "functions" / "webhook" / "app.py") == {
        "dynamodb",
        "secretsmanager",
        "sqs",
    }
