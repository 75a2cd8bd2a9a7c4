"""The image's trimmed botocore data means to botocore exactly what the full data means.

``scripts/image_trim.py`` rewrites what botocore parses at every cold start: ``endpoints.json``
keeps only the kept services, and service models lose their documentation. The oracle is botocore
itself, on the full data installed here: its ``ServiceModel`` view of every operation and shape
(types, serialization, constraints), and its ``EndpointResolver`` answer for every region of every
partition, must be the same on the trimmed copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.regions import EndpointResolver

from scripts import image_trim

SERVICES = ["dynamodb", "secretsmanager", "sqs"]
FULL_DATA = Path(botocore.__file__).parent / "data"


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    deps = tmp_path_factory.mktemp("deps")
    data = deps / "botocore" / "data"
    data.mkdir(parents=True)
    for name in ["endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"]:
        shutil.copy(FULL_DATA / name, data / name)
    for service in [*SERVICES, "ec2"]:
        shutil.copytree(FULL_DATA / service, data / service)
    image_trim.trim_dependencies(deps, SERVICES)
    return data


def _loader(data: Path) -> Loader:
    return Loader(extra_search_paths=[str(data)], include_default_search_paths=False)


def _view(shape: Shape | None, seen: set[str]) -> Any:
    """What botocore serializes and validates by: everything but the documentation."""
    if shape is None:
        return None
    if shape.name in seen:
        return shape.name
    seen = seen | {shape.name}
    view: dict[str, Any] = {
        "type": shape.type_name,
        "serialization": shape.serialization,
        "metadata": shape.metadata,
    }
    if shape.type_name == "structure":
        view["members"] = {name: _view(member, seen) for name, member in shape.members.items()}  # type: ignore[attr-defined]
    elif shape.type_name == "list":
        view["member"] = _view(shape.member, seen)  # type: ignore[attr-defined]
    elif shape.type_name == "map":
        view["key"] = _view(shape.key, seen)  # type: ignore[attr-defined]
        view["value"] = _view(shape.value, seen)  # type: ignore[attr-defined]
    return view


def _operation(op: OperationModel) -> Any:
    return {
        "http": op.http,
        "input": _view(op.input_shape, set()),
        "output": _view(op.output_shape, set()),
        "errors": sorted(e.name for e in op.error_shapes),
        "context": op.context_parameters,
        "static": op.static_context_parameters,
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_means_the_same(trimmed: Path, service: str) -> None:
    full = ServiceModel(_loader(FULL_DATA).load_service_model(service, "service-2"), service)
    slim = ServiceModel(_loader(trimmed).load_service_model(service, "service-2"), service)
    assert slim.metadata == full.metadata
    assert slim.operation_names == full.operation_names
    for name in full.operation_names:
        assert _operation(slim.operation_model(name)) == _operation(full.operation_model(name)), name
    # And the documentation really is gone: it is what made the file slow to parse.
    assert all(not slim.operation_model(name).documentation for name in slim.operation_names)


def test_the_model_is_plain_json_so_botocore_reads_it_without_decompressing(trimmed: Path) -> None:
    assert list((trimmed / "dynamodb").glob("*/service-2.json.gz")) == []
    assert (trimmed / "ec2").exists() is False


def test_every_region_resolves_as_before(trimmed: Path) -> None:
    full = json.loads((FULL_DATA / "endpoints.json").read_text())
    slim = json.loads((trimmed / "endpoints.json").read_text())
    assert (trimmed / "endpoints.json").stat().st_size < (FULL_DATA / "endpoints.json").stat().st_size / 20
    full_resolver, slim_resolver = EndpointResolver(full), EndpointResolver(slim)
    checked = 0
    for partition in full["partitions"]:
        for region in partition["regions"]:
            for service in SERVICES:
                assert slim_resolver.construct_endpoint(service, region) == full_resolver.construct_endpoint(
                    service, region
                ), (service, region)
                checked += 1
    assert checked > 3 * 30  # every commercial, China and GovCloud region, at least
    assert slim_resolver.get_available_partitions() == full_resolver.get_available_partitions()


def test_a_member_called_documentation_is_kept(tmp_path: Path) -> None:
    model = {
        "metadata": {"endpointPrefix": "sqs"},
        "documentation": "service docs",
        "operations": {
            "Op": {"name": "Op", "input": {"shape": "In", "documentation": "ref docs"}, "documentation": "op"}
        },
        "shapes": {
            "In": {
                "type": "structure",
                "documentation": "shape docs",
                "members": {"documentation": {"shape": "Text", "documentation": "member docs"}},
            },
            "Text": {"type": "string"},
        },
    }
    path = tmp_path / "botocore/data/sqs/2012-11-05/service-2.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(model))
    image_trim.trim_dependencies(tmp_path, ["sqs"])
    assert json.loads(path.read_text()) == {
        "metadata": {"endpointPrefix": "sqs"},
        "operations": {"Op": {"name": "Op", "input": {"shape": "In"}}},
        "shapes": {
            "In": {"type": "structure", "members": {"documentation": {"shape": "Text"}}},
            "Text": {"type": "string"},
        },
    }
