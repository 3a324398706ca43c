"""A promoted flow does not drift with validated parameters.

Its config default is the notebook's literal.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

import kit
from kit.generated import read
from kit.project import require_project
from kit.sync import export_notebooks

VARIANTS = """%%hamilton scoring
from hamilton.function_modifiers import config


@config.when(model="small")
def score__small(base: int) -> int:
    return base


@config.when(model="large")
def score__large(base: int, boost: int = 10) -> int:
    return base + boost
"""


def _notebook(project: Path) -> Path:
    path = project / "notebooks" / "variants.ipynb"
    cells = [
        new_code_cell("%load_ext kit"),
        new_code_cell('model_type = "small"\nbase = 1', metadata={"tags": ["parameters"]}),
        new_code_cell("%hamilton_config model=$model_type"),
        new_code_cell(VARIANTS),
        new_code_cell("%hamilton_promote scored --outputs score"),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def test_validating_with_another_parameter_keeps_the_flow_as_written(project: Path) -> None:
    notebook = _notebook(project)
    export_notebooks(require_project(project), [notebook])
    flow = project / "flows" / "scored.py"
    header, body = read(flow)
    assert 'hamilton_config: dict[str, Any] = {"model": "small"},' in body

    report = kit.validate([notebook], parameters={"model_type": "large"})
    assert report.passed, report.text()
    assert read(flow) == (header, body)


def test_the_kernel_remembers_which_config_keys_came_from_variables(shell) -> None:
    shell.user_ns["model_type"] = "large"
    shell.run_cell("%hamilton_config model=$model_type n=2")
    ws = kit.workspace()
    assert ws.config == {"model": "large", "n": 2}
    assert ws.config_references == {"model": "model_type"}
    shell.run_cell("%hamilton_config model=small")
    assert ws.config_references == {}
