"""The DAG widget from the Python side: its payload, its synced selection, its panel, `kit dag`.

The browser side (clicks in JupyterLab, the standalone page in Chromium) is in tests/browser/.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import run_cell
from nbformat.v4 import new_code_cell, new_notebook
from promote_examples import load_workspace

import kit
from kit.cli import main as kit_main
from kit.dag import page, payload
from kit.dag.payload import MODULE_PREFIX, dag_payload
from kit.errors import CellError, GraphError, MissingInputsError, UnknownNodeError
from kit.watch import SubmitStream
from kit.widget import DagWidget
from kit.workspace import Workspace

PREP = """\
import pandas as pd
from hamilton.function_modifiers import tag


def raw(path: str) -> pd.DataFrame:
    \"\"\"The raw table, read from `path`.\"\"\"
    return pd.DataFrame({"x": [1, 2, 3, 4]})


@tag(owner="data-team")
def clean(raw: pd.DataFrame, limit: int = 3) -> pd.DataFrame:
    return raw[raw.x <= limit]
"""

MODEL = """\
from hamilton.function_modifiers import config
import pandas as pd


@config.when(model="mean")
def fit__mean(clean: pd.DataFrame) -> float:
    \"\"\"The mean of x.\"\"\"
    return float(clean.x.mean())


@config.when(model="max")
def fit__max(clean: pd.DataFrame) -> float:
    return float(clean.x.max())


@config.when(model="ensemble")
def blend(clean: pd.DataFrame) -> float:
    return 0.0


def score(fit: float, clean: pd.DataFrame) -> float:
    return fit * len(clean)
"""


@pytest.fixture
def ws(project: Path) -> Workspace:
    """The kernel's workspace: cell modules prep (raw, clean) and model (fit variants, score)."""
    workspace = kit.workspace()
    workspace.add_cell("prep", PREP, magic_line="%%hamilton prep")
    workspace.add_cell("model", MODEL, magic_line="%%hamilton model")
    workspace.config = {"model": "mean"}
    return workspace


def by_id(payload: dict) -> dict[str, dict]:
    return {node["id"]: node for node in payload["nodes"]}


# -- the payload ----------------------------------------------------------------------------------


def test_payload_holds_every_node_with_its_facts(ws: Workspace) -> None:
    payload = dag_payload(ws)
    nodes = by_id(payload)

    assert set(nodes) == {"path", "limit", "model", "raw", "clean", "fit", "score"}
    assert {n: nodes[n]["kind"] for n in ("path", "limit", "model", "raw")} == {
        "path": "input",
        "limit": "input",
        "model": "config",
        "raw": "function",
    }
    raw = nodes["raw"]
    assert (raw["type"], raw["module"], raw["doc"]) == (
        "DataFrame",
        "prep",
        "The raw table, read from `path`.",
    )
    assert raw["source"] == "%%hamilton prep cell, line 6"
    assert nodes["clean"]["tags"] == {"owner": "data-team"}
    assert nodes["model"]["sub"] == "config = 'mean'"
    assert sorted((e["source"], e["target"]) for e in payload["edges"]) == sorted(
        [
            ("path", "raw"),
            ("raw", "clean"),
            ("limit", "clean"),
            ("clean", "fit"),
            ("fit", "score"),
            ("clean", "score"),
        ]
    )
    assert payload["deps"]["score"] == ["fit", "clean"]
    assert [(m["name"], m["count"], m["cell"]) for m in payload["modules"]] == [
        ("prep", 2, True),
        ("model", 2, True),
    ]
    assert payload["modules"][0]["color"] != payload["modules"][1]["color"]
    assert {n["color"] for n in payload["nodes"] if n["module"] == "prep"} == {
        payload["modules"][0]["color"]
    }


def test_external_inputs_are_drawn_apart_from_the_module_groups(ws: Workspace) -> None:
    payload = dag_payload(ws)
    nodes = by_id(payload)
    groups = {g["name"]: g for g in payload["groups"]}

    assert set(groups) == {"prep", "model"}
    for name in ("path", "limit", "model"):
        node = nodes[name]
        for group in groups.values():
            assert not (
                group["x"] <= node["x"] <= group["x"] + group["w"]
                and group["y"] <= node["y"] <= group["y"] + group["h"]
            )
    assert nodes["path"]["y"] < nodes["raw"]["y"] and nodes["limit"]["y"] < nodes["clean"]["y"]
    prep = groups["prep"]
    for name in ("raw", "clean"):
        assert (
            prep["x"] <= nodes[name]["x"] <= prep["x"] + prep["w"]
            and prep["y"] <= nodes[name]["y"] <= prep["y"] + prep["h"]
        )


def test_config_when_shows_the_chosen_implementation_and_the_others(ws: Workspace) -> None:
    fit = by_id(dag_payload(ws))["fit"]
    assert [(v["function"], v["chosen"]) for v in fit["variants"]] == [
        ("fit__max", False),
        ("fit__mean", True),
    ]
    assert fit["variants"][1]["when"] == "@config.when(model='mean')"
    assert "fit__mean" in fit["sub"]

    ws.config = {"model": "max"}
    fit = by_id(dag_payload(ws))["fit"]
    assert [(v["function"], v["chosen"]) for v in fit["variants"]] == [
        ("fit__max", True),
        ("fit__mean", False),
    ]
    assert fit["doc"] == ""  # the docstring is the chosen function's


def test_a_variant_the_config_does_not_choose_is_listed_with_its_module(ws: Workspace) -> None:
    payload = dag_payload(ws)
    model = next(m for m in payload["modules"] if m["name"] == "model")
    assert "blend" not in payload["deps"]
    assert model["unchosen"] == [
        {
            "node": "blend",
            "variants": [
                {"function": "blend", "when": "@config.when(model='ensemble')", "chosen": False}
            ],
        }
    ]


def test_a_collapsed_module_is_one_box_with_its_edges_merged(ws: Workspace) -> None:
    payload = dag_payload(ws, collapsed=["prep"])
    nodes = by_id(payload)

    box = nodes[MODULE_PREFIX + "prep"]
    assert (box["kind"], box["members"], box["sub"]) == (
        "module",
        ["raw", "clean"],
        "2 nodes, collapsed",
    )
    assert "raw" not in nodes and "clean" not in nodes
    edges = [(e["source"], e["target"]) for e in payload["edges"]]
    assert sorted(edges) == sorted(
        [
            ("path", "module:prep"),
            ("limit", "module:prep"),
            ("module:prep", "fit"),
            ("module:prep", "score"),
            ("fit", "score"),
        ]
    )
    assert payload["shown"]["raw"] == payload["shown"]["clean"] == "module:prep"
    assert payload["deps"]["clean"] == ["raw", "limit"]  # the full graph stays, for highlighting
    assert [g["name"] for g in payload["groups"]] == ["model"]
    assert [m["collapsed"] for m in payload["modules"]] == [True, False]


def test_a_cycle_is_a_graph_error_naming_its_nodes(project: Path) -> None:
    """The cell that closes the circle is refused, so no widget ever draws one."""
    ws = Workspace()
    with pytest.raises(GraphError, match=r"in a circle: 'a' \(module 'loop'\) needs 'b'") as caught:
        ws.add_cell(
            "loop", "def a(b: int) -> int:\n    return b\n\ndef b(a: int) -> int:\n    return a\n"
        )
    assert caught.value.modules == ["loop"]
    assert "loop" not in ws.modules


def test_without_dot_the_payload_is_laid_out_by_igraph(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    payload = dag_payload(ws)
    assert payload["engine"] == "igraph"
    assert len(payload["nodes"]) == 7


# -- the widget: selection ------------------------------------------------------------------------


def test_selection_from_the_front_end_reaches_python_and_observers(ws: Workspace) -> None:
    widget = ws.widget()
    seen: list[list[str]] = []
    widget.observe(lambda change: seen.append(change["new"]), "selected")

    widget.set_state({"selected": ["score"]})  # what the front end sends on a click
    widget.set_state({"selected": ["score", "clean"]})

    assert widget.selected == ["score", "clean"]
    assert seen == [["score"], ["score", "clean"]]
    assert widget.upstream == {"score", "fit", "clean", "raw", "path", "limit"}
    assert widget.will_run() == ["raw", "clean", "fit", "score"]


def test_selection_set_from_python_is_synced_and_unknown_names_are_refused(ws: Workspace) -> None:
    widget = ws.widget()
    widget.selected = ["fit"]
    assert widget.get_state()["selected"] == ["fit"]

    with pytest.raises(UnknownNodeError, match="scor") as caught:
        widget.selected = ["fit", "scor", "nothing"]
    assert caught.value.names == ["scor", "nothing"]
    assert caught.value.suggestions["scor"] == ["score"]
    assert widget.selected == ["fit"]


def test_one_widget_per_workspace_and_the_workspace_displays_it(ws: Workspace) -> None:
    widget = ws.widget()
    assert ws.widget() is widget
    bundle = ws._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == widget._box.model_id
    assert widget in widget._box.children and widget.panel.box in widget._box.children


def test_the_front_end_files_ship_with_the_package() -> None:
    widget_dir = Path(kit.__file__).parent / "widget"
    assert str(DagWidget._esm).startswith("// The kit DAG view")
    assert "export default { render }" in (widget_dir / "dag.js").read_text()
    assert ".kit-node" in str(DagWidget._css)
    assert not re.search(
        r"https?://(?!www\.w3\.org/2000/svg)", (widget_dir / "dag.js").read_text()
    ), "no network"


# -- the widget follows the workspace -------------------------------------------------------------


def test_rerunning_a_cell_updates_the_widget_in_place_keeping_the_selection(shell) -> None:
    run_cell(
        shell,
        "%%hamilton base\ndef a() -> int:\n    return 1\n\n"
        "def b(a: int) -> int:\n    return a + 1\n",
    )
    widget = kit.workspace().widget()
    widget.selected = ["b", "a"]

    run_cell(
        shell,
        "%%hamilton base\ndef a() -> int:\n    return 1\n\n"
        "def c(a: int) -> int:\n    return a + 2\n",
    )

    assert kit.workspace().widget() is widget
    assert set(widget.graph["deps"]) == {"a", "c"}
    assert widget.selected == ["a"]  # b is gone; a still exists
    assert widget.error == ""


def test_a_broken_cell_shows_its_error_over_the_last_good_graph(shell) -> None:
    run_cell(shell, "%%hamilton base\ndef a() -> int:\n    return 1\n")
    widget = kit.workspace().widget()
    before = widget.graph

    result = run_cell(shell, "%%hamilton base\ndef a() -> int:\n    return 1 +\n")

    assert isinstance(result.error_in_exec, CellError)
    assert widget.graph == before
    assert (
        "CellError" in widget.error and "syntax error" in widget.error and "'base'" in widget.error
    )
    run_cell(shell, "%%hamilton base\ndef a() -> int:\n    return 2\n")
    assert widget.error == ""


def test_a_dag_that_does_not_build_shows_the_error_and_keeps_the_graph(shell) -> None:
    run_cell(shell, "%%hamilton first\ndef a() -> int:\n    return 1\n")
    widget = kit.workspace().widget()
    before = widget.graph

    result = run_cell(
        shell, "%%hamilton second\ndef b(a: str) -> str:\n    return a\n"
    )  # a is an int

    assert result.success  # the cell module is fine; the DAG of both is not
    assert widget.graph == before
    assert "GraphError" in widget.error


def test_an_empty_workspace_is_an_empty_graph_not_an_error(project: Path) -> None:
    widget = kit.workspace().widget()
    assert widget.graph["nodes"] == [] and widget.error == ""
    assert widget.panel.selection.value.startswith("<i>Click nodes")


def test_collapsing_from_the_front_end_lays_out_again(ws: Workspace) -> None:
    widget = ws.widget()
    widget.set_state({"collapsed": ["prep"]})
    assert MODULE_PREFIX + "prep" in by_id(widget.graph)
    widget.set_state({"collapsed": []})
    assert "raw" in by_id(widget.graph)


def test_hamilton_dag_magic_shows_the_widget_with_outputs_selected(shell) -> None:
    run_cell(
        shell,
        "%%hamilton base\ndef a() -> int:\n    return 1\n\ndef b(a: int) -> int:\n    return a\n",
    )
    result = run_cell(shell, "%hamilton_dag b")
    assert result.result is kit.workspace().widget()
    assert result.result.selected == ["b"]
    assert isinstance(run_cell(shell, "%hamilton_dag nope").error_in_exec, UnknownNodeError)


def test_display_flag_of_the_cell_magic_shows_the_widget_with_its_panel(shell) -> None:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = run_cell(shell, "%%hamilton base -d\ndef a() -> int:\n    return 1\n")
    assert result.success
    widget = kit.workspace().widget()
    shown = [
        output.data["application/vnd.jupyter.widget-view+json"]["model_id"]
        for output in captured.outputs
    ]
    assert shown == [widget._box.model_id]
    assert set(widget.graph["deps"]) == {"a"}


# -- the panel ------------------------------------------------------------------------------------


def test_run_executes_the_selection_with_inputs_from_the_notebook(shell) -> None:
    run_cell(shell, PREP.join(["%%hamilton prep\n", ""]))
    shell.user_ns["path"] = "data.csv"
    widget = kit.workspace().widget()
    widget.selected = ["clean"]
    assert "<b>Will run</b> 2 nodes" in widget.panel.will_run.value
    assert "(from the notebook)" in widget.panel.will_run.value

    widget.panel.run_button.click()

    assert widget.panel.run_error.value == ""
    assert list(widget.results) == ["clean"] and widget.results["clean"].x.tolist() == [1, 2, 3]
    shown = json.dumps([o["data"] for o in widget.panel.results.outputs])
    assert "clean" in shown and "ran in" in shown


def test_run_with_a_missing_input_shows_the_error_in_the_panel(ws: Workspace) -> None:
    widget = ws.widget()
    widget.selected = ["raw"]
    assert "<b>(missing)</b>" in widget.panel.will_run.value

    widget.panel.run_button.click()  # raises nothing: the error is in the panel

    assert MissingInputsError.__name__ in widget.panel.run_error.value
    assert "path (needed by raw)" in widget.panel.run_error.value


def test_run_with_nothing_selected_says_what_to_do(ws: Workspace) -> None:
    widget = ws.widget()
    widget.panel.run_button.click()
    assert "nothing is selected" in widget.panel.run_error.value


def test_the_promote_tab_colours_nodes_by_task_and_shows_the_task_graph(ws: Workspace) -> None:
    widget = ws.widget()
    widget.selected = ["score"]
    assert widget.plan == {}  # only while the Promote tab is open

    widget.panel.tabs.selected_index = 1

    assert widget.plan["task_of"] == {
        "raw": "prep",
        "clean": "prep",
        "fit": "model",
        "score": "model",
    }
    assert [task["name"] for task in widget.plan["tasks"]] == ["prep", "model"]
    picture = widget.panel.task_graph.value
    assert "<b>2 tasks</b>" in picture and picture.count('class="kit-node kit-kind-task"') == 2
    widget.panel.strategy.value = "single"
    assert set(widget.plan["task_of"].values()) == {"compute"}
    widget.panel.tabs.selected_index = 0
    assert widget.plan == {}


def test_promote_writes_the_flow_and_shows_its_path_and_line(ws: Workspace, project: Path) -> None:
    widget = ws.widget()
    widget.selected = ["score", "clean"]
    widget.panel.tabs.selected_index = 1
    widget.panel.flow_name.value = "scoring"
    widget.panel.strategy.value = "per-output"

    widget.panel.promote_button.click()

    assert widget.panel.promote_error.value == ""
    flow = project / "flows" / "scoring.py"
    assert flow.is_file() and "def scoring(" in flow.read_text()
    assert "flows/scoring.py" in widget.panel.promote_result.value
    assert (
        widget.panel.promote_line.text
        == "%hamilton_promote scoring --outputs score clean --tasks per-output"
    )


def test_promote_mistakes_are_shown_in_the_panel(ws: Workspace, project: Path) -> None:
    widget = ws.widget()
    widget.panel.tabs.selected_index = 1
    widget.selected = ["score"]
    widget.panel.promote_button.click()
    assert "the flow has no name" in widget.panel.promote_error.value

    widget.panel.flow_name.value = "pandas"
    widget.panel.promote_button.click()
    assert (
        "PromoteError" in widget.panel.promote_error.value
        and "shadow" in widget.panel.promote_error.value
    )
    assert not (project / "flows" / "pandas.py").exists()


def test_submit_without_a_notebook_says_so_in_the_panel(ws: Workspace) -> None:
    widget = ws.widget()
    widget.panel.submit_button.click()
    assert "does not know which notebook" in widget.panel.submit_error.value


# -- kit dag --------------------------------------------------------------------------------------


def write_notebook(path: Path, *sources: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [new_code_cell("%load_ext kit")] + [new_code_cell(textwrap.dedent(s)) for s in sources]
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_kit_dag_writes_a_self_contained_page_and_an_svg(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = write_notebook(
        project / "notebooks" / "flow.ipynb",
        "%hamilton_config model=mean",
        "%%hamilton prep\n" + PREP,
        "%%hamilton model\n" + MODEL,
    )
    assert kit_main(["dag", str(notebook), "--out", str(project / "dag.html")]) == 0
    assert kit_main(["dag", str(notebook), "--out", str(project / "out" / "dag.svg")]) == 0
    assert "wrote" in capsys.readouterr().out

    page = (project / "dag.html").read_text()
    assert (Path(kit.__file__).parent / "widget" / "dag.js").read_text() in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page), (
        "nothing is loaded from elsewhere"
    )
    data = json.loads(re.search(r'id="kit-dag-data">(.*?)</script>', page, re.S).group(1))
    assert set(by_id(data)) == {"path", "limit", "model", "raw", "clean", "fit", "score"}

    svg = (project / "out" / "dag.svg").read_text()
    names = re.findall(
        r'<g class="kit-node[^"]*"[^>]*><title>[^<]*</title><rect[^>]*/><text[^>]*>([^<]+)</text>',
        svg,
    )
    assert sorted(names) == sorted(data["deps"])


def test_kit_dag_refuses_other_kinds_of_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = write_notebook(project / "notebooks" / "flow.ipynb", "%%hamilton prep\n" + PREP)
    assert kit_main(["dag", str(notebook), "--out", "dag.png"]) == 1
    assert "FILE.html or FILE.svg" in capsys.readouterr().err


def test_the_promote_tab_shows_the_plan_notes_before_the_flow_is_written(project: Path) -> None:
    widget = load_workspace("loop_a", "loop_b").widget()
    widget.selected = ["finish"]
    widget.panel.strategy.value = "by-module"
    widget.panel.tabs.selected_index = 1
    assert "Note: modules loop_a, loop_b feed each other" in widget.panel.task_graph.value
    assert widget.plan["task_of"]["finish"] == "loop_a_and_loop_b"


# -- one declared shape, one set of colours -------------------------------------------------------

PAYLOAD_TYPES = (
    payload.Variant,
    payload.DagNode,
    payload.DagEdge,
    payload.GroupBox,
    payload.Unchosen,
    payload.ModuleEntry,
    payload.DagPayload,
    payload.TaskEntry,
    payload.TaskColouring,
)


def jsdoc_typedefs(js: str) -> dict[str, set[str]]:
    """The `@typedef {Object} NAME` blocks of a JS file: NAME -> its `@property` names."""
    found: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in js.splitlines():
        typedef = re.search(r"@typedef \{Object\} (\w+)", line)
        prop = re.search(r"@property \{[^}]*\} \[?(\w+)", line)
        if typedef:
            current = found.setdefault(typedef.group(1), set())
        elif prop and current is not None:
            current.add(prop.group(1))
        elif "*/" in line:
            current = None
    return found


def test_the_payload_types_of_python_and_of_the_front_end_name_the_same_keys() -> None:
    typedefs = jsdoc_typedefs((Path(kit.__file__).parent / "widget" / "dag.js").read_text())
    for declared in PAYLOAD_TYPES:
        assert typedefs.get(declared.__name__) == set(declared.__annotations__), declared.__name__


def test_a_payload_has_exactly_the_declared_keys(ws: Workspace) -> None:
    data = dag_payload(ws, collapsed=["model"])
    assert set(data) == set(payload.DagPayload.__annotations__)
    for node in data["nodes"]:
        optional = payload.DagNode.__optional_keys__ if node["kind"] == "module" else set()
        assert set(node) == payload.DagNode.__required_keys__ | optional
    for variant in by_id(data)["fit"]["variants"] if "fit" in by_id(data) else []:
        assert set(variant) == set(payload.Variant.__annotations__)
    assert {frozenset(g) for g in data["groups"]} == {frozenset(payload.GroupBox.__annotations__)}
    assert {frozenset(m) for m in data["modules"]} == {
        frozenset(payload.ModuleEntry.__annotations__)
    }


def test_the_static_svg_takes_its_colours_from_the_widget_stylesheet() -> None:
    css = (Path(kit.__file__).parent / "widget" / "dag.css").read_text()
    assert page.css_colours(css) == page.COLOURS
    assert {"ink", "muted", "line", "input-fill", "input-line", "config-fill"} <= set(page.COLOURS)
    assert not re.findall(r"#[0-9a-fA-F]{6}\b", Path(page.__file__).read_text()), (
        "page.py names no colour of its own"
    )


def test_a_config_node_is_drawn_in_the_config_colours(ws: Workspace) -> None:
    svg = page.svg_picture(dag_payload(ws))
    config_node = re.search(r"<g class=\"kit-node kit-kind-config\".*?</g>", svg, re.S).group(0)
    assert f'fill="{page.COLOURS["config-fill"]}"' in config_node
    assert f'stroke="{page.COLOURS["config-line"]}"' in config_node


# -- what kit submit prints, as the Submit tab reads it -------------------------------------------


def test_the_submit_stream_reads_phases_and_puts_the_result_first() -> None:
    stream = SubmitStream()
    for line in [
        "==> validating notebooks/x.ipynb\n",
        "Executing:  50%|#####     | 1/2 [00:01<00:01]\rExecuting: 100%|######| 2/2 [00:02]\n",
        "step 1 of 2\rstep 2 of 2\n",
        "1 of 1 notebook passed\n",
        "==> starting the local Prefect\n",
        "==> running flow model_training\n",
        "12:00:01 | INFO | Flow run 'red-fox' - Finished in state Completed()\n",
        "==> done: 1 of 1 flow run completed\n",
        "Prefect: http://127.0.0.1:4321/api (kit server)\n",
        "flow model_training: run 'red-fox' 1a2b-3c: Completed\n",
        "  http://127.0.0.1:4321/runs/flow-run/1a2b-3c\n",
        "1 of 1 flow run completed\n",
    ]:
        stream.feed(line)

    assert stream.phases == [
        "validating notebooks/x.ipynb",
        "starting the local Prefect",
        "running flow model_training",
        "done: 1 of 1 flow run completed",
    ]
    assert not [line for line in stream.lines() if "Executing" in line], "no progress bars"
    assert "step 2 of 2" in stream.lines() and "step 1 of 2" not in "".join(stream.lines())
    assert stream.summary() == [
        "Prefect: http://127.0.0.1:4321/api (kit server)",
        "flow model_training: run 'red-fox' 1a2b-3c: Completed",
        "  http://127.0.0.1:4321/runs/flow-run/1a2b-3c",
        "1 of 1 flow run completed",
    ]
    running = stream.phases_html(finished=False, failed=False)
    assert running.count("kit-phase-current") == 1 and running.index("done") > running.index(
        "running flow"
    )


def test_the_submit_tab_shows_the_result_first_with_the_run_linked(ws: Workspace) -> None:
    panel = ws.widget().panel
    stream = SubmitStream()
    for line in [
        "==> validating x.ipynb\n",
        "==> done: 1 of 1 flow run completed\n",
        "flow f: run 'a' 9: Completed\n",
        "  http://127.0.0.1:4321/runs/flow-run/9\n",
    ]:
        stream.feed(line)
    panel._show(stream, finished=True)

    summary = panel.submit_summary.value
    assert '<a href="http://127.0.0.1:4321/runs/flow-run/9"' in summary
    tab = panel.tabs.children[2].children
    assert tab.index(panel.submit_summary) < tab.index(panel.submit_log)
    assert tab.index(panel.submit_phases) < tab.index(panel.submit_summary)


def test_a_failed_submit_shows_kit_s_error_as_the_result() -> None:
    stream = SubmitStream()
    stream.feed("==> validating x.ipynb\n")
    stream.feed("kit submit: validation of x.ipynb failed; nothing was submitted\n")
    assert stream.summary() == ["kit submit: validation of x.ipynb failed; nothing was submitted"]
    assert "kit-phase-failed" in stream.phases_html(finished=True, failed=True)


def test_the_submit_tab_offers_the_flows_the_notebook_owns(
    ws: Workspace, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = write_notebook(project / "notebooks" / "two.ipynb", "%%hamilton prep\n" + PREP)
    ws.notebook = "notebooks/two.ipynb"
    monkeypatch.chdir(project)
    for flow in ("first", "second"):
        ws.promote(flow, ["clean"])
    panel = ws.widget().panel
    panel.tabs.selected_index = 2
    assert panel.submit_error.value == ""
    assert [box.description for box in panel.submit_flows.children] == ["first", "second"]
    assert all(box.value for box in panel.submit_flows.children)

    for box in panel.submit_flows.children:
        box.value = False
    panel.submit_button.click()
    assert "no flow is chosen" in panel.submit_error.value
    assert notebook.is_file()


def test_nodes_changed_since_the_last_export_are_marked_and_the_tasks_they_rerun(shell) -> None:
    cell = (
        "%%hamilton base\ndef a() -> int:\n    return 1\n\n"
        "def b(a: int) -> int:\n    return a + 1\n\n"
        "def c(b: int) -> int:\n    return b * 2\n"
    )
    run_cell(shell, cell)
    widget = kit.workspace().widget()
    assert {n["id"]: n["changed"] for n in widget.graph["nodes"]} == {"a": "", "b": "", "c": ""}
    widget.selected = ["c"]
    widget.panel.tabs.selected_index = 1
    widget.panel.strategy.value = "per-output"
    widget.panel.flow_name.value = "chain"
    widget.panel.promote_button.click()  # writes modules/base.py and flows/chain.py
    assert widget.panel.promote_error.value == ""
    assert "Against flows/chain.py: no task reruns" in widget.panel.task_graph.value

    edited = cell.replace("return a + 1", "return a + 10").replace("b: int", "bee: int")
    run_cell(
        shell,
        edited.replace("return b * 2", "return bee * 2") + "\ndef d() -> int:\n    return 4\n",
    )
    changed = {n["id"]: n["changed"] for n in widget.graph["nodes"]}
    assert changed == {"a": "", "b": "code", "bee": "", "c": "interface", "d": "added"}
    widget.panel.tabs.selected_index = 0
    widget.selected = ["c"]
    widget.panel.tabs.selected_index = 1
    assert "task c reruns (c changed)" in widget.panel.task_graph.value  # c now takes bee
    assert "Against flows/chain.py" in widget.panel.task_graph.value
    widget.panel.flow_name.value = "other"
    assert "flows/other.py does not exist yet" in widget.panel.task_graph.value
