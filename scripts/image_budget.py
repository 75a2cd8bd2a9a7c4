"""The image size gate: every function image stays under its budget, measured exactly.

The service this project replaces parsed ``docker images`` output ("123MB", "1.2GB") — rounded,
unit-dependent and wrong across the MB/MiB divide. Here the size is the byte count Docker itself
reports, and the budget is given in bytes or explicit units.

Two modes, one verdict:

``docker IMAGE...``
    Where Docker exists (CI): the uncompressed size from ``docker image inspect`` against the
    budget (default 150 MB).
``offline``
    Anywhere (``make test``): installs each function's runtime requirements for the Lambda
    platform, stages the code as the Dockerfile copies it (honouring ``.dockerignore``),
    precompiles both for Python 3.12 as the image does, and adds the declared size of the base
    image. Downloads are cached so a repeated run needs no network.
``base IMAGE``
    Where Docker exists: trims the base image (``python:3.12-slim``, or a built function image)
    in a throwaway container exactly as the Dockerfile's base stage does, measures every file
    outside /opt/deps and /var/task, and checks it is no larger than the size the offline
    estimate declares for it, so the estimate cannot silently drift below the truth.

Only the standard library is used, so CI can run the Docker mode before installing anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import image_trim

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_BUDGET = "150MB"
BASE_IMAGE = "python:3.12-slim"
# python:3.12-slim is 120-131 MB (linux/amd64); the Dockerfile trims it (scripts/image_trim.py)
# and precompiles its standard library, which left 89.7 MB (Debian bookworm, CPython 3.12). The
# estimate declares a figure above that so that it errs high, and the ``base`` check fails the
# build if the real trimmed base ever outgrows it.
BASE_IMAGE_BYTES = "95MiB"

# What the Lambda platform runs: x86_64 (template.yaml's Architectures) and CPython 3.12.
PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--only-binary=:all:",
)
RUNTIME_PYTHON = (3, 12)

# The Dockerfile's COPY instructions for the code, as (source in the repository, target under
# /var/task). A unit test keeps this in step with the Dockerfile.
CODE_COPIES = (("layers/lark_service", "lark_service"), ("functions/{function}", ""))
# Files the builder stage deletes from the code after copying it.
CODE_REMOVED = ("requirements.txt",)
# What the builder deletes from the installed dependencies is scripts/image_trim.py's, which the
# Dockerfile runs: the estimate calls the same code.

_DECIMAL_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_BINARY_UNITS = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Za-z]*)\s*$")


class BudgetError(RuntimeError):
    """A problem with the input or the environment (not a budget overrun); exit status 2."""


# --- sizes ---------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """Bytes from ``524288000``, ``500MiB``, ``0.5 GiB`` or ``200MB`` (decimal, as Docker prints).

    Binary units (KiB, MiB, GiB, TiB) are powers of 1024 and decimal ones (kB, MB, GB, TB) powers
    of 1000, so ``500MB`` and ``500MiB`` are different budgets on purpose. Fractions of a byte are
    dropped.
    """
    match = _SIZE.match(text)
    if not match:
        raise BudgetError(f"size {text!r} is not a number with an optional unit such as 500MiB or 200MB")
    unit = match["unit"].upper()
    factor = _DECIMAL_UNITS.get(unit) or _BINARY_UNITS.get(unit)
    if factor is None:
        known = "B, kB, MB, GB, TB, KiB, MiB, GiB, TiB"
        raise BudgetError(f"size {text!r} has unknown unit {match['unit']!r}; use one of {known}")
    try:
        value = Decimal(match["number"]) * factor
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only plain decimals
        raise BudgetError(f"size {text!r} is not a number") from exc
    return int(value)


def format_size(size: int) -> str:
    """Both the exact count and the two readings people compare it with."""
    return f"{size:,} bytes ({size / 2**20:.1f} MiB, {size / 10**6:.1f} MB)"


@dataclass(frozen=True)
class Verdict:
    """One image against one budget."""

    name: str
    size: int
    budget: int

    @property
    def ok(self) -> bool:
        return self.size <= self.budget

    @property
    def excess(self) -> int:
        return max(0, self.size - self.budget)

    def message(self) -> str:
        if self.ok:
            headroom = self.budget - self.size
            return f"ok   {self.name}: {format_size(self.size)}; {headroom:,} bytes under the budget of {self.budget:,}"
        return (
            f"FAIL {self.name}: {format_size(self.size)} exceeds the budget of {format_size(self.budget)} "
            f"by {format_size(self.excess)}"
        )


# --- Docker mode ---------------------------------------------------------------------------------


def parse_inspect(document: str, requested: Sequence[str]) -> list[tuple[str, int]]:
    """(name, uncompressed bytes) per image from ``docker image inspect`` JSON, in request order.

    ``Size`` is the total of every layer, unpacked; older engines also printed ``VirtualSize``
    with the same value, newer ones dropped it. A missing or non-integer ``Size`` is an error
    rather than a guess.
    """
    try:
        images = json.loads(document)
    except json.JSONDecodeError as exc:
        raise BudgetError(f"docker image inspect did not print JSON: {exc}") from exc
    if not isinstance(images, list) or len(images) != len(requested):
        raise BudgetError(
            f"docker image inspect returned {len(images) if isinstance(images, list) else 'no list of'} "
            f"images for {len(requested)} requested"
        )
    result: list[tuple[str, int]] = []
    for name, image in zip(requested, images, strict=True):
        size = image.get("Size") if isinstance(image, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BudgetError(f"docker image inspect gave no byte count (Size) for {name}")
        result.append((name, size))
    return result


def inspect_images(images: Sequence[str], docker: str = "docker") -> str:
    executable = shutil.which(docker)
    if executable is None:
        raise BudgetError(f"{docker!r} is not on PATH; without Docker use the offline mode")
    proc = subprocess.run(  # noqa: S603 - fixed argv, image names passed as arguments
        [executable, "image", "inspect", *images], capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise BudgetError(f"docker image inspect failed: {proc.stderr.strip()}")
    return proc.stdout


# --- .dockerignore -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: re.Pattern[str]
    negated: bool


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching: Go ``filepath.Match`` per segment, plus ``**`` for any depth."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise BudgetError(f".dockerignore: unterminated character class in {pattern!r}")
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


class DockerIgnore:
    """The build context's exclusion rules, evaluated the way ``docker build`` does.

    A path is excluded when the last rule matching it or one of its parent folders is a plain
    (non-``!``) rule; that is how an allow-list (``*`` then ``!functions/``) lets folders back in.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self.rules: list[IgnoreRule] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            body = line[1:].strip() if negated else line
            body = os.path.normpath(body.lstrip("/")).replace(os.sep, "/")
            self.rules.append(IgnoreRule(_pattern_regex(body), negated))

    @classmethod
    def load(cls, path: Path) -> DockerIgnore:
        return cls(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])

    def excluded(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for rule in self.rules:
            if any(rule.pattern.fullmatch(candidate) for candidate in candidates):
                result = not rule.negated
        return result


# --- offline mode --------------------------------------------------------------------------------


def functions(root: Path = ROOT) -> list[str]:
    """Every function with an image: the folders that declare their runtime requirements."""
    return sorted(path.parent.name for path in (root / "functions").glob("*/requirements.txt"))


def stage_code(function: str, dest: Path, root: Path = ROOT) -> None:
    """Copy the function's code into ``dest`` as the Dockerfile does into /var/task."""
    ignore = DockerIgnore.load(root / ".dockerignore")
    for source_pattern, target in CODE_COPIES:
        source = root / source_pattern.format(function=function)
        if not source.is_dir():
            raise BudgetError(f"{source.relative_to(root)} is missing; the Dockerfile copies it")
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if not path.is_file() or ignore.excluded(relative):
                continue
            destination = dest / target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    for name in CODE_REMOVED:
        (dest / name).unlink(missing_ok=True)


def tree_bytes(path: Path) -> int:
    """Sum of file sizes, as Docker counts a layer (apparent size, links not followed)."""
    total = 0
    for entry in _walk(path):
        total += entry.stat(follow_symlinks=False).st_size
    return total


def _walk(path: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            else:
                yield entry


def _run(argv: Sequence[str], what: str, timeout: float = 600) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)  # noqa: S603
    if proc.returncode != 0:
        detail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BudgetError(f"{what} failed:\n{detail}")


def install_requirements(requirements: Path, target: Path, wheelhouse: Path) -> None:
    """Install for the Lambda platform from the cached wheels, downloading what is missing first."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    offline = [
        *pip,
        "install",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--target",
        str(target),
        *PLATFORM_ARGS,
        "-r",
        str(requirements),
    ]
    wheelhouse.mkdir(parents=True, exist_ok=True)
    try:
        _run(offline, f"installing {requirements} from the wheel cache")
    except BudgetError:
        shutil.rmtree(target, ignore_errors=True)
        _run(
            [*pip, "download", "--dest", str(wheelhouse), *PLATFORM_ARGS, "-r", str(requirements)],
            f"downloading the wheels for {requirements}",
        )
        _run(offline, f"installing {requirements}")
    try:
        image_trim.trim_dependencies(target, image_trim.declared_services(requirements))
    except ValueError as exc:
        raise BudgetError(str(exc)) from exc


def _pyenv_python() -> str:
    """pyenv's 3.12, when pyenv has one but no shim puts it on PATH."""
    wanted = ".".join(map(str, RUNTIME_PYTHON))
    try:
        proc = subprocess.run(  # noqa: S603 - a fixed command line
            ["pyenv", "prefix", wanted],  # noqa: S607 - pyenv is found on PATH, like python3.12
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except OSError:
        return ""
    prefix = proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else ""
    return f"{prefix}/bin/python{wanted}" if prefix else ""


def find_runtime_python(explicit: str | None) -> str:
    """A Python 3.12 to precompile with: .pyc files are specific to the interpreter's version."""
    candidates = [explicit] if explicit else [os.environ.get("PY312", ""), "python3.12", _pyenv_python()]
    for candidate in filter(None, candidates):
        executable = shutil.which(candidate) or candidate
        try:
            proc = subprocess.run(  # noqa: S603 - an interpreter the user named or python3.12
                [executable, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except OSError:
            continue
        if proc.returncode == 0 and tuple(map(int, proc.stdout.split())) == RUNTIME_PYTHON:
            return executable
    wanted = ".".join(map(str, RUNTIME_PYTHON))
    raise BudgetError(
        f"the offline estimate needs a Python {wanted} interpreter to precompile bytecode as the image "
        f"does; put python{wanted} on PATH, install it with pyenv, pass --python or set PY312"
    )


@dataclass(frozen=True)
class Estimate:
    function: str
    base: int
    dependencies: int
    code: int

    @property
    def total(self) -> int:
        return self.base + self.dependencies + self.code


def estimate(
    names: Sequence[str], base: int, python: str, wheelhouse: Path, root: Path = ROOT
) -> list[Estimate]:
    """Build each function's /opt/deps and /var/task in a scratch folder and measure them."""
    results: list[Estimate] = []
    deps_by_requirements: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="image-budget-") as scratch:
        for name in names:
            requirements = root / "functions" / name / "requirements.txt"
            if not requirements.is_file():
                raise BudgetError(f"functions/{name}/requirements.txt is missing")
            key = hashlib.sha256(requirements.read_bytes()).hexdigest()
            if key not in deps_by_requirements:
                deps = Path(scratch) / f"deps-{key[:12]}"
                install_requirements(requirements, deps, wheelhouse)
                compile_tree(python, deps)
                deps_by_requirements[key] = tree_bytes(deps)
            code = Path(scratch) / f"code-{name}"
            code.mkdir()
            stage_code(name, code, root)
            compile_tree(python, code)
            results.append(Estimate(name, base, deps_by_requirements[key], tree_bytes(code)))
    return results


def compile_tree(python: str, path: Path) -> None:
    """Precompile as the Dockerfile does: the runtime's Python, hashes that are never re-checked."""
    _run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(path)],
        f"precompiling {path.name}",
    )


# --- command line --------------------------------------------------------------------------------


def _report(verdicts: Sequence[Verdict]) -> int:
    for verdict in verdicts:
        print(verdict.message())
    return 0 if all(v.ok for v in verdicts) else 1


def _docker(args: argparse.Namespace) -> int:
    budget = parse_size(args.budget)
    sizes = parse_inspect(inspect_images(args.images), args.images)
    return _report([Verdict(name, size, budget) for name, size in sizes])


BASE_MEASURE = """
import os, sys
root = sys.argv[1] if len(sys.argv) > 1 else "/"
skip = {os.path.join(root, p) for p in ("proc", "sys", "dev", "tmp", "opt/deps", "var/task")}
total = 0
for top, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
    total += sum(os.lstat(os.path.join(top, f)).st_size for f in files)
print(total)
"""


# The Dockerfile's base stage, then the measurement; image_trim.py is mounted at /tmp.
BASE_STAGE = (
    "python /tmp/image_trim.py base / >/dev/null"
    " && python -m compileall -q -j 0 --invalidation-mode unchecked-hash"
    ' "$(python -c \'import sysconfig; print(sysconfig.get_path("stdlib"))\')"'
    ' && python -c "$0"'
)


def measure_base(image: str, docker: str = "docker") -> int:
    """Bytes of ``image`` trimmed as the Dockerfile trims its base: every file but /opt/deps and /var/task."""
    executable = shutil.which(docker)
    if executable is None:
        raise BudgetError(f"{docker!r} is not on PATH; without Docker use the offline mode")
    trim = ROOT / "scripts" / "image_trim.py"
    argv = [executable, "run", "--rm", "--network", "host", "--user", "0", "--entrypoint", "/bin/sh"]
    proc = subprocess.run(  # noqa: S603 - fixed argv, the image name passed as an argument
        [*argv, "--volume", f"{trim}:/tmp/image_trim.py:ro", image, "-c", BASE_STAGE, BASE_MEASURE],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise BudgetError(f"measuring the trimmed base of {image} failed: {proc.stderr.strip()[-500:]}")
    return int(proc.stdout.strip())


def _base(args: argparse.Namespace) -> int:
    declared = parse_size(BASE_IMAGE_BYTES)
    verdict = Verdict(f"{args.image} trimmed", measure_base(args.image), declared)
    print(f"declared base size for the offline estimate: {format_size(declared)}")
    if not verdict.ok:
        print("raise BASE_IMAGE_BYTES in scripts/image_budget.py to at least the real size")
    return _report([verdict])


def _offline(args: argparse.Namespace) -> int:
    budget = parse_size(args.budget)
    base = parse_size(args.base_size)
    names = args.function or functions()
    if not names:
        raise BudgetError("no functions/<name>/requirements.txt found: nothing to estimate")
    python = find_runtime_python(args.python)
    results = estimate(names, base, python, Path(args.cache))
    print(
        f"offline image estimate: trimmed {BASE_IMAGE} declared at {format_size(base)}, budget {format_size(budget)}"
    )
    print(f"{'function':<15} {'dependencies':>14} {'code':>12} {'total':>14}")
    for item in results:
        print(
            f"{item.function:<15} {item.dependencies / 10**6:>11.1f} MB {item.code / 10**6:>9.2f} MB "
            f"{item.total / 10**6:>11.1f} MB"
        )
    return _report([Verdict(f"{item.function} (estimate)", item.total, budget) for item in results])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image_budget", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    docker = commands.add_parser("docker", help="check built images with docker image inspect")
    docker.add_argument("images", nargs="+", help="image names, tags or ids")
    docker.add_argument("--budget", default=DEFAULT_BUDGET, help="bytes or e.g. 500MiB, 0.5GiB, 200MB")
    docker.set_defaults(run=_docker)

    base = commands.add_parser("base", help="check the trimmed base against its declared size")
    base.add_argument("image", nargs="?", default=BASE_IMAGE, help="the base image, or a function image")
    base.set_defaults(run=_base)

    offline = commands.add_parser("offline", help="estimate each function's image without Docker")
    offline.add_argument("--function", action="append", help="only this function (repeatable)")
    offline.add_argument("--budget", default=DEFAULT_BUDGET, help="bytes or e.g. 200MB, 500MiB")
    offline.add_argument("--base-size", default=BASE_IMAGE_BYTES, help=f"size of the trimmed {BASE_IMAGE}")
    offline.add_argument("--python", help="a Python 3.12 interpreter for precompiling")
    offline.add_argument(
        "--cache",
        default=os.environ.get("IMAGE_BUDGET_CACHE", str(ROOT / ".tools" / "image-budget" / "wheels")),
        help="wheel cache folder (default .tools/image-budget/wheels)",
    )
    offline.set_defaults(run=_offline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except BudgetError as exc:
        print(f"image_budget: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
