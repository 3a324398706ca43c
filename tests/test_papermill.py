"""`%%hamilton` notebooks under a real papermill kernel: they pass, and kit errors fail them."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import REPO
from nbformat.v4 import new_code_cell, new_notebook


def _execute(notebook: Path, output: Path, **parameters: object) -> nbformat.NotebookNode:
    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    return nbformat.read(output, as_version=4)


def test_quickstart_runs_clean_with_parameters(tmp_path: Path) -> None:
    executed = _execute(
        REPO / "notebooks" / "quickstart.ipynb", tmp_path / "quickstart.ipynb", scale=3.0
    )
    shown = [
        output
        for cell in executed.cells
        if cell.cell_type == "code" and "%%hamilton summary" in cell.source
        for output in cell.outputs
    ]
    texts = "\n".join(output.get("data", {}).get("text/plain", "") for output in shown)
    assert re.search(r"a\s+6\.0", texts) and re.search(r"b\s+9\.0", texts), (
        "the result, computed with scale=3.0, is displayed"
    )


def test_a_kit_error_fails_the_papermill_run(project: Path, tmp_path: Path) -> None:
    notebook = project / "notebooks" / "broken.ipynb"
    cells = [
        new_code_cell("%load_ext kit"),
        new_code_cell("%%hamilton json\ndef a() -> int:\n    return 1\n"),
        new_code_cell("reached = True"),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), notebook)
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        _execute(notebook, tmp_path / "broken.ipynb")
    assert raised.value.ename == "ModuleNameError"
    assert "'json'" in raised.value.evalue
    assert raised.value.cell_index == 1
