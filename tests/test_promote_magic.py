"""`%hamilton_promote` in a real IPython shell, and `kit promote NOTEBOOK FLOW` on a notebook."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from conftest import run_cell
from IPython.utils.capture import capture_output

import kit
from kit import generated
from kit.cli import main
from kit.errors import PromoteError, UnknownNodeError
from kit.magics import MagicUsageError
from kit.promote import flow_text

DATA = Path(__file__).parent / "data" / "promote"
ML_MODULES = ("ingest", "features", "model")


def cells(ip, *names: str) -> None:
    for name in names:
        result = run_cell(ip, f"%%hamilton {name}\n" + (DATA / f"{name}.py").read_text())
        assert result.error_in_exec is None, result.error_in_exec


def flow_defaults(path: Path, flow: str) -> dict[str, str]:
    """The flow function's parameters with a default, as source text."""
    function = next(
        node
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == flow
    )
    arguments = function.args.args[len(function.args.args) - len(function.args.defaults) :]
    return {
        argument.arg: ast.unparse(default)
        for argument, default in zip(arguments, function.args.defaults, strict=True)
    }


def test_the_magic_writes_the_flow_and_shows_the_plan(shell, project: Path) -> None:
    cells(shell, *ML_MODULES)
    run_cell(shell, "%hamilton_config scaling=standard")
    line = (
        "%hamilton_promote ml_flow --outputs score save_predictions area "
        "--tasks by-tag --retries 1 --tag nightly"
    )
    with capture_output() as captured:
        result = run_cell(shell, line)
    assert result.error_in_exec is None, result.error_in_exec
    path = project / "flows" / "ml_flow.py"
    header, body = generated.parse(path.read_text())
    assert header.recipe == line  # what `kit export` re-derives the flow from
    assert flow_text(kit.workspace(), line) == (path, path.read_text())
    (markdown,) = [
        output.data["text/markdown"]
        for output in captured.outputs
        if "text/markdown" in output.data
    ]
    assert markdown.startswith(
        "wrote `flows/ml_flow.py`: flow `ml_flow`, "
        "3 tasks (`train` &rarr; `evaluate` &rarr; `default`)"
    )
    assert line in markdown
    assert '@task(name="train", retries=1, tags=["nightly"], cache_policy=NO_CACHE)' in body
    for name in ML_MODULES:
        assert (project / "modules" / f"{name}.py").is_file()


def test_the_magic_shows_merged_modules(shell, project: Path) -> None:
    cells(shell, "loop_a", "loop_b")
    with capture_output() as captured:
        result = run_cell(shell, "%hamilton_promote loop_flow --outputs finish other")
    assert result.error_in_exec is None, result.error_in_exec
    (markdown,) = [
        output.data["text/markdown"]
        for output in captured.outputs
        if "text/markdown" in output.data
    ]
    assert "**Note:** modules loop_a, loop_b feed each other" in markdown


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("ml_flow --outputs scroe", UnknownNodeError, r"'scroe' \(did you mean 'score'\?\)"),
        ("ml_flow --outputs area --tasks nope", MagicUsageError, "invalid choice: 'nope'"),
        ("ml_flow --outputs area --task oops", MagicUsageError, "is not NAME=OUT,OUT"),
        (
            "ml_flow --outputs area --tasks single --task t=area",
            PromoteError,
            "both say how to split",
        ),
        (
            "ml_flow --outputs prediction_table",
            PromoteError,
            "its saver node is 'save_predictions'",
        ),
        ("pandas --outputs area", PromoteError, "flow name 'pandas' would shadow an import"),
    ],
)
def test_magic_mistakes_are_kit_errors(
    shell, project: Path, line: str, error: type, message: str
) -> None:
    cells(shell, *ML_MODULES)
    result = run_cell(shell, f"%hamilton_promote {line}")
    assert isinstance(result.error_in_exec, error)
    assert re.search(message, str(result.error_in_exec))
    assert not list((project / "flows").glob("*.py"))


def test_unsaved_returns_a_save_to_value_without_saving(shell, project: Path) -> None:
    cells(shell, *ML_MODULES)
    run_cell(shell, "%hamilton_config scaling=standard")
    result = run_cell(
        shell, "%hamilton_promote table_flow --outputs prediction_table --unsaved prediction_table"
    )
    assert result.error_in_exec is None, result.error_in_exec
    body = (project / "flows" / "table_flow.py").read_text()
    assert "save_predictions" not in body and "predictions_path" not in body


# -- kit promote NOTEBOOK FLOW --------------------------------------------------------------------


def write_notebook(path: Path) -> Path:
    """A notebook with a parameters cell, the three example modules as cells, and a config line."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('rows = 12\npredictions_path = "predictions.csv"\n')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext kit"),
        parameters,
        *(
            nbformat.v4.new_code_cell(f"%%hamilton {name}\n" + (DATA / f"{name}.py").read_text())
            for name in ML_MODULES
        ),
        nbformat.v4.new_code_cell("%hamilton_config scaling=$scaling_choice"),
    ]
    notebook.cells[1].source += 'scaling_choice = "minmax"\n'
    nbformat.write(notebook, path)
    return path


def test_kit_promote_builds_the_notebook_workspace_and_promotes(project: Path, capsys) -> None:
    notebook = write_notebook(project / "notebooks" / "ml.ipynb")
    code = main(
        [
            "promote",
            str(notebook),
            "ml_flow",
            "--outputs",
            "score",
            "save_predictions",
            "--tasks",
            "per-output",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, capsys.readouterr().err
    path = project / "flows" / "ml_flow.py"
    assert out.startswith(
        "wrote flows/ml_flow.py: flow ml_flow, 2 tasks (score -> save_predictions)"
    )
    header, body = generated.parse(path.read_text())
    assert header.source == "notebooks/ml.ipynb"
    assert (
        header.recipe == "kit promote notebooks/ml.ipynb ml_flow "
        "--outputs score save_predictions --tasks per-output"
    )
    assert "Promoted from notebooks/ml.ipynb." in body
    # defaults: the parameters cell's literals as written, else the function's own default
    assert flow_defaults(path, "ml_flow") == {
        "predictions_path": "'predictions.csv'",
        "rows": "12",
        "seed": "7",
        "hamilton_config": "{'scaling': 'minmax'}",
        "hamilton_config_variable": "None",
    }
    # the saver's path input is a union (str | Path | file); its literal default makes it a str
    assert '    predictions_path: str = "predictions.csv",\n' in body
    assert generated.read(project / "modules" / "ingest.py")[0].source == "notebooks/ml.ipynb"


def test_kit_promote_reports_mistakes(project: Path, capsys) -> None:
    notebook = write_notebook(project / "notebooks" / "ml.ipynb")
    assert main(["promote", str(notebook), "ml_flow", "--outputs", "scroe"]) == 1
    assert "did you mean 'score'?" in capsys.readouterr().err
    assert not (project / "flows" / "ml_flow.py").exists()


def test_kit_promote_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["promote", "--help"])
    text = capsys.readouterr().out
    for option in (
        "--outputs",
        "--tasks",
        "--task NAME=OUT,OUT",
        "--retries",
        "--retry-delay",
        "--tag",
        "--cache",
        "--unsaved",
    ):
        assert option in text
