"""Helpers of the reliability suites: project trees hashed, notebooks written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` by relative path, except caches and kit's lock files."""
    found = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if "__pycache__" in parts or path.name.endswith(".lock") or not path.is_file():
            continue
        found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def write_notebook(
    path: Path,
    *sources: str,
    parameters: str | None = None,
    kernelspec: bool = True,
    extra_parameters: str | None = None,
) -> Path:
    """A notebook of code cells; a `parameters` cell first (and a second one) when given."""
    cells = []
    for text in (parameters, extra_parameters):
        if text is not None:
            cells.append(new_code_cell(text, metadata={"tags": ["parameters"]}))
    cells += [new_code_cell(source) for source in sources]
    metadata = {"kernelspec": KERNELSPEC} if kernelspec else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells, metadata=metadata), path)
    return path
