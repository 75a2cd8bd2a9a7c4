"""Do what ``sam local invoke`` does to an image function before it runs it, and report the result.

For an image function SAM CLI builds a throwaway image: ``FROM <image>``, ``ADD`` its runtime
interface emulator, ``RUN mv ... && chmod +x ...`` (aws/aws-sam-cli
``samcli/local/docker/lambda_image.py``, ``LambdaImage._generate_dockerfile`` and the build
context of ``_build_image``). That ``RUN`` executes as the image's final ``USER``; an image that
ends as a non-root user fails it with "Permission denied" (aws/aws-sam-cli#3891), so
``sam local invoke`` fails before the function starts.

This script takes the Dockerfile from SAM CLI's own generator (run with SAM CLI's Python, ``--sam-python``),
lays out the same build context (SAM's ``rapid`` directory under the emulator's name) and builds
it with the plain Docker CLI on the host network, so it also runs where SAM's own Docker calls
cannot (no bridge network).

    python3 scripts/sam_rebuild_check.py lark-service:webhook lark-service:worker --architecture x86_64
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "integration" / "sam_probe.py"
DEFAULT_SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"


class RebuildError(RuntimeError):
    """SAM's rebuild step failed; the message carries Docker's output."""


def sam_dockerfile(sam_python: Path, image: str, architecture: str) -> tuple[str, Path, str]:
    """SAM's Dockerfile for ``image``, its emulator directory and the name SAM gives it."""
    out = subprocess.run(  # noqa: S603 - fixed argv
        [str(sam_python), str(PROBE), "dockerfile", image, architecture],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    dockerfile = json.loads(out[0])
    context = json.loads(out[1])
    return str(dockerfile), Path(context["source"]), str(context["name"])


def rebuild(image: str, architecture: str, sam_python: Path, docker: str = "docker") -> str:
    dockerfile, rapid, name = sam_dockerfile(sam_python, image, architecture)
    with tempfile.TemporaryDirectory(prefix="sam-rebuild-") as scratch:
        context = Path(scratch)
        (context / "Dockerfile").write_text(dockerfile)
        shutil.copytree(rapid, context / name, symlinks=False)
        tag = f"{image.replace(':', '-').replace('/', '-')}-sam-rebuild:check"
        proc = subprocess.run(  # noqa: S603 - fixed argv
            [docker, "build", "--network", "host", "--pull=false", "-t", tag, str(context)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RebuildError(f"{image}: SAM's rebuild step fails:\n{(proc.stdout + proc.stderr)[-1500:]}")
        subprocess.run([docker, "image", "rm", "--force", tag], capture_output=True, check=False)  # noqa: S603
    return f"{image}: SAM's rebuild step succeeds ({dockerfile.splitlines()[-1]})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam_rebuild_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--architecture", choices=("x86_64", "arm64"), default="x86_64")
    parser.add_argument("--sam-python", type=Path, default=DEFAULT_SAM_PYTHON)
    args = parser.parse_args(argv)
    failed = False
    for image in args.images:
        try:
            print(rebuild(image, args.architecture, args.sam_python), flush=True)
        except (RebuildError, subprocess.SubprocessError, OSError) as exc:
            print(f"FAIL {exc}", file=sys.stderr, flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
