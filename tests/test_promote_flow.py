"""Promoted flows: the file kit writes, and the flow running under a real Prefect API.

The flows run in-process: each run imports flows/FLOW.py afresh, which imports the exported
modules/*.py (not the cell modules), so the call counters in those modules count the flow's calls.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from conftest import forget_project_modules
from promote_examples import DATA, ML_MODULES, ML_OUTPUTS, load_workspace

import kit
from kit import generated
from kit.cli import main
from kit.errors import PromoteError, UnknownNodeError
from kit.generated import GeneratedFileError
from kit.grammar import promote_line
from kit.promote import Promotion, flow_text, promote, runtime

ALLOWED_IMPORTS = {"collections", "functools", "hashlib", "inspect", "io", "json", "pathlib", "re"}
ALLOWED_IMPORTS |= {"base64", "types", "sys", "tempfile", "warnings", "zipfile", "cloudpickle"}
ALLOWED_IMPORTS |= {"dask", "prefect_dask"}  # imported only when a flow runs with --runner dask
ALLOWED_IMPORTS |= {"typing", "pandas", "hamilton", "prefect", "modules"}


@pytest.fixture(autouse=True)
def flows_package(project: Path) -> None:
    """flows/ as `kit init` makes it: a package, so `flows.FLOW` is the project's, not another."""
    (project / "flows" / "__init__.py").touch()


@pytest.fixture
def ml(project: Path) -> kit.Workspace:
    return load_workspace(*ML_MODULES, config={"scaling": "standard"})


@pytest.fixture
def fresh_imports() -> Iterator[None]:
    yield
    forget_project_modules("flows")


def calls_of(modules: dict[str, Any]) -> Counter:
    return Counter(call for module in modules.values() for call in module.CALLS)


def execute(ws: kit.Workspace, outputs: list[str], **inputs: Any) -> tuple[dict[str, Any], Counter]:
    """What the notebook computes: ws.execute, and the functions it called."""
    for module in ws.modules.values():
        module.CALLS.clear()
    results = ws.execute(outputs, inputs=inputs)
    return results, calls_of(ws.modules)


def run_flow(
    flow: str, modules: tuple[str, ...], **parameters: Any
) -> tuple[dict[str, Any], Counter, list[Any]]:
    """Import flows/FLOW.py and its modules afresh, run it; its result, calls and task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    forget_project_modules("modules")
    forget_project_modules("flows")
    flow_module = importlib.import_module(f"flows.{flow}")
    state = getattr(flow_module, flow)(**parameters, return_state=True)
    result = state.result()
    calls = calls_of({name: sys.modules[f"modules.{name}"] for name in modules})
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    return result, calls, task_runs


def assert_same_outputs(flow_result: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal values; a saver's result is its metadata, equal but for when and where it wrote."""
    assert list(flow_result) == list(expected)
    for name, value in expected.items():
        got = flow_result[name]
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        elif isinstance(value, pd.Series):
            pd.testing.assert_series_equal(got, value)
        elif isinstance(value, dict) and "file_metadata" in value:
            assert got["dataframe_metadata"] == value["dataframe_metadata"]
            assert (
                Path(got["file_metadata"]["path"]).read_bytes()
                == Path(value["file_metadata"]["path"]).read_bytes()
            )
        else:
            assert got == value


def imports_of(text: str) -> set[str]:
    """The top-level packages a source imports, and the flows package's modules by full name."""
    names = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    return {name if name.startswith("flows.") else name.split(".")[0] for name in names}


def task_names(task_runs: list[Any]) -> list[str]:
    """Task run names are `TASK-N`; the task names, sorted."""
    return sorted(run.name.rsplit("-", 1)[0] for run in task_runs)


# -- the file ------------------------------------------------------------------------------------


def test_the_flow_file_is_plain_prefect_and_hamilton(ml: kit.Workspace, project: Path) -> None:
    promotion = promote(
        ml, "ml_flow", ML_OUTPUTS, "by-module", retries=2, retry_delay=5, tags=["ml"]
    )
    assert isinstance(promotion, Promotion)
    path = project / "flows" / "ml_flow.py"
    assert promotion.path == path
    assert promotion.modules == tuple(project / "modules" / f"{name}.py" for name in ML_MODULES)
    text = path.read_text()
    header, body = generated.parse(text)
    assert header.source == generated.INTERACTIVE
    assert header.recipe == (
        "%hamilton_promote ml_flow --outputs score save_predictions area --tasks by-module "
        "--retries 2 --retry-delay 5 --tag ml"
    )
    tree = ast.parse(text)
    assert ast.get_docstring(tree).startswith(
        "Prefect flow `ml_flow`: computes score, save_predictions and area"
    )
    # besides Prefect, Hamilton and the modules, the flow imports only its helper module
    assert imports_of(text) <= ALLOWED_IMPORTS | {"flows._runtime"}
    assert (
        "from flows._runtime import config_from_variable, publish_summary, record_run, run_nodes"
        in body
    )
    assert imports_of((project / "flows" / "_runtime.py").read_text()) <= ALLOWED_IMPORTS
    assert "from modules import features, ingest, model" in body
    assert "MODULES = [ingest, features, model]" in body
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    tasks = [
        name
        for name, fn in functions.items()
        if any("task" in ast.unparse(d) for d in fn.decorator_list)
    ]
    assert tasks == ["ingest_task", "features_task", "model_task"]
    assert (
        '@task(name="model", retries=2, retry_delay_seconds=5, tags=["ml"], cache_policy=NO_CACHE)'
        in body
    )
    flow = functions["ml_flow"]
    assert ast.unparse(flow.decorator_list[0]) == "flow(name='ml_flow')"
    # required first, then in DAG order (no notebook, so no parameters cell)
    assert [a.arg for a in flow.args.args] == [
        "predictions_path", "rows", "seed", "hamilton_config", "hamilton_config_variable"
    ]  # fmt: skip
    # function defaults become parameter defaults; the config is the workspace's
    assert [ast.unparse(d) for d in flow.args.defaults] == [
        "40",
        "7",
        "{'scaling': 'standard'}",
        "None",
    ]
    assert 'receives=["scaled", "label"],\n        upstream=[from_ingest, from_features],' in body
    # every task is submitted before any result is awaited: Prefect runs independent tasks at once
    flow_lines = ast.unparse(flow).splitlines()
    submits = [i for i, line in enumerate(flow_lines) if ".submit(" in line]
    results = [i for i, line in enumerate(flow_lines) if ".result()" in line]
    assert len(submits) == 3 and max(submits) < min(results)
    compile(text, str(path), "exec")


def test_promote_is_deterministic_and_flow_text_matches(ml: kit.Workspace, project: Path) -> None:
    path = ml.promote("ml_flow", ML_OUTPUTS, tasks="per-output")
    first = path.read_bytes()
    ml.promote("ml_flow", ML_OUTPUTS, tasks="per-output")
    assert path.read_bytes() == first
    line = promote_line("ml_flow", ML_OUTPUTS, "per-output")
    assert flow_text(ml, line) == (path, first.decode())
    # a new workspace built the same way writes the same bytes
    fresh = load_workspace(*ML_MODULES, config={"scaling": "standard"})
    assert flow_text(fresh, line)[1].encode() == first


def test_a_hand_edited_flow_is_never_overwritten(ml: kit.Workspace, project: Path) -> None:
    path = ml.promote("ml_flow", ML_OUTPUTS)
    edited = path.read_text().replace("def ml_flow(", "def ml_flow(  # tuned by hand\n")
    path.write_text(edited)
    with pytest.raises(GeneratedFileError, match="was edited by hand"):
        ml.promote("ml_flow", ML_OUTPUTS, tasks="single")
    assert path.read_text() == edited


def test_a_hand_edited_helper_module_stops_every_promote(ml: kit.Workspace, project: Path) -> None:
    ml.promote("ml_flow", ML_OUTPUTS)
    helper = project / "flows" / "_runtime.py"
    edited = helper.read_text().replace("def run_nodes(", "def run_nodes(  # tuned by hand\n")
    helper.write_text(edited)
    with pytest.raises(GeneratedFileError, match=r"_runtime\.py was edited by hand"):
        ml.promote("other_flow", ML_OUTPUTS)
    assert helper.read_text() == edited and not (project / "flows" / "other_flow.py").exists()


def test_refusals_write_nothing(ml: kit.Workspace, project: Path) -> None:
    with pytest.raises(UnknownNodeError, match=r"'scroe' \(did you mean 'score'\?\)"):
        ml.promote("ml_flow", ["scroe"])
    with pytest.raises(PromoteError, match="its saver node is 'save_predictions'"):
        ml.promote("ml_flow", ["prediction_table"])
    with pytest.raises(PromoteError, match="depend on each other in a cycle"):
        load_workspace("loop_a", "loop_b").promote(
            "loop_flow", [], tasks={"a": ["start", "finish"], "b": ["middle"]}
        )
    assert not list((project / "flows").glob("[!_]*.py")) and not list(
        (project / "modules").glob("[!_]*.py")
    )


def test_a_hand_edited_module_stops_the_promote_before_the_flow_is_written(
    ml: kit.Workspace, project: Path
) -> None:
    ml.export(["model"])
    module = project / "modules" / "model.py"
    module.write_text(module.read_text() + "\n# my edit\n")
    with pytest.raises(GeneratedFileError, match=r"model\.py was edited by hand"):
        ml.promote("ml_flow", ML_OUTPUTS)
    assert not (project / "flows" / "ml_flow.py").exists()
    assert not (project / "modules" / "ingest.py").exists()


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ("pandas", "flow name 'pandas' would shadow an import"),
        ("prefect", "flow name 'prefect' would shadow an import"),
        ("hamilton", "flow name 'hamilton' would shadow an import"),
        ("flow", "flow name 'flow' would shadow an import"),
        ("modules", "flow name 'modules' would shadow an import"),
        ("json", "flow name 'json' would shadow an import"),
        ("my-flow", "flow name 'my-flow' is not a Python identifier"),
        ("features", "flow name 'features' is also a module of the workspace"),
        ("ingest_task", "flow name 'ingest_task' is a name the flow file already uses"),
        ("MODULES", "flow name 'MODULES' is a name the flow file already uses"),
        ("_runtime", "flow name '_runtime' is the module of helpers that every flow imports"),
    ],
)
def test_bad_flow_names_are_refused(
    ml: kit.Workspace, project: Path, flow: str, message: str
) -> None:
    with pytest.raises(PromoteError, match=message):
        ml.promote(flow, ML_OUTPUTS)
    assert not list((project / "flows").glob("[!_]*.py"))


def test_merged_modules_say_so_in_the_result_and_the_file(project: Path) -> None:
    ws = load_workspace("loop_a", "loop_b")
    promotion = promote(ws, "loop_flow", ["finish", "other"], "by-module")
    (note,) = promotion.plan.notes
    assert f"**Note:** {note}" in promotion._repr_markdown_()
    assert f"note: {note}" in promotion.summary()
    text = promotion.path.read_text()
    assert "# Note: modules loop_a, loop_b feed each other" in text
    assert '@task(name="loop_a_and_loop_b", cache_policy=NO_CACHE)' in text


def test_options_are_checked(ml: kit.Workspace) -> None:
    with pytest.raises(PromoteError, match="a retry delay without retries does nothing"):
        ml.promote("ml_flow", ML_OUTPUTS, retry_delay=3)
    with pytest.raises(PromoteError, match="retries=-1 is not a count"):
        ml.promote("ml_flow", ML_OUTPUTS, retries=-1)
    with pytest.raises(PromoteError, match="not a list of names"):
        ml.promote("ml_flow", ML_OUTPUTS, tags="nightly")


# -- under Prefect -------------------------------------------------------------------------------

STRATEGIES = [
    "single",
    "by-module",
    "per-output",
    "by-tag",
    {"prepare": ["area"], "fit": ["score", "save_predictions"]},
]


@pytest.mark.parametrize(
    "tasks", STRATEGIES, ids=["single", "by-module", "per-output", "by-tag", "explicit"]
)
def test_every_strategy_runs_each_node_once_and_returns_what_execute_returns(
    prefect_api: None, ml: kit.Workspace, project: Path, fresh_imports: None, tasks: Any
) -> None:
    promotion = promote(ml, "ml_flow", ML_OUTPUTS, tasks)
    expected, expected_calls = execute(
        ml, ML_OUTPUTS, predictions_path=str(project / "expected.csv")
    )
    assert set(expected_calls.values()) == {1}

    result, calls, task_runs = run_flow(
        "ml_flow", ML_MODULES, predictions_path=str(project / "flow.csv")
    )

    assert_same_outputs(result, expected)
    assert calls == expected_calls  # every function ran, and ran once, in the whole flow
    assert (
        (project / "flow.csv").read_text().startswith("prediction,label")
    )  # the saver wrote its file
    assert task_names(task_runs) == sorted(task.name for task in promotion.plan.tasks)
    assert {run.state.name for run in task_runs} == {"Completed"}


def test_another_config_variant_at_run_time_gives_its_results(
    prefect_api: None, ml: kit.Workspace, project: Path, fresh_imports: None
) -> None:
    """`scaled` by label needs `label`, which the features task never received: it computes it."""
    promote(ml, "ml_flow", ML_OUTPUTS, "by-module")
    ml.config = {"scaling": "by_label"}
    expected, _ = execute(ml, ML_OUTPUTS, predictions_path=str(project / "expected.csv"))

    result, calls, _ = run_flow(
        "ml_flow",
        ML_MODULES,
        predictions_path=str(project / "flow.csv"),
        hamilton_config={"scaling": "by_label"},
    )

    assert_same_outputs(result, expected)
    assert calls["scaled__by_label"] == 1 and calls["scaled__standard"] == 0


def test_the_config_can_come_from_a_prefect_variable(
    prefect_api: None, ml: kit.Workspace, project: Path, fresh_imports: None
) -> None:
    from prefect.variables import Variable

    promote(ml, "ml_flow", ML_OUTPUTS, "by-tag")
    ml.config = {"scaling": "minmax"}
    expected, expected_calls = execute(
        ml, ML_OUTPUTS, predictions_path=str(project / "expected.csv")
    )
    Variable.set("ml_flow_config", {"scaling": "minmax"}, overwrite=True)

    result, calls, _ = run_flow(
        "ml_flow",
        ML_MODULES,
        predictions_path=str(project / "flow.csv"),
        hamilton_config_variable="ml_flow_config",
    )

    assert_same_outputs(result, expected)
    assert calls == expected_calls


def test_merged_modules_run_as_one_task(
    prefect_api: None, project: Path, fresh_imports: None
) -> None:
    ws = load_workspace("loop_a", "loop_b")
    promote(ws, "loop_flow", ["finish", "other"], "by-module")
    expected, expected_calls = execute(ws, ["finish", "other"], base=4)

    result, calls, task_runs = run_flow("loop_flow", ("loop_a", "loop_b"), base=4)

    assert result == expected == {"finish": 100, "other": 4}
    assert calls == expected_calls
    assert task_names(task_runs) == ["loop_a_and_loop_b"]


def test_cached_tasks_are_reused_and_runs_publish_artifacts(
    prefect_api: None, ml: kit.Workspace, project: Path, fresh_imports: None
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    outputs = ["score", "feature_frame"]
    promote(ml, "cached_flow", outputs, "by-module", cache=True, retries=1, tags=["nightly"])
    expected, _ = execute(ml, outputs, rows=25)

    first, first_calls, first_runs = run_flow("cached_flow", ML_MODULES, rows=25)
    again, again_calls, again_runs = run_flow("cached_flow", ML_MODULES, rows=25)

    assert_same_outputs(first, expected)
    assert first_calls and set(first_calls.values()) == {1}
    assert sum(again_calls.values()) == 0  # every task came from the cache
    assert {run.state.name for run in again_runs} == {"Cached"}
    assert all("nightly" in run.tags for run in first_runs)
    pd.testing.assert_frame_equal(again["feature_frame"], first["feature_frame"])
    assert again["score"] == first["score"]
    with get_client(sync_client=True) as client:
        keys = {"cached-flow-outputs", "cached-flow-feature-frame"}
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys)))
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert set(by_key) == keys
    assert "| `feature_frame` | `pandas.DataFrame` | 25 x 2 |" in by_key["cached-flow-outputs"].data
    assert by_key["cached-flow-feature-frame"].type == "table"


# -- the helper module, the parameters ------------------------------------------------------------


def write_notebook(path: Path, *promote_lines: str, cells: bool = True) -> Path:
    """A notebook: a parameters cell (rows before predictions_path), the example modules as cells
    (or used from modules/, so that two notebooks can share them), a config line, promote lines."""
    parameters = nbformat.v4.new_code_cell('rows = 12\npredictions_path = "predictions.csv"\n')
    parameters.metadata["tags"] = ["parameters"]
    modules = [
        nbformat.v4.new_code_cell(f"%%hamilton {name}\n" + (DATA / f"{name}.py").read_text())
        for name in ML_MODULES
    ]
    if not cells:
        modules = [nbformat.v4.new_code_cell("%hamilton_use modules.ingest modules.features")]
        modules.append(nbformat.v4.new_code_cell("%hamilton_use modules.model"))
    lines = [
        nbformat.v4.new_code_cell(line)
        for line in ["%hamilton_config scaling=standard", *promote_lines]
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext kit"), parameters, *modules, *lines]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def kit_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run `kit ARGV` in this process; its exit code and what it printed."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def signature(path: Path, flow: str) -> list[str]:
    """The parameter names of the flow function in `path`, read with ast."""
    tree = ast.parse(path.read_text())
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == flow)
    return [argument.arg for argument in function.args.args]


def test_flows_of_one_notebook_order_their_parameters_alike(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(
        project / "notebooks" / "ml.ipynb",
        "%hamilton_promote scores --outputs score --tasks single",
        "%hamilton_promote areas --outputs area save_predictions --tasks per-output",
    )
    assert kit_cli(capsys, "export")[0] == 0
    scores = signature(project / "flows" / "scores.py", "scores")
    areas = signature(project / "flows" / "areas.py", "areas")
    tail = ["hamilton_config", "hamilton_config_variable"]
    # the parameters cell's order (rows, predictions_path), then the DAG's (seed)
    assert scores == ["rows", "seed", *tail]
    assert areas == ["rows", "predictions_path", "seed", *tail]


def test_every_parameter_has_a_description_in_prefect(
    project: Path, capsys: pytest.CaptureFixture[str], fresh_imports: None
) -> None:
    write_notebook(
        project / "notebooks" / "ml.ipynb",
        "%hamilton_promote ml_flow --outputs score save_predictions --tasks by-module",
    )
    assert kit_cli(capsys, "export")[0] == 0
    forget_project_modules("modules")
    flow = importlib.import_module("flows.ml_flow").ml_flow
    properties = flow.parameters.properties
    assert list(properties) == signature(project / "flows" / "ml_flow.py", "ml_flow")
    descriptions = {
        name: " ".join(schema["description"].split()) for name, schema in properties.items()
    }
    assert descriptions == {
        "rows": "Hamilton input of raw; default from the notebook's parameters cell.",
        "predictions_path": "Hamilton input of save_predictions; default from the notebook's "
        "parameters cell.",
        "seed": "Hamilton input of raw; default from the function's signature.",
        "hamilton_config": "The Hamilton config (recorded with every run).",
        "hamilton_config_variable": "The name of a Prefect Variable whose JSON object replaces "
        "hamilton_config.",
    }


def test_the_helper_module_is_checked_shared_and_pruned_like_any_generated_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = "%hamilton_promote {} --outputs score --tasks single"
    first = write_notebook(project / "notebooks" / "first.ipynb", line.format("first_flow"))
    helper = project / "flows" / "_runtime.py"
    code, out = kit_cli(capsys, "check")
    assert code == 1 and "flows/_runtime.py: missing, from notebooks/first.ipynb" in out
    assert kit_cli(capsys, "export")[0] == 0
    header, _ = generated.read(helper)
    assert (header.source, header.recipe) == (runtime.SOURCE, "kit export")
    assert generated.owner(helper) is None  # no notebook owns it
    # a second notebook's flow shares it: no ownership conflict, reported once when it drifts
    second = project / "notebooks" / "second.ipynb"
    write_notebook(second, line.format("second_flow"), cells=False)
    assert kit_cli(capsys, "export")[0] == 0 and kit_cli(capsys, "check")[0] == 0
    helper.write_text(helper.read_text().replace("def run_nodes(", "def run_nodes(  # edit\n"))
    code, out = kit_cli(capsys, "check")
    assert code == 1 and out.count("flows/_runtime.py: hand-edited") == 1
    assert kit_cli(capsys, "export", "--force")[0] == 0 and kit_cli(capsys, "check")[0] == 0
    # while a flow is left it stays; with the last one, --prune removes it
    write_notebook(first)
    assert "removed flows/first_flow.py" in kit_cli(capsys, "export", "--prune")[1]
    assert helper.is_file()
    write_notebook(second, cells=False)
    code, out = kit_cli(capsys, "check")  # the orphaned flow on disk still imports it
    assert code == 1 and "second_flow.py: orphaned" in out and "_runtime.py" not in out
    code, out = kit_cli(capsys, "export", "--prune")
    assert "removed flows/second_flow.py" in out and "removed flows/_runtime.py" in out
    assert not helper.exists() and kit_cli(capsys, "check")[0] == 0
    helper.write_text(runtime.runtime_text())  # left behind with no flow: kit check says so
    code, out = kit_cli(capsys, "check")
    assert code == 1 and "flows/_runtime.py: orphaned (no flow imports it)" in out
