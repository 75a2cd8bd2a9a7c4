"""The image size gate: size parsing, verdicts, Docker's inspect output, and what an image holds."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import image_budget, image_trim
from scripts.image_budget import BudgetError, DockerIgnore, Verdict, parse_inspect, parse_size
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
INSPECT = FIXTURES / "docker_image_inspect.json"
MIB = 2**20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("524288000", 524_288_000),
        ("500MiB", 500 * MIB),
        ("500 MiB", 500 * MIB),
        ("500mib", 500 * MIB),
        ("0.5GiB", 2**29),
        ("1.5GiB", 3 * 2**29),
        ("200MB", 200_000_000),
        ("1.2GB", 1_200_000_000),
        ("123MB", 123_000_000),
        ("2KiB", 2048),
        ("1.5kB", 1500),
        ("10B", 10),
        ("1TiB", 2**40),
        ("0", 0),
        ("1.0000001KiB", 1024),
    ],
)
def test_sizes_in_bytes_binary_and_decimal_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is not a number"),
        ("MiB", "is not a number"),
        ("-5MiB", "is not a number"),
        ("5 XB", "unknown unit 'XB'"),
        ("5MiBs", "unknown unit 'MiBs'"),
        ("1,000", "is not a number"),
        ("1e6", "is not a number"),
    ],
)
def test_bad_sizes_name_the_input(text: str, fragment: str) -> None:
    with pytest.raises(BudgetError, match=re.escape(fragment)) as info:
        parse_size(text)
    assert repr(text) in str(info.value)


def test_decimal_and_binary_megabytes_differ() -> None:
    assert parse_size("500MiB") - parse_size("500MB") == 24_288_000


def test_verdict_at_the_budget_passes_and_one_byte_over_fails() -> None:
    at = Verdict("img", 1000, 1000)
    over = Verdict("img", 1001, 1000)
    assert at.ok
    assert at.excess == 0
    assert not over.ok
    assert over.excess == 1


def test_failure_names_image_size_and_excess() -> None:
    verdict = Verdict("lark-service:worker", 612_368_384, parse_size("500MiB"))
    message = verdict.message()
    assert message.startswith("FAIL lark-service:worker")
    assert "612,368,384 bytes" in message
    assert "524,288,000 bytes" in message
    assert f"{612_368_384 - 524_288_000:,} bytes" in message


def test_pass_reports_headroom() -> None:
    message = Verdict("lark-service:webhook", 187_342_911, 200_000_000).message()
    assert message.startswith("ok   lark-service:webhook")
    assert f"{200_000_000 - 187_342_911:,} bytes under" in message


# --- docker image inspect ----------------------------------------------------------------------
# The fixture follows the Docker Engine's ImageInspect document (one object per image, in the
# order asked for; ``Size`` is the unpacked total; current engines no longer print VirtualSize).


def test_inspect_sizes_in_request_order() -> None:
    sizes = parse_inspect(INSPECT.read_text(), ["lark-service:webhook", "lark-service:worker"])
    assert sizes == [("lark-service:webhook", 187_342_911), ("lark-service:worker", 612_368_384)]


def test_inspect_count_mismatch_is_an_error() -> None:
    with pytest.raises(BudgetError, match="returned 2 images for 1 requested"):
        parse_inspect(INSPECT.read_text(), ["lark-service:webhook"])


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("not json", "did not print JSON"),
        ('{"Size": 1}', "no list of images"),
        ('[{"Id": "sha256:00"}]', "no byte count (Size) for img"),
        ('[{"Size": "123MB"}]', "no byte count (Size) for img"),
        ('[{"Size": true}]', "no byte count (Size) for img"),
        ('[{"Size": -1}]', "no byte count (Size) for img"),
        ("[null]", "no byte count (Size) for img"),
    ],
)
def test_malformed_inspect_output_is_an_error(document: str, fragment: str) -> None:
    with pytest.raises(BudgetError, match=re.escape(fragment)):
        parse_inspect(document, ["img"])


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker`` on PATH that answers ``image inspect`` from the fixture, as the engine would:
    the requested images in order, or an error naming one it does not have."""
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "if sys.argv[1:3] != ['image', 'inspect']:\n"
        "    sys.exit(3)\n"
        f"images = json.load(open({str(INSPECT)!r}))\n"
        "found = []\n"
        "for name in sys.argv[3:]:\n"
        "    match = [i for i in images if name in i['RepoTags']]\n"
        "    if not match:\n"
        "        print('Error: No such image: ' + name, file=sys.stderr)\n"
        "        sys.exit(1)\n"
        "    found += match\n"
        "print(json.dumps(found))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return script


def test_the_default_budget_is_150_megabytes(fake_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert image_budget.main(["docker", "lark-service:webhook"]) == 1  # 187,342,911 bytes
    assert "exceeds the budget of 150,000,000 bytes" in capsys.readouterr().out


def test_docker_mode_passes_under_budget(fake_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = image_budget.main(["docker", "--budget", "600MiB", "lark-service:webhook", "lark-service:worker"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ok   ") == 2


def test_docker_mode_fails_the_image_over_budget(
    fake_docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = image_budget.main(["docker", "--budget", "500MiB", "lark-service:webhook", "lark-service:worker"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ok   lark-service:webhook" in out
    assert "FAIL lark-service:worker: 612,368,384 bytes" in out
    assert "by 88,080,384 bytes" in out


def test_docker_mode_reports_a_missing_image(fake_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert image_budget.main(["docker", "missing"]) == 2
    assert "No such image: missing" in capsys.readouterr().err


def test_docker_mode_without_docker_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert image_budget.main(["docker", "img"]) == 2
    assert "'docker' is not on PATH" in capsys.readouterr().err


def test_bad_budget_exits_2_naming_it(fake_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert image_budget.main(["docker", "--budget", "lots", "lark-service:webhook"]) == 2
    assert "'lots'" in capsys.readouterr().err


def test_base_measure_counts_every_file_but_the_dependencies_and_the_code(tmp_path: Path) -> None:
    _write(tmp_path / "usr/lib/libc.so", "c" * 700)
    _write(tmp_path / "etc/passwd", "p" * 30)
    _write(tmp_path / "opt/deps/botocore/x.py", "d" * 5000)
    _write(tmp_path / "var/task/app.py", "a" * 900)
    _write(tmp_path / "proc/cpuinfo", "x" * 400)
    proc = subprocess.run(
        [sys.executable, "-c", image_budget.BASE_MEASURE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(proc.stdout) == 730


# --- .dockerignore -------------------------------------------------------------------------------


def test_repository_dockerignore_lets_through_only_what_runs() -> None:
    ignore = DockerIgnore.load(ROOT / ".dockerignore")
    assert not ignore.excluded("functions/webhook/app.py")
    assert not ignore.excluded("functions/worker/requirements.txt")
    assert not ignore.excluded("layers/lark_service/config.py")
    assert not ignore.excluded("layers/lark_service/metrics/catalog.py")
    for path in (
        "tests/unit/test_config.py",
        "pyproject.toml",
        ".tools/checkov/bin/checkov",
        ".venv/bin/python",
        "layers/lark_service/devtools/cli.py",
        "layers/lark_service/devtools/local/aws.py",
        "layers/lark_service/devtools/sandbox/server.py",
        "layers/lark_service/devtools/exporter/cli.py",
        "layers/lark_service/devtools/render/cli.py",
        "layers/lark_service/__pycache__/config.cpython-312.pyc",
        "functions/webhook/__pycache__/app.cpython-311.pyc",
    ):
        assert ignore.excluded(path), path


def test_last_matching_rule_wins_and_parents_count() -> None:
    ignore = DockerIgnore(["# comment", "", "docs", "!docs/keep.md", "**/*.log", "/build/", "a?c", "[xy]z"])
    assert ignore.excluded("docs/other.md")
    assert not ignore.excluded("docs/keep.md")
    assert ignore.excluded("deep/down/run.log")
    assert ignore.excluded("run.log")
    assert ignore.excluded("build/out/x.bin")
    assert ignore.excluded("abc")
    assert not ignore.excluded("abbc")
    assert ignore.excluded("yz")
    assert not ignore.excluded("wz")
    assert not ignore.excluded("src/main.py")


def test_unterminated_class_is_an_error() -> None:
    with pytest.raises(BudgetError, match="unterminated"):
        DockerIgnore(["[abc"])


# --- staging and measuring -----------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_stage_code_copies_as_the_dockerfile_does(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _write(repo / ".dockerignore", (ROOT / ".dockerignore").read_text())
    _write(repo / "functions/webhook/app.py", "def handler(e, c): ...\n")
    _write(repo / "functions/webhook/requirements.txt", "boto3==1\n")
    _write(repo / "functions/webhook/__pycache__/app.cpython-311.pyc", "stale")
    _write(repo / "layers/lark_service/__init__.py", "")
    _write(repo / "layers/lark_service/devtools/local/aws.py", "import moto\n")
    _write(repo / "layers/lark_service/devtools/cli.py", "")
    _write(repo / "layers/lark_service/metrics/catalog.py", "X = 1\n")
    _write(repo / "tests/test_x.py", "")
    dest = tmp_path / "task"
    dest.mkdir()
    image_budget.stage_code("webhook", dest, repo)
    staged = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert staged == ["app.py", "lark_service/__init__.py", "lark_service/metrics/catalog.py"]


def test_stage_code_names_a_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "layers" / "lark_service").mkdir(parents=True)
    with pytest.raises(BudgetError, match=r"functions/worker is missing"):
        image_budget.stage_code("worker", tmp_path / "out", tmp_path)


def test_tree_bytes_sums_files_and_counts_links_as_links(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "x" * 100)
    _write(tmp_path / "sub/b.bin", "y" * 1000)
    (tmp_path / "link").symlink_to(tmp_path / "sub" / "b.bin")
    link_size = os.lstat(tmp_path / "link").st_size
    assert image_budget.tree_bytes(tmp_path) == 1100 + link_size


def test_trim_dependencies_keeps_only_the_declared_services(tmp_path: Path) -> None:
    _write(tmp_path / "bin/normalizer", "#!/usr/bin/python")
    _write(tmp_path / "simplejson/tests/test_dump.py", "")
    _write(tmp_path / "botocore/data/sqs/2012-11-05/examples-1.json", "{}")
    _write(
        tmp_path / "botocore/data/sqs/2012-11-05/service-2.json", '{"metadata": {"endpointPrefix": "sqs"}}'
    )
    _write(tmp_path / "botocore/data/ec2/2016-11-15/service-2.json.gz", "gz" * 100)
    freed = image_trim.trim_dependencies(tmp_path, ["sqs"])
    remaining = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert remaining == ["botocore/data/sqs/2012-11-05/service-2.json"]
    # The scripts, the test, the example, the other service, and the model's spaces.
    assert freed == len("#!/usr/bin/python") + 2 + 200 + 2


def test_trim_refuses_a_service_botocore_does_not_have(tmp_path: Path) -> None:
    _write(tmp_path / "botocore/data/sqs/2012-11-05/service-2.json.gz", "gz")
    with pytest.raises(ValueError, match="no service model named sns"):
        image_trim.trim_dependencies(tmp_path, ["sqs", "sns"])


def test_base_trim_keeps_the_shell_tools_sam_needs_and_the_package_list(tmp_path: Path) -> None:
    for kept in ("bin/sh", "usr/bin/mv", "usr/bin/chmod", "var/lib/dpkg/status", "usr/local/bin/python3.12"):
        _write(tmp_path / kept, "k")
    for dropped in (
        "usr/local/lib/python3.12/site-packages/pip/__init__.py",
        "usr/local/bin/pip3",
        "usr/local/lib/python3.12/test/test_os.py",
        "usr/share/doc/bash/copyright",
        "usr/bin/perl",
        "var/lib/dpkg/info/bash.list",
    ):
        _write(tmp_path / dropped, "d")
    image_trim.remove(tmp_path, image_trim.BASE_REMOVALS)
    remaining = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert remaining == [
        "bin/sh",
        "usr/bin/chmod",
        "usr/bin/mv",
        "usr/local/bin/python3.12",
        "var/lib/dpkg/status",
    ]


def test_estimate_total_adds_base_dependencies_and_code() -> None:
    item = image_budget.Estimate("webhook", base=100, dependencies=20, code=3)
    assert item.total == 123


def test_missing_runtime_python_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PY312", raising=False)
    with pytest.raises(BudgetError, match=r"needs a Python 3\.12 interpreter"):
        image_budget.find_runtime_python(None)


# --- the Dockerfile and the estimate describe the same image ------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_dockerfile_copies_what_the_estimate_stages() -> None:
    for source, target in image_budget.CODE_COPIES:
        line = f"COPY {source.format(function='${FUNCTION}')}/ /var/task/{target + '/' if target else ''}"
        assert line in DOCKERFILE, line


def test_dockerfile_trims_what_the_estimate_trims() -> None:
    assert "COPY scripts/image_trim.py image_trim.py" in DOCKERFILE
    assert "python image_trim.py deps /opt/deps --requirements requirements.txt" in DOCKERFILE
    assert "python /tmp/image_trim.py base /" in DOCKERFILE
    assert not DockerIgnore.load(ROOT / ".dockerignore").excluded("scripts/image_trim.py")
    assert "rm -f /var/task/requirements.txt" in DOCKERFILE
    assert image_budget.CODE_REMOVED == ("requirements.txt",)


def test_dockerfile_installs_wheels_only_and_precompiles_like_the_estimate() -> None:
    assert "--only-binary=:all:" in DOCKERFILE
    assert "--only-binary=:all:" in image_budget.PLATFORM_ARGS
    assert "compileall -q -j 0 --invalidation-mode unchecked-hash /opt/deps /var/task" in DOCKERFILE


def test_dockerfile_final_stage_is_the_trimmed_base_and_root_for_sams_rebuild() -> None:
    stages = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)
    assert len(stages) == 4, "a builder, a trimmed base and a runtime stage"
    runtime = stages[3]
    assert runtime.startswith("scratch\n")
    assert "COPY --from=base / /" in runtime
    assert "apt-get" not in runtime
    assert "pip install" not in runtime
    # SAM CLI's rebuild RUNs mv/chmod as the image's last user (aws/aws-sam-cli#3891).
    assert not re.search(r"^USER ", DOCKERFILE, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]' in runtime
    assert 'CMD ["app.handler"]' in runtime
    assert "ARG PYTHON_IMAGE=python:3.12-slim\n" in DOCKERFILE


def test_dockerfile_builds_from_two_mirrors_and_nothing_else() -> None:
    """Air-gapped builds: the base image and the package index are build arguments."""
    assert "# syntax" not in DOCKERFILE.lower()
    assert re.search(r"^ARG PIP_INDEX_URL$", DOCKERFILE, flags=re.MULTILINE)
    assert '${PIP_INDEX_URL:+--index-url "${PIP_INDEX_URL}"}' in DOCKERFILE
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert set(froms) == {"${PYTHON_IMAGE}", "scratch"}
