"""`kit validate` / kit.validate: real papermill runs in this environment's kernel, and the drift
check."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import kit
from kit.cli import main
from kit.errors import KitError
from kit.parameters import (
    UnknownParameterError,
    collect_parameters,
    typed_flow_parameter,
    typed_parameter,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(
    path: Path, *cells: str, parameters: str | None = None, markdown: str | None = None
) -> Path:
    """A notebook at `path`: an optional markdown cell, an optional `parameters` cell, then code
    cells."""
    nb_cells = [new_markdown_cell(markdown)] if markdown else []
    if parameters is not None:
        nb_cells.append(
            new_code_cell(textwrap.dedent(parameters), metadata={"tags": ["parameters"]})
        )
    nb_cells += [new_code_cell(textwrap.dedent(source)) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=nb_cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def run_kit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `kit` command line in a fresh interpreter, from `root`."""
    return subprocess.run(
        [sys.executable, "-m", "kit.cli", *args], cwd=root, capture_output=True, text=True
    )


def executed_outputs(path: Path) -> str:
    """All text the executed notebook's cells printed or displayed."""
    texts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


# -- parameters, typed and read as papermill does -------------------------------------------------


def test_values_are_typed_as_papermill_types_them() -> None:
    assert typed_parameter("7") == 7 and isinstance(typed_parameter("7"), int)
    assert typed_parameter("0.5") == 0.5
    assert typed_parameter("True") is True and typed_parameter("False") is False
    assert typed_parameter("None") is None
    assert typed_parameter("true") == "true"
    assert typed_parameter("rf") == "rf"
    assert typed_flow_parameter('{"model": "rf"}') == {"model": "rf"}
    assert typed_flow_parameter("[1, 2]") == [1, 2]
    assert typed_flow_parameter("7") == 7


def test_a_parameters_file_is_read_as_yaml_and_p_overrides_it(tmp_path: Path) -> None:
    file = tmp_path / "params.yaml"
    file.write_text("rows: 7\nname: sample\nday: 2024-01-31\n")
    assert collect_parameters([("name", "full")], file) == {
        "rows": 7,
        "name": "full",
        "day": "2024-01-31",
    }
    file.write_text("- 1\n- 2\n")
    with pytest.raises(KitError, match="not a mapping"):
        collect_parameters(file=file)


# -- runs ------------------------------------------------------------------------------------------


ENVIRONMENT_CELL = """\
import os, sys
from pathlib import Path
seen = {
    "session": os.environ.get("JPY_SESSION_NAME"),
    "validate": os.environ.get("KIT_VALIDATE"),
    "cwd": str(Path.cwd()),
    "python": sys.executable,
    "rows": rows,
}
print("SEEN", seen)
"""


def test_a_passing_notebook_runs_in_its_folder_told_its_path_and_that_it_validates(
    project: Path,
) -> None:
    notebook = write_notebook(
        project / "notebooks" / "plain.ipynb", ENVIRONMENT_CELL, parameters="rows = 3"
    )
    report = kit.validate([notebook], {"rows": 7}, progress=False)
    assert report.passed, report.text()
    [result] = report
    assert result.executed == project / "runs" / "notebooks" / "plain.ipynb"
    assert result.failure is None and result.drift == () and result.duration > 0
    seen = executed_outputs(result.executed)
    assert f"'session': '{notebook}'" in seen
    assert "'validate': '1'" in seen
    assert f"'cwd': '{notebook.parent}'" in seen
    assert f"'python': '{sys.executable}'" in seen, "the kernel of this environment ran it"
    assert "'rows': 7" in seen
    assert "PASSED notebooks/plain.ipynb" in report.text()
    assert "1 of 1 notebook passed" in report.text()
    assert "KIT_VALIDATE" not in os.environ, "the caller's environment is left alone"


def test_a_notebook_without_parameters_cell_validates_without_parameters(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "bare.ipynb", "x = 1")
    assert kit.validate(notebook, progress=False).passed
    with pytest.raises(UnknownParameterError, match="has no parameters cell") as raised:
        kit.validate(notebook, {"x": 2}, progress=False)
    assert raised.value.names == ["x"]


def test_an_unknown_parameter_is_refused_before_anything_runs(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "typo.ipynb",
        "open('ran', 'w').close()",
        parameters="rows = 3\nmodel_type = 'rf'",
    )
    with pytest.raises(UnknownParameterError) as raised:
        kit.validate([notebook], {"rowz": 5}, progress=False)
    assert raised.value.names == ["rowz"]
    assert raised.value.valid == ["model_type", "rows"]
    assert "rowz" in str(raised.value) and "model_type, rows" in str(raised.value)
    assert not (project / "runs").exists() and not (project / "notebooks" / "ran").exists()

    done = run_kit(project, "validate", "notebooks/typo.ipynb", "-p", "rowz", "5")
    assert done.returncode == 1
    assert "unknown parameter rowz" in done.stderr and "model_type, rows" in done.stderr
    assert not (project / "runs").exists()


def test_a_cell_that_raises_is_named_with_its_first_lines_and_error(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "broken.ipynb",
        "total = rows * 2",
        "checked = True\nif total > 5:\n"
        "    raise ValueError(f'too many rows: {total}')\nunreached = 1",
        "print('never')",
        parameters="rows = 1",
        markdown="# broken",
    )
    report = kit.validate(notebook, {"rows": 4}, progress=False)
    assert not report.passed
    [result] = report
    failure = result.failure
    assert failure is not None
    assert failure.index == 3, (
        "the index of the cell in the notebook as saved (papermill's injected cell not counted)"
    )
    assert failure.ename == "ValueError" and failure.evalue == "too many rows: 8"
    assert failure.head(2) == "checked = True\nif total > 5:\n..."
    assert result.executed.is_file(), "the executed notebook is kept on failure"
    executed = nbformat.read(result.executed, as_version=4)
    assert any(
        output.get("ename") == "ValueError"
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    text = report.text()
    assert "FAILED notebooks/broken.ipynb" in text and "cell 3 failed" in text
    assert "| checked = True" in text and "ValueError: too many rows: 8" in text
    assert "runs/notebooks/broken.ipynb" in text

    done = run_kit(project, "validate", "notebooks/broken.ipynb", "-p", "rows", "4")
    assert done.returncode == 1
    assert "cell 3 failed" in done.stdout and "ValueError: too many rows: 8" in done.stdout
    assert "broken.ipynb" in done.stderr and "cell" in done.stderr, (
        "a progress bar per notebook on stderr"
    )


def test_a_cell_that_runs_too_long_fails_at_the_timeout(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "slow.ipynb", "x = 1", "import time\ntime.sleep(120)"
    )
    report = kit.validate(notebook, timeout=2, progress=False)
    [result] = report
    assert result.failure is not None and result.failure.index == 1
    assert result.failure.ename == "CellTimeoutError" and "longer than 2 s" in result.failure.evalue
    assert result.executed.is_file()


def test_a_kernel_that_dies_is_reported_at_its_cell(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "dies.ipynb", "x = 1", "import os\nos._exit(3)", "y = 2"
    )
    report = kit.validate(notebook, progress=False)
    [result] = report
    assert result.failure is not None and result.failure.index == 1
    assert result.failure.ename == "DeadKernelError"
    assert result.executed.is_file()
    assert result.kernel_log is not None and result.kernel_log.is_file()
    assert "kernel log: runs/notebooks/dies.kernel.log" in report.text()


def test_notebooks_validate_in_parallel_processes_and_report_in_order(
    project: Path, tmp_path: Path
) -> None:
    first = write_notebook(
        project / "notebooks" / "one.ipynb", "import os\nprint('PID', os.getppid())"
    )
    second = write_notebook(
        project / "notebooks" / "two.ipynb", "import os\nprint('PID', os.getppid())", "1 / 0"
    )
    report = kit.validate([first, second], jobs=2, out=tmp_path / "executed", progress=False)
    assert [r.notebook for r in report] == [first, second]
    assert [r.passed for r in report] == [True, False]
    assert report[1].failure is not None and report[1].failure.ename == "ZeroDivisionError"
    parents = {executed_outputs(r.executed).split("PID")[1].split()[0] for r in report}
    assert str(os.getpid()) not in parents and len(parents) == 2, (
        "each ran from a worker process of its own"
    )
    assert (tmp_path / "executed" / "notebooks" / "one.ipynb").is_file()


def test_the_command_line_exits_zero_when_all_pass(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(project / "notebooks" / "ok.ipynb", "y = x + 1", parameters="x = 1")
    assert main(["validate", "notebooks/ok.ipynb", "-p", "x", "2", "--out", "elsewhere"]) == 0
    out = capsys.readouterr().out
    assert "PASSED notebooks/ok.ipynb" in out and "parameters: x=2" in out
    assert (project / "elsewhere" / "notebooks" / "ok.ipynb").is_file()


def test_a_folder_validates_the_notebooks_in_it_not_checkpoints(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project / "notebooks"
    write_notebook(folder / "b.ipynb", "y = 2")
    write_notebook(folder / "a.ipynb", "x = 1")
    write_notebook(folder / ".ipynb_checkpoints" / "a-checkpoint.ipynb", "1 / 0")
    (folder / "notes.txt").write_text("not a notebook")
    assert main(["validate", "notebooks/", "--out", "executed"]) == 0
    out = capsys.readouterr().out
    assert "PASSED notebooks/a.ipynb" in out and "PASSED notebooks/b.ipynb" in out
    assert "2 of 2 notebooks passed" in out and "checkpoint" not in out
    with pytest.raises(KitError, match="no notebook"):
        kit.validate(project / "modules", progress=False)


# -- nothing generated is written during validation ------------------------------------------------


MODULE_CELL = """\
%%hamilton tally --export
def base(rows: int) -> int:
    return rows
"""


def test_a_validation_run_refuses_to_write_a_changed_generated_file(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "writes.ipynb", "%load_ext kit", MODULE_CELL)
    report = kit.validate(notebook, progress=False)
    [result] = report
    assert result.failure is not None and result.failure.index == 1
    assert result.failure.ename == "GeneratedFileError"
    assert "modules/tally.py" in result.failure.evalue and "kit export" in result.failure.evalue
    assert not (project / "modules" / "tally.py").exists(), "nothing was written"


def test_a_validation_run_may_export_a_file_that_is_already_current(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "writes.ipynb", "%load_ext kit", MODULE_CELL)
    assert main(["export", "notebooks/writes.ipynb"]) == 0
    exported = (project / "modules" / "tally.py").read_text()
    report = kit.validate(notebook, progress=False)
    assert report.passed, report.text()
    assert (project / "modules" / "tally.py").read_text() == exported


def test_a_drifted_module_fails_validation_naming_the_file(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "drifts.ipynb",
        "%load_ext kit",
        "%%hamilton tally\ndef base(rows: int) -> int:\n    return rows\n",
    )
    assert main(["export", "notebooks/drifts.ipynb"]) == 0
    source = nbformat.read(notebook, as_version=4)
    source.cells[1].source = source.cells[1].source.replace("return rows", "return rows * 2")
    nbformat.write(source, notebook)

    report = kit.validate(notebook, progress=False)
    [result] = report
    assert result.failure is None, "the notebook itself ran clean"
    assert not result.passed
    assert [Path(item.path).name for item in result.drift] == ["tally.py"]
    text = report.text()
    assert (
        "FAILED notebooks/drifts.ipynb" in text
        and "modules/tally.py" in text
        and "kit export" in text
    )
    assert "return rows * 2" in text, "the diff shows what changed"
    assert "modules/tally.py" in result.markdown()
