"""Write the template ``sam deploy`` deploys, with each function pinned to a tested image digest.

``sam build`` leaves ``.aws-sam/build/template.yaml``: the template with every image function's
``ImageUri`` set to the image it built, which ``sam deploy`` then pushes. CI deploys the images its
build job tested instead of rebuilding them, so it writes that same file with ``ImageUri`` set to
the pushed ``<registry>/<repository>@sha256:<digest>``; ``sam deploy --config-env <stage>`` sees
an ECR URL and uploads nothing (aws/aws-sam-cli ``samcli/lib/package/packageable_resources.py``,
``is_ecr_url``). Runs under SAM CLI's Python and writes with SAM's own YAML helpers
(``samcli/yamlhelper.py``), as ``sam build`` does.

    .tools/sam/bin/python scripts/pin_images.py WebhookFunction=REPO@sha256:... WorkerFunction=... ...
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PINNED = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$"
)


class PinError(ValueError):
    """An image reference or function name that cannot be deployed; the message says which."""


def pin(template: dict[str, Any], images: Mapping[str, str]) -> dict[str, Any]:
    functions = {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and resource.get("Properties", {}).get("PackageType") == "Image"
    }
    if set(images) != set(functions):
        raise PinError(f"need exactly one image for each of {sorted(functions)}, got {sorted(images)}")
    for name, uri in images.items():
        if not PINNED.match(uri):
            raise PinError(f"{name}: {uri!r} is not an ECR image pinned by digest (REGISTRY/REPO@sha256:...)")
        functions[name]["Properties"]["ImageUri"] = uri
    return template


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pin_images", description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", metavar="LOGICAL_ID=IMAGE@DIGEST")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / ".aws-sam" / "build" / "template.yaml")
    args = parser.parse_args(argv)
    yamlhelper: Any = importlib.import_module("samcli.yamlhelper")  # SAM CLI's Python only
    try:
        images = dict(item.split("=", 1) for item in args.images)
        template = pin(yamlhelper.yaml_parse(args.template.read_text()), images)
    except (PinError, ValueError) as exc:
        print(f"pin_images: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(yamlhelper.yaml_dump(template))
    for name, uri in sorted(images.items()):
        print(f"{name}: {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
