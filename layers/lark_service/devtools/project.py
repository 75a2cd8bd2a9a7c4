"""Where the project's checkout is, for the tools that read its files."""

from __future__ import annotations

from pathlib import Path

MARKERS = ("template.yaml", "functions")


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (the cwd) holding ``template.yaml`` and ``functions/``.

    Failing that, the checkout this package runs from (an editable install), so the tools also
    work from outside the project directory.
    """
    here = (start or Path.cwd()).resolve()
    checkout = Path(__file__).resolve().parents[3]
    for candidate in (here, *here.parents, checkout):
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no project root (template.yaml and functions/) at or above {here}; run from the project's root"
    )
