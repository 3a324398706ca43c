"""`-p` values take the parameters cell's declared type where papermill's guess breaks Hamilton."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kit.parameters import NotebookParameters, typed_parameter


def test_an_int_for_a_float_parameter_becomes_a_float() -> None:
    cell = NotebookParameters(defaults={"scale": "2.0", "rows": "5", "name": "'a'"}, has_cell=True)
    given = {
        "scale": typed_parameter("3"),
        "rows": typed_parameter("7"),
        "name": typed_parameter("b"),
    }
    conformed = cell.conform(given)
    assert conformed == {"scale": 3.0, "rows": 7, "name": "b"}
    assert type(conformed["scale"]) is float and type(conformed["rows"]) is int


def test_a_new_project_validates_with_an_int_for_its_float_parameter(tmp_path: Path) -> None:
    kit = [sys.executable, "-m", "kit.cli"]
    subprocess.run([*kit, "init", "fresh"], cwd=tmp_path, check=True, capture_output=True)
    project = tmp_path / "fresh"
    subprocess.run([*kit, "export"], cwd=project, check=True, capture_output=True)
    done = subprocess.run(
        [*kit, "validate", "notebooks/starter.ipynb", "-p", "scale", "3"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scale=3.0" in done.stdout
