from __future__ import annotations

from pathlib import Path

from lark_service.devtools.project import find_root
from tests.conftest import ROOT


def test_the_nearest_directory_with_the_template_and_functions_wins(tmp_path: Path) -> None:
    project = tmp_path / "bot"
    (project / "functions").mkdir(parents=True)
    (project / "template.yaml").write_text("Resources: {}\n")
    deep = project / "docs" / "nested"
    deep.mkdir(parents=True)
    assert find_root(deep) == project
    assert find_root(project) == project


def test_a_folder_with_only_one_marker_is_not_a_root(tmp_path: Path) -> None:
    """Elsewhere (here: only ``functions/``) the tools fall back to this package's own checkout."""
    (tmp_path / "functions").mkdir()
    assert find_root(tmp_path) == ROOT
