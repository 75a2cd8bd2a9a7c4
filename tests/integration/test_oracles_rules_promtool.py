"""The recording rules as rendered *now*, judged by Prometheus's own rule evaluator.

``make monitoring-check`` runs ``promtool test rules`` on the committed rules file, and a unit
test compares that file with a fresh render. Neither judges a change to the generator: re-render
and both pass, whatever the new arithmetic says. Here the generator's current output replaces
the committed file and promtool (the real Prometheus evaluator, Debian package ``prometheus``)
runs every committed promtool case against it, so a generator change that breaks a case's
expected values fails here before anything is re-rendered. Mutation runs rely on this.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lark_service.devtools.render.cli import render_all
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

PROMETHEUS = ROOT / "monitoring" / "prometheus"
RECORDING = "monitoring/prometheus/rules/recording.yml"


def test_every_promtool_case_passes_on_freshly_rendered_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed: install the 'prometheus' package (make tools)"
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    shutil.copytree(PROMETHEUS / "tests", tmp_path / "tests")
    (tmp_path / "rules" / "recording.yml").write_text(render_all()[RECORDING], encoding="utf-8")
    cases = sorted(str(path) for path in (tmp_path / "tests").glob("*.test.yml"))
    assert cases, "no promtool cases found"
    out = subprocess.run(
        [promtool, "test", "rules", *cases],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path / "tests",
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
