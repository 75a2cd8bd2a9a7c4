"""What a function image leaves out: the parts of the base and the dependencies Lambda never runs.

One list, used twice: the Dockerfile runs this script inside the build (``base`` on the Python
image, ``deps`` on the function's installed requirements), and ``image_budget.py offline`` applies
the same ``deps`` trim to its estimate. Only the standard library is used, so it runs on the bare
base image.

Dropped from the base: pip and the other packaging tools (the image is never installed into),
IDLE, Tk, 2to3, the test suite and the documentation, the C headers, and the Debian package
tooling (perl, apt, dpkg's per-package files) — keeping ``/var/lib/dpkg/status`` so image scanners
still list the OS packages. Kept: the shell and coreutils (SAM CLI's image rebuild runs
``mv``/``chmod`` in ``sh``), the C libraries Python and the wheels link against, CA certificates
and time zones.

Dropped from the dependencies: console scripts, test suites, botocore's API examples, and every
botocore service model the function does not call. The services a function calls are declared in
its ``requirements.txt`` on a ``# aws-services:`` line; ``tests/unit/test_image_requirements.py``
fails when the code calls a service that line leaves out.

What botocore reads at every cold start is trimmed too, because parsing it is most of the cost of
creating a client: ``endpoints.json`` (1.2 MB, read whole for the first client) keeps only the
kept services' entries, and each kept service model loses its documentation strings, which only
``help()`` and generated docstrings read, and is stored as plain JSON. Both save about 20 ms of
every cold start (``docs/performance.md``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

SERVICES_MARKER = "# aws-services:"

BASE_REMOVALS = (
    # Packaging tools and what only a developer at a terminal uses.
    "usr/local/lib/python3.*/site-packages/pip",
    "usr/local/lib/python3.*/site-packages/pip-*.dist-info",
    "usr/local/lib/python3.*/site-packages/setuptools",
    "usr/local/lib/python3.*/site-packages/setuptools-*.dist-info",
    "usr/local/lib/python3.*/site-packages/_distutils_hack",
    "usr/local/lib/python3.*/site-packages/distutils-precedence.pth",
    "usr/local/lib/python3.*/site-packages/wheel",
    "usr/local/lib/python3.*/site-packages/wheel-*.dist-info",
    "usr/local/lib/python3.*/ensurepip",
    "usr/local/lib/python3.*/idlelib",
    "usr/local/lib/python3.*/tkinter",
    "usr/local/lib/python3.*/turtledemo",
    "usr/local/lib/python3.*/turtle.py",
    "usr/local/lib/python3.*/lib2to3",
    "usr/local/lib/python3.*/pydoc_data",
    "usr/local/lib/python3.*/test",
    "usr/local/lib/python3.*/unittest/test",
    "usr/local/lib/python3.*/config-3.*",
    "usr/local/lib/python3.*/lib-dynload/_tkinter.*",
    "usr/local/lib/python3.*/lib-dynload/_test*",
    "usr/local/lib/python3.*/lib-dynload/xxlimited*",
    "usr/local/bin/pip*",
    "usr/local/bin/idle*",
    "usr/local/bin/pydoc*",
    "usr/local/bin/2to3*",
    "usr/local/bin/python*-config",
    "usr/local/include",
    # Documentation.
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bash-completion",
    # Debian's package tooling: no package is installed at run time.
    "usr/bin/perl*",
    "usr/lib/*-linux-gnu/perl-base",
    "usr/share/perl5",
    "usr/bin/apt*",
    "usr/lib/apt",
    "usr/lib/*-linux-gnu/libapt-*",
    "usr/bin/dpkg*",
    "var/lib/dpkg/info",
    "var/lib/apt",
    "var/cache/apt",
    "var/cache/debconf",
    "var/log/*",
    # glibc's iconv converters: Python decodes with its own codecs.
    "usr/lib/*-linux-gnu/gconv",
)

DEPENDENCY_REMOVALS = (
    "bin",
    "*/tests",
    "*/test",
    "botocore/data/*/*/examples-1.json",
)
"""Globs under the dependencies' folder (``/opt/deps``)."""

BOTOCORE_DATA = "botocore/data"


def remove(root: Path, patterns: Iterable[str]) -> int:
    """Delete what the globs match under ``root``; return the bytes freed."""
    freed = 0
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                freed += sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                freed += path.lstat().st_size
                path.unlink()
    return freed


def declared_services(requirements: Path) -> list[str]:
    """The botocore services a function calls, from its ``# aws-services:`` line."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if line.startswith(SERVICES_MARKER):
            return sorted(line[len(SERVICES_MARKER) :].split())
    raise ValueError(f"{requirements} has no '{SERVICES_MARKER} ...' line naming the AWS services it calls")


def trim_dependencies(deps: Path, services: Sequence[str]) -> int:
    """Drop tests, scripts, examples and every botocore service model not in ``services``."""
    freed = remove(deps, DEPENDENCY_REMOVALS)
    data = deps / BOTOCORE_DATA
    if data.is_dir():
        unknown = [name for name in services if not (data / name).is_dir()]
        if unknown:
            raise ValueError(f"botocore has no service model named {', '.join(unknown)}")
        models = [p.name for p in data.iterdir() if p.is_dir() and p.name not in services]
        freed += remove(data, models)
        prefixes = set(services)
        for path in sorted(data.glob("*/*/service-2.json*")):
            freed += _without_documentation(path, prefixes)
        freed += _endpoints_of(data / "endpoints.json", prefixes)
    return freed


def _rewrite(path: Path, doc: object, target: Path) -> int:
    """Write ``doc`` as compact JSON to ``target`` (replacing ``path``); return the bytes freed."""
    before = path.stat().st_size
    path.unlink()
    target.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return before - target.stat().st_size


def _without_documentation(path: Path, prefixes: set[str]) -> int:
    """Strip a service model's documentation strings; note its endpoint prefix in ``prefixes``.

    Only the ``documentation`` of the model, its operations and shapes, and their member
    references goes: a *member* may itself be called ``documentation``, so keys are not stripped
    blindly. botocore tries ``service-2.json`` before ``service-2.json.gz`` (``loaders.py``,
    ``_JSON_OPEN_METHODS``); the plain file costs no decompression at start.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        model = json.loads(handle.read())
    prefixes.add(model["metadata"]["endpointPrefix"])
    model.pop("documentation", None)
    for operation in model.get("operations", {}).values():
        operation.pop("documentation", None)
        for ref in [operation.get("input"), operation.get("output"), *operation.get("errors", [])]:
            if ref:
                ref.pop("documentation", None)
    for shape in model.get("shapes", {}).values():
        shape.pop("documentation", None)
        for ref in [*shape.get("members", {}).values(), *(shape.get(k) for k in ("member", "key", "value"))]:
            if ref:
                ref.pop("documentation", None)
    return _rewrite(path, model, path.parent / "service-2.json")


def _endpoints_of(path: Path, prefixes: set[str]) -> int:
    """Keep each partition whole but its ``services`` to the kept services' endpoint prefixes."""
    if not path.is_file():
        return 0
    endpoints = json.loads(path.read_text(encoding="utf-8"))
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in prefixes}
    return _rewrite(path, endpoints, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image_trim", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help="trim a Python base image's file system")
    base.add_argument("root", type=Path, nargs="?", default=Path("/"))
    deps = commands.add_parser("deps", help="trim a function's installed dependencies")
    deps.add_argument("deps", type=Path)
    deps.add_argument("--requirements", type=Path, required=True, help="the function's requirements.txt")
    args = parser.parse_args(argv)
    try:
        if args.command == "base":
            freed = remove(args.root, BASE_REMOVALS)
        else:
            freed = trim_dependencies(args.deps, declared_services(args.requirements))
    except (OSError, ValueError) as exc:
        print(f"image_trim: {exc}", file=sys.stderr)
        return 2
    print(f"image_trim {args.command}: {freed:,} bytes removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
