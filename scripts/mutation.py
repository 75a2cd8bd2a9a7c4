"""Mutation testing with mutmut: run it incrementally, report per module, keep docs/testing.md true.

mutmut 3 names each module after its file path and only strips a leading ``src/``, and it puts
only ``mutants/``, ``mutants/src`` and ``mutants/source`` on ``sys.path``; the package lives in
``layers/``. So mutmut runs in ``.mutation/``, a folder of links (``src`` -> ``layers``, ``tests``,
``pyproject.toml`` and the data files the tests read) whose ``mutants/`` it owns. Results are kept
there between runs: mutmut re-tests only functions whose source changed, and this script re-tests
the survivors that new or changed tests reach, so a test added to kill one gets its credit.

    python scripts/mutation.py run [MUTANT_GLOB ...]   # mutate, test, print scores and survivors
    python scripts/mutation.py report [--docs]         # print (or write into docs/testing.md)
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lark_service.devtools.local.aws import moto_server

ROOT = Path(__file__).resolve().parents[1]
WORKDIR = ROOT / ".mutation"
DOC = ROOT / "docs" / "testing.md"
LINKS = {"src": "layers", "tests": "tests", "pyproject.toml": "pyproject.toml"}
"""Workspace entry -> repository path. The ``also_copy`` paths of [tool.mutmut] are linked too."""
TEST_HASHES = WORKDIR / "tests.sha256.json"
"""Digests of the test files at the last complete run: which survivors changed tests may kill."""
SHARED_MOTO = "LARK_MUTATION_MOTO_ENDPOINT"
"""One moto server for every mutant's test session (``tests/mutation_shared_moto.py``)."""
TABLE_START = "<!-- mutation-scores:start -->"
TABLE_END = "<!-- mutation-scores:end -->"
EQUIVALENT_SECTION = "Equivalent mutants"
GAPS_SECTION = "Known gaps"
EQUIVALENT_ROW = re.compile(r"^\|\s*`(?P<name>lark_service\.[^`]+__mutmut_(\d+|\*))`\s*\|")
"""A row of docs/testing.md naming a mutant, or all of a function's (``...__mutmut_*``)."""

STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}
"""mutmut's own mapping (``mutmut/stats.py``: ``status_by_exit_code``) for the codes that matter
here; timeouts (SIGXCPU: 24, -24, 152, 36, 255) count as killed, as mutmut's score does."""
TIMEOUT_CODES = {24, -24, 152, 36, 255}


def _mutmut_config() -> dict[str, object]:
    import tomllib  # noqa: PLC0415 - only this script reads the config

    config: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return config


def prepare() -> None:
    """Create or refresh the workspace's links; what mutmut wrote under ``mutants/`` stays."""
    WORKDIR.mkdir(exist_ok=True)
    also_copy = [str(path) for path in _mutmut_config().get("also_copy", [])]  # type: ignore[attr-defined]
    for name, target in {**LINKS, **{path: path for path in also_copy}}.items():
        link = WORKDIR / name
        wanted = os.path.relpath(ROOT / target, link.parent)
        if link.is_symlink() and os.readlink(link) == wanted:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(wanted)


def prune() -> None:
    """Delete mutmut's copies of files that are gone from the repository.

    mutmut copies sources and tests into ``mutants/`` but never deletes: a removed or moved
    module would still be importable there, and a deleted test would still run.
    """
    also_copy = [str(path) for path in _mutmut_config().get("also_copy", [])]  # type: ignore[attr-defined]
    for name, target in {**LINKS, **{path: path for path in also_copy}}.items():
        copy = WORKDIR / "mutants" / name
        if not copy.is_dir():
            continue
        for path in sorted(copy.rglob("*"), reverse=True):
            relative = path.relative_to(copy)
            source = ROOT / target / relative
            if path.suffix in {".meta", ".spans"}:
                source = source.with_suffix("")
            if "__pycache__" in relative.parts or source.exists():
                continue
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                path.unlink()


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str
    module: str
    status: str


def _status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not checked"
    if exit_code in TIMEOUT_CODES:
        return "timeout"
    return STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


def results() -> list[Mutant]:
    """Every mutant of the last run, read from the ``.meta`` files mutmut writes next to each module."""
    out: list[Mutant] = []
    for meta in sorted((WORKDIR / "mutants" / "src").rglob("*.py.meta")):
        module = ".".join(meta.relative_to(WORKDIR / "mutants" / "src").with_suffix("").with_suffix("").parts)
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            out.append(Mutant(name, module, _status(code)))
    return out


def listed() -> dict[str, tuple[str, str]]:
    """Survivors docs/testing.md explains: mutant -> (section heading, reason given there)."""
    if not DOC.exists():
        return {}
    out: dict[str, tuple[str, str]] = {}
    section = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        match = EQUIVALENT_ROW.match(line)
        if match:
            out[match["name"]] = (section, line.split("|")[2].strip())
    return out


def explanation(name: str, rows: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The row that explains mutant ``name``: its own, else a pattern covering its function."""
    if name in rows:
        return rows[name]
    return next((row for pattern, row in rows.items() if fnmatch.fnmatchcase(name, pattern)), None)


def equivalents(names: list[str]) -> set[str]:
    rows = listed()
    return {name for name in names if (explanation(name, rows) or ("", ""))[0] == EQUIVALENT_SECTION}


def score_table(mutants: list[Mutant]) -> str:
    """Markdown: killed / total per module, survivors split into explained and unexplained."""
    explained = equivalents([m.name for m in mutants if m.status == "survived"])
    by_module: dict[str, Counter[str]] = {}
    for mutant in mutants:
        counts = by_module.setdefault(mutant.module, Counter())
        counts[mutant.status] += 1
        if mutant.status == "survived" and mutant.name in explained:
            counts["equivalent"] += 1
    lines = [
        "| module | mutants | killed | survived (equivalent) | no tests | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        lines.append(_row(f"`{module}`", counts))
    lines.append(_row("**all**", total))
    return "\n".join(lines)


def _row(label: str, counts: Counter[str]) -> str:
    mutants = sum(v for k, v in counts.items() if k != "equivalent")
    killed = counts["killed"] + counts["timeout"]
    tested = mutants - counts["skipped"] - counts["not checked"] - counts["equivalent"]
    score = f"{100 * killed / tested:.1f} %" if tested else "-"
    survived = f"{counts['survived']} ({counts['equivalent']})"
    return f"| {label} | {mutants} | {killed} | {survived} | {counts['no tests']} | {score} |"


def report(write_docs: bool) -> int:
    """Print the table and every survivor; 1 when a survivor is neither killed nor explained."""
    mutants = results()
    if not mutants:
        print("no mutation results yet: run `make mutation` first", file=sys.stderr)
        return 1
    table = score_table(mutants)
    print(table)
    rows = listed()
    survivors = [m.name for m in mutants if m.status in {"survived", "no tests", "suspicious"}]
    unexplained = [name for name in survivors if explanation(name, rows) is None]
    stale = sorted(p for p in rows if not any(fnmatch.fnmatchcase(name, p) for name in survivors))
    gaps = [name for name in survivors if (explanation(name, rows) or ("", ""))[0] == GAPS_SECTION]
    if gaps:
        print(f"\n{len(gaps)} survivor(s) listed in docs/testing.md under {GAPS_SECTION!r}.")
    if unexplained:
        print(f"\n{len(unexplained)} survivor(s) neither killed nor listed in docs/testing.md:")
        for name in unexplained:
            print(f"  {name}    (see: cd .mutation && ../.venv/bin/mutmut show {name})")
    if stale:
        print("\nListed in docs/testing.md but no longer surviving (remove the rows):")
        for name in stale:
            print(f"  {name}")
    if write_docs:
        _write_table(table)
    return 1 if unexplained else 0


def _write_table(table: str) -> None:
    text = DOC.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    DOC.write_text(f"{text[:start]}\n{table}\n{text[end:]}")
    print(f"\nwrote the table into {DOC.relative_to(ROOT)}")


def run(mutant_names: list[str]) -> int:
    """Mutate and test what changed, then re-test the last survivors; print the report."""
    prepare()
    prune()
    try:
        return _with_shared_moto(mutant_names)
    except KeyboardInterrupt:
        print("\ninterrupted: results so far are kept; `make mutation` goes on from there", file=sys.stderr)
        return 130


def _with_shared_moto(mutant_names: list[str]) -> int:
    # mutmut's own limit counts CPU seconds, and a mutant that makes a test wait (a longer sleep,
    # a poll that never succeeds) uses none: cap each test's wall time instead. The slowest test
    # takes about 6 s on an idle machine.
    os.environ.setdefault("PYTEST_TIMEOUT", "30")
    with moto_server() as endpoint:
        os.environ[SHARED_MOTO] = endpoint
        return _run(mutant_names)


def _run(mutant_names: list[str]) -> int:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    started = time.monotonic()
    # Most of these tests wait on sockets (moto, the sandbox), so twice as many workers as cores
    # keeps the cores busy; MUTATION_JOBS overrides.
    jobs = os.environ.get("MUTATION_JOBS") or str(2 * (os.cpu_count() or 1))
    tests_now = _test_hashes()
    changed = _changed_tests(tests_now)
    code = _mutmut(mutmut, "run", "--max-children", jobs, *mutant_names)
    # mutmut keeps a verdict until the function's source changes: a survivor whose tests changed
    # since the last run is tested again, so a test written to kill it gets its credit.
    retest = _survivors_reached_by(changed) if not mutant_names else []
    if not code and retest:
        print(f"\nre-testing {len(retest)} survivor(s) that changed tests reach")
        code = _mutmut(mutmut, "run", "--max-children", jobs, *retest)
    if code:
        return code
    TEST_HASHES.write_text(json.dumps(tests_now, indent=1, sort_keys=True))
    print(f"\nmutation run took {time.monotonic() - started:.0f} s\n")
    return report(write_docs=False)


def _test_hashes() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((ROOT / "tests").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _changed_tests(now: dict[str, str]) -> set[str] | None:
    """Test files new or changed since the last complete run; None when anything may have changed
    (no record yet, or a shared file such as a conftest, fixture or stand-in changed)."""
    if not TEST_HASHES.exists():
        return None
    before: dict[str, str] = json.loads(TEST_HASHES.read_text())
    changed = {path for path, digest in now.items() if before.get(path) != digest}
    if any(not Path(path).name.startswith("test_") for path in changed):
        return None
    return changed


def _survivors_reached_by(changed: set[str] | None) -> list[str]:
    """Survivors, and mutants no test reached, that the changed tests now reach."""
    survivors = [m.name for m in results() if m.status in {"survived", "no tests"}]
    if changed is None:
        return survivors
    stats = json.loads((WORKDIR / "mutants" / "mutmut-stats.json").read_text())
    tests_by_function: dict[str, list[str]] = stats["tests_by_mangled_function_name"]
    return [
        name
        for name in survivors
        if any(
            test.split("::")[0] in changed
            for test in tests_by_function.get(name.partition("__mutmut_")[0], [])
        )
    ]


def _mutmut(*argv: str) -> int:
    proc = subprocess.Popen(argv, cwd=WORKDIR)  # noqa: S603 - our own venv's mutmut
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.wait()  # Ctrl-C reached mutmut too: let it stop its workers and save what they found
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="mutate, test, report")
    run_cmd.add_argument("mutants", nargs="*", help="only these mutants (globs as mutmut takes them)")
    report_cmd = sub.add_parser("report", help="print the last run's scores and survivors")
    report_cmd.add_argument("--docs", action="store_true", help="write the score table into docs/testing.md")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.mutants)
    return report(write_docs=args.docs)


if __name__ == "__main__":
    sys.exit(main())
