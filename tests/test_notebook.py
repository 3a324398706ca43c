"""Reading notebooks without a kernel.

The same Workspace, the same files, and clear errors on bad input.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import REPO, forget_project_modules, run_cell, write_project
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from test_export import dag_signature

import kit.project
from kit import generated
from kit.cli import main
from kit.export import module_text
from kit.notebook import (
    MagicLine,
    NotebookError,
    parameter_literals,
    read_notebook,
)
from kit.steps import workspace_from_notebook
from kit.workspace import reset_workspace

DATA = Path(__file__).parent / "data" / "sync"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(path: Path, *sources: str, parameters: str | None = None) -> Path:
    """A notebook of code cells (a parameters cell first, when given)."""
    cells = (
        [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
        if parameters is not None
        else []
    )
    cells += [new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, except hidden files (such as locks) and caches."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts
        )
    }


def fixture_project(root: Path, notebook: Path) -> Path:
    """A project holding `notebook` under notebooks/ and the modules it may `%hamilton_use`.

    Those are the fixture's hand-written module and the example modules that another
    notebook (or nobody) generated; the notebook's own exports are left out.
    """
    write_project(root)
    shutil.copy(DATA / "given.py", root / "modules" / "given.py")
    own = f"notebooks/{notebook.name}"
    for module in (REPO / "modules").glob("*.py"):
        header = generated.read(module)
        if module.name != "__init__.py" and (header is None or header[0].source != own):
            shutil.copy(module, root / "modules" / module.name)
    shutil.copy(notebook, root / "notebooks" / notebook.name)
    return root


def test_read_notebook_finds_cells_lines_and_parameters() -> None:
    source = read_notebook(DATA / "features.ipynb")
    kinds = [
        (step.index, type(step).__name__, getattr(step, "name", None) or step.magic)
        for step in source.steps
    ]
    assert kinds == [
        (3, "MagicLine", "hamilton_use"),
        (4, "MagicLine", "hamilton_config"),
        (5, "HamiltonCell", "loading"),
        (6, "HamiltonCell", "shaping"),
        (7, "HamiltonCell", "summary"),
        (9, "MagicLine", "hamilton_promote"),
    ]
    loading = source.cells[0]
    assert loading.magic_line == "%%hamilton loading   -c factor=$factor"
    assert loading.config == ("factor=$factor",) and loading.line == 1
    assert loading.body.startswith("from __future__ import annotations\n")
    assert "%hamilton_config ignored=1" in loading.body  # inside a docstring: not a magic line
    assert source.lines("hamilton_config") == [MagicLine(4, 1, "hamilton_config", "region=$region")]
    [promote] = source.lines("hamilton_promote")
    assert promote.text == "%hamilton_promote totals --outputs total --tasks per-output --retries 1"
    assert source.parameters == {"region": "north", "factor": 3, "threshold": 0.5}


def test_parameter_literals_are_the_parameters_cell_as_written(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "p.ipynb",
        "model = 'forest'",
        parameters="model = 'logistic'\nsizes = [1, 2]\nnow = compute()\n"
        "limit: float = 1e3\na = b = 2",
    )
    injected = nbformat.read(notebook, as_version=4)
    injected.cells.insert(
        1, new_code_cell("model = 'forest'", metadata={"tags": ["injected-parameters"]})
    )
    nbformat.write(injected, notebook)
    assert parameter_literals(notebook) == {
        "model": "logistic",
        "sizes": [1, 2],
        "limit": 1000.0,
        "a": 2,
        "b": 2,
    }


def test_the_cli_workspace_is_the_kernel_workspace(
    shell, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture_project(project, DATA / "features.ipynb")
    notebook = project / "notebooks" / "features.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/features.ipynb")
    reset_workspace()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            result = run_cell(shell, cell.source)
            assert result.success, (cell.source, result.error_in_exec)
    kernel = kit.workspace()
    kernel_entries = [
        (e.name, e.source, e.magic_line, e.override, e.is_cell) for e in kernel.entries.values()
    ]
    kernel_state = (
        kernel.config,
        dag_signature(kernel),
        [module_text(kernel, n) for n in ("loading", "shaping", "summary")],
    )

    built = workspace_from_notebook(notebook)
    assert [
        (e.name, e.source, e.magic_line, e.override, e.is_cell) for e in built.entries.values()
    ] == kernel_entries
    assert (
        built.config,
        dag_signature(built),
        [module_text(built, n) for n in ("loading", "shaping", "summary")],
    ) == (kernel_state)
    assert built.execute(["total"]) == {"total": "N17"}


def _example_notebooks() -> list[Path]:
    return [DATA / "features.ipynb", *sorted((REPO / "notebooks").glob("*.ipynb"))]


@pytest.mark.parametrize("notebook", _example_notebooks(), ids=lambda path: path.name)
def test_papermill_export_and_kit_export_write_the_same_bytes(
    notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real kernel runs the notebook; `kit export` reads it; they write the same files.

    The kernel runs its promote lines and `%hamilton_export`.
    """
    kernel_root = fixture_project(tmp_path / "kernel", notebook)
    kernel_notebook = kernel_root / "notebooks" / notebook.name
    ran = nbformat.read(kernel_notebook, as_version=4)
    ran.cells.append(new_code_cell("%hamilton_export"))
    nbformat.write(ran, kernel_notebook)
    monkeypatch.setenv("JPY_SESSION_NAME", f"notebooks/{notebook.name}")
    papermill.execute_notebook(
        str(kernel_notebook),
        str(tmp_path / "executed.ipynb"),
        cwd=str(kernel_notebook.parent),
        progress_bar=False,
        kernel_name="python3",
    )

    cli_root = fixture_project(tmp_path / "cli", notebook)
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.chdir(cli_root)
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    assert main(["export", f"notebooks/{notebook.name}"]) == 0
    forget_project_modules()

    exported = tree(kernel_root / "modules")
    assert {f"{cell.name}.py" for cell in read_notebook(notebook).cells} <= set(exported)
    assert tree(cli_root / "modules") == exported
    assert tree(cli_root / "flows") == tree(kernel_root / "flows")


# -- bad input: a clear error naming notebook, cell and line; nothing written ----------------------


def _refused(project: Path, notebook: Path) -> NotebookError:
    before = tree(project)
    with pytest.raises(NotebookError) as raised:
        workspace_from_notebook(notebook)
    assert tree(project) == before
    return raised.value


def test_a_file_that_is_not_json_is_refused(project: Path) -> None:
    notebook = project / "notebooks" / "broken.ipynb"
    notebook.write_text('{"cells": [\n  {"cell_type": "code",,}\n')
    error = _refused(project, notebook)
    assert "notebooks/broken.ipynb: is not JSON (line 2, column 24" in str(error)
    assert error.notebook == "notebooks/broken.ipynb" and error.cell_index is None


def test_a_notebook_that_is_not_nbformat_4_is_refused(project: Path) -> None:
    notebook = project / "notebooks" / "old.ipynb"
    notebook.write_text(
        json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []})
    )
    assert "is nbformat 3, not nbformat 4" in str(_refused(project, notebook))
    notebook.write_text(json.dumps({"cells": []}))
    assert "not a notebook" in str(_refused(project, notebook))
    notebook.write_text(
        json.dumps(
            {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}
        )
    )
    assert "not a valid nbformat 4 notebook" in str(_refused(project, notebook))


def test_a_syntax_error_names_notebook_cell_and_line(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "typo.ipynb",
        "x = 1",
        "%%hamilton fine\ndef a() -> int:\n    return 1\n",
        "%%hamilton typo\ndef b() -> int:\n    return 1 +\n",
    )
    error = _refused(project, notebook)
    assert (error.notebook, error.cell_index) == ("notebooks/typo.ipynb", 2)
    assert str(error).startswith(
        "notebooks/typo.ipynb, cell 2: cell module 'typo', line 2: return 1 +: syntax error"
    )
    assert error.__cause__.line == 2


def test_a_cell_without_a_module_name_is_refused(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "nameless.ipynb",
        "x = 1",
        "\n%%hamilton -x\ndef a() -> int:\n    return 1\n",
    )
    error = _refused(project, notebook)
    assert (error.cell_index, error.line) == (1, 2)
    assert "the %%hamilton cell has no module name" in str(error)


def test_two_cells_with_one_module_name_are_refused(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "twice.ipynb",
        "%%hamilton prep\ndef a() -> int:\n    return 1\n",
        "%%hamilton prep\ndef b() -> int:\n    return 2\n",
    )
    error = _refused(project, notebook)
    assert error.cell_index == 1 and "cells 0 and 1 both define module 'prep'" in str(error)


def test_a_value_only_a_kernel_could_know_is_refused(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "runtime.ipynb",
        "chosen = pick()\n%hamilton_config model=$chosen",
        parameters="n = 1",
    )
    error = _refused(project, notebook)
    assert (error.cell_index, error.line) == (1, 2)
    assert "$chosen" in str(error) and "parameters cell" in str(error)


def test_a_magic_inside_a_block_is_refused(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "nested.ipynb", "if True:\n    %hamilton_config n=1\n"
    )
    error = _refused(project, notebook)
    assert (error.cell_index, error.line) == (0, 2) and "inside a block" in str(error)


def test_a_bad_option_and_a_bad_module_name_name_the_cell(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "opts.ipynb",
        "%%hamilton prep --bogus\ndef a() -> int:\n    return 1\n",
    )
    error = _refused(project, notebook)
    assert error.cell_index == 0 and "--bogus" in str(error)
    notebook = write_notebook(
        project / "notebooks" / "opts.ipynb", "%%hamilton json\ndef a() -> int:\n    return 1\n"
    )
    error = _refused(project, notebook)
    assert error.cell_index == 0 and "'json'" in str(error) and "shadow" in str(error)


def test_markdown_and_plain_cells_are_left_alone(project: Path) -> None:
    notebook = project / "notebooks" / "plain.ipynb"
    cells = [
        new_markdown_cell("%%hamilton not_code\n"),
        new_code_cell("print('%hamilton_config n=1')\n!ls\n%time 1"),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), notebook)
    assert read_notebook(notebook).steps == ()


def test_a_use_line_without_a_module_or_with_a_missing_one_names_the_cell(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "use.ipynb", "x = 1", "%hamilton_use")
    error = _refused(project, notebook)
    assert (error.cell_index, error.line) == (1, 1) and "name at least one module" in str(error)
    notebook = write_notebook(project / "notebooks" / "use.ipynb", "%hamilton_use modules.nowhere")
    error = _refused(project, notebook)
    assert error.cell_index == 0 and "cannot import module 'modules.nowhere'" in str(error)
