"""The task split of a promote (kit.promote.plan) and the options that ask for it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from promote_examples import ML_MODULES, ML_OUTPUTS, load_workspace

import kit
from kit.dag.graph import DagGraph
from kit.errors import PromoteError, UnknownNodeError
from kit.grammar import (
    add_promote_arguments,
    parse_promote_line,
    promote_line,
    promote_options,
)
from kit.promote.plan import FlowPlan, make_plan


@pytest.fixture
def ml(project: Path) -> DagGraph:
    return load_workspace(*ML_MODULES, config={"scaling": "standard"}).graph()


def assert_runs_each_node_once(graph: DagGraph, plan: FlowPlan) -> None:
    """Every node the outputs need is in exactly one task, and a task computes exactly its nodes."""
    needed = {name for name in graph.upstream(plan.outputs) if not graph.nodes[name].is_input}
    assigned = [name for task in plan.tasks for name in task.nodes]
    assert sorted(assigned) == sorted(needed)
    assert set(plan.task_of) == needed
    seen_tasks: list[str] = []
    for task in plan.tasks:
        assert all(plan.task_of[name] == task.name for name in task.nodes)
        frontier = {
            dep
            for name in task.nodes
            for dep in graph.nodes[name].dependencies
            if dep in plan.task_of and plan.task_of[dep] != task.name
        }
        assert set(task.receives) == frontier
        assert set(task.upstream) == {plan.task_of[name] for name in frontier}
        assert set(task.upstream) <= set(seen_tasks), "a task receives only from tasks before it"
        # what Hamilton runs for this task: its returns, stopping at the values it receives
        runs = graph.upstream(task.returns, stop_at=task.receives) - set(task.receives)
        assert {name for name in runs if not graph.nodes[name].is_input} == set(task.nodes)
        received_later = {
            name
            for other in plan.tasks
            for name in other.receives
            if plan.task_of[name] == task.name
        }
        assert set(task.shares) == received_later
        seen_tasks.append(task.name)
    assert [name for task in plan.tasks for name in task.outputs] == sorted(
        plan.outputs, key=lambda name: [t.name for t in plan.tasks].index(plan.task_of[name])
    )


# -- strategies ----------------------------------------------------------------------------------


def test_single_is_one_task_with_every_node(ml: DagGraph) -> None:
    plan = make_plan(ml, ML_OUTPUTS, "single")
    assert [task.name for task in plan.tasks] == ["compute"]
    assert plan.tasks[0].outputs == tuple(ML_OUTPUTS)
    assert plan.tasks[0].receives == ()
    assert_runs_each_node_once(ml, plan)


def test_by_module_makes_a_task_per_module_and_passes_the_frontier(ml: DagGraph) -> None:
    plan = make_plan(ml, ML_OUTPUTS, "by-module")
    assert [task.name for task in plan.tasks] == ["ingest", "features", "model"]
    ingest, features, model = plan.tasks
    # extracted columns belong to the module (and task) of the function that made them
    assert set(ingest.nodes) == {"raw", "table", "height", "width", "label"}
    assert features.receives == ("height", "width")
    assert set(model.receives) == {"scaled", "label"}
    assert model.upstream == ("ingest", "features")
    assert features.outputs == ("area",) and features.shares == ("scaled",)
    assert plan.edges == [("ingest", "features"), ("ingest", "model"), ("features", "model")]
    assert plan.notes == ()
    assert plan.inputs == ("rows", "seed", "predictions_path")
    assert_runs_each_node_once(ml, plan)


def test_per_output_runs_a_shared_node_in_the_earliest_task(ml: DagGraph) -> None:
    plan = make_plan(ml, ["area", "score", "save_predictions"], "per-output")
    assert [task.name for task in plan.tasks] == ["area", "score", "save_predictions"]
    area, score, save = plan.tasks
    # raw and the extracted columns are needed by all three; the first output's task runs them
    assert {"raw", "table", "height", "width", "label"} <= set(area.nodes)
    assert set(score.receives) == {"height", "width", "area", "label"}
    # the saver runs with the function it saves (the @save_to unit), in the saver's task
    assert set(save.nodes) == {"prediction_table", "save_predictions"}
    assert_runs_each_node_once(ml, plan)


def test_per_output_orders_tasks_by_the_outputs_given(ml: DagGraph) -> None:
    plan = make_plan(ml, ["score", "area"], "per-output")
    assert [task.name for task in plan.tasks] == ["area", "score"]  # score needs area: area first
    plan = make_plan(ml, ["ratio", "area"], "per-output")
    assert [task.name for task in plan.tasks] == ["ratio", "area"]  # independent: as given
    assert plan.task_of["raw"] == "ratio"
    assert plan.edges == [("ratio", "area")]
    assert_runs_each_node_once(ml, plan)


def test_two_outputs_of_one_function_share_its_task(ml: DagGraph) -> None:
    plan = make_plan(ml, ["height", "width"], "per-output")
    assert [task.name for task in plan.tasks] == ["height"]
    assert plan.tasks[0].outputs == ("height", "width")
    assert plan.notes == (
        "output width is made by the same function as height (table), so task height computes it",
    )


def test_by_tag_puts_untagged_nodes_with_their_first_consumer(ml: DagGraph) -> None:
    plan = make_plan(ml, ML_OUTPUTS, "by-tag")
    assert [task.name for task in plan.tasks] == ["train", "evaluate", "default"]
    train, evaluate, default = plan.tasks
    assert plan.task_of["weights"] == "train" and plan.task_of["score"] == "evaluate"
    assert {"raw", "area", "scaled", "design"} <= set(
        train.nodes
    )  # untagged, first consumed by train
    assert evaluate.nodes == ("predictions", "score")  # evaluate comes before default (score first)
    # an untagged output that no tagged node consumes goes to task `default`
    assert set(default.nodes) == {"prediction_table", "save_predictions"}
    assert_runs_each_node_once(ml, plan)


def test_explicit_mapping(ml: DagGraph) -> None:
    plan = make_plan(ml, [], {"prepare": ["area"], "fit": ["score", "save_predictions"]})
    assert plan.strategy == "explicit"
    assert plan.outputs == ("area", "score", "save_predictions")
    assert [task.name for task in plan.tasks] == ["prepare", "fit"]
    assert plan.task_of["raw"] == "prepare" and plan.task_of["weights"] == "fit"
    assert_runs_each_node_once(ml, plan)
    assert make_plan(ml, ["area", "score"], {"a": "area", "b": ["score"]}).outputs == (
        "area",
        "score",
    )


def test_by_module_merges_modules_that_feed_each_other(project: Path) -> None:
    graph = load_workspace("loop_a", "loop_b").graph()
    plan = make_plan(graph, ["finish", "other"], "by-module")
    assert [task.name for task in plan.tasks] == ["loop_a_and_loop_b"]
    (note,) = plan.notes
    assert "modules loop_a, loop_b feed each other" in note
    assert "loop_a.start -> loop_b.middle" in note and "loop_b.middle -> loop_a.finish" in note
    assert note.endswith("so by-module runs them as one task, loop_a_and_loop_b")
    assert_runs_each_node_once(graph, plan)


def test_loader_nodes_run_with_the_function_that_made_them(project: Path) -> None:
    graph = load_workspace("loading").graph()
    loaders = [name for name in graph.nodes if name.startswith("measurements.")]
    assert loaders, "@load_from adds loader nodes"
    for tasks in ("by-tag", "per-output", {"summary": ["mean_width"], "table": ["measurements"]}):
        plan = make_plan(graph, ["mean_width", "measurements"], tasks)
        assert {plan.task_of[name] for name in loaders} == {plan.task_of["measurements"]}
        assert_runs_each_node_once(graph, plan)
    assert plan.task_of["measurements"] == "table" and plan.task("summary").receives == (
        "measurements",
    )
    assert make_plan(graph, ["mean_width"], "by-tag").task_of["measurements.load_data.df"] == "load"
    assert make_plan(graph, ["mean_width"], "by-tag").inputs == ("measurements_path",)


def test_a_split_is_deterministic(ml: DagGraph) -> None:
    for tasks in ("single", "by-module", "per-output", "by-tag"):
        assert make_plan(ml, ML_OUTPUTS, tasks) == make_plan(ml, ML_OUTPUTS, tasks)


# -- refusals ------------------------------------------------------------------------------------


def test_unknown_output_suggests_close_names(ml: DagGraph) -> None:
    with pytest.raises(UnknownNodeError, match=r"'scor' \(did you mean 'score'\?\)"):
        make_plan(ml, ["scor"], "single")


def test_a_save_to_function_by_its_own_name_is_refused(ml: DagGraph) -> None:
    with pytest.raises(PromoteError) as caught:
        make_plan(ml, ["prediction_table"], "by-module")
    error = caught.value
    assert "never saves it" in str(error) and "its saver node is 'save_predictions'" in str(error)
    assert error.nodes == ["prediction_table", "save_predictions"]
    assert "request 'save_predictions'" in error.hint and "--unsaved prediction_table" in error.hint


def test_unsaved_returns_the_value_without_its_saver(ml: DagGraph) -> None:
    plan = make_plan(ml, ["prediction_table"], "single", unsaved=["prediction_table"])
    assert "save_predictions" not in plan.task_of
    both = make_plan(ml, ["prediction_table", "save_predictions"], "single")  # saved and returned
    assert {"prediction_table", "save_predictions"} <= set(both.task_of)
    with pytest.raises(
        PromoteError, match="--unsaved names 'score', which is not among the outputs"
    ):
        make_plan(ml, ["area"], "single", unsaved=["score"])


def test_a_cyclic_explicit_split_is_refused(project: Path) -> None:
    graph = load_workspace("loop_a", "loop_b").graph()
    with pytest.raises(PromoteError) as caught:
        make_plan(graph, [], {"first": ["start", "finish"], "second": ["middle"]})
    assert "depend on each other in a cycle" in str(caught.value)
    assert "second needs start from first" in str(caught.value)
    assert "first needs middle from second" in str(caught.value)
    assert caught.value.tasks == ["first", "second"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"json": ["area"]}, "task name 'json' would shadow an import"),
        ({"pandas": ["area"]}, "task name 'pandas' would shadow an import"),
        ({"flow": ["area"]}, "task name 'flow' would shadow an import"),
        ({"two words": ["area"]}, "task name 'two words' is not a Python identifier"),
        ({"class": ["area"]}, "task name 'class' is a Python keyword"),
        ({"a": ["area"], "b": ["area"]}, "output area in more than one task"),
        ({"a": ["height"], "b": ["width"]}, r"made by the same function \(table\)"),
        ({"a": []}, "at least one output"),
    ],
)
def test_bad_explicit_splits_are_refused(ml: DagGraph, mapping: dict, message: str) -> None:
    with pytest.raises(PromoteError, match=message):
        make_plan(ml, [], mapping)


def test_a_split_that_does_not_match_the_outputs_is_refused(ml: DagGraph) -> None:
    with pytest.raises(
        PromoteError, match=r"outputs in no task: score; tasks name outputs not in --outputs: ratio"
    ):
        make_plan(ml, ["area", "score"], {"a": ["area", "ratio"]})


def test_other_refusals(ml: DagGraph) -> None:
    with pytest.raises(
        PromoteError, match=r"unknown task strategy 'per-outptu' \(did you mean 'per-output'\?\)"
    ):
        make_plan(ml, ["area"], "per-outptu")
    with pytest.raises(PromoteError, match="'rows' is an input of the DAG"):
        make_plan(ml, ["rows"], "single")
    with pytest.raises(PromoteError, match="no outputs to promote"):
        make_plan(ml, [], "single")


def test_a_tag_that_makes_a_cycle_or_is_no_name_is_refused(project: Path) -> None:
    ws = kit.workspace()
    ws.add_cell(
        "tagged",
        "from hamilton.function_modifiers import tag\n\n"
        "@tag(prefect_task='a')\ndef one() -> int:\n    return 1\n\n"
        "@tag(prefect_task='b')\ndef two(one: int) -> int:\n    return 2\n\n"
        "@tag(prefect_task='a')\ndef three(two: int) -> int:\n    return 3\n\n"
        "@tag(prefect_task='not a name')\ndef four(one: int) -> int:\n    return 4\n",
    )
    with pytest.raises(
        PromoteError, match="the tag split makes tasks a, b depend on each other in a cycle"
    ):
        make_plan(ws.graph(), ["three"], "by-tag")
    with pytest.raises(
        PromoteError, match="task name 'not a name' is not a Python identifier"
    ) as caught:
        make_plan(ws.graph(), ["four"], "by-tag")
    assert "node 'four'" in caught.value.hint


# -- the options of %hamilton_promote and kit promote -------------------------------------------


def parse(line: str) -> dict:
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("flow")
    add_promote_arguments(parser)
    return promote_options(parser.parse_args(line.split()))


def test_promote_options() -> None:
    assert parse("f --outputs a b") == {
        "outputs": ["a", "b"],
        "tasks": "by-module",
        "retries": 0,
        "retry_delay": 0.0,
        "tags": (),
        "cache": False,
        "unsaved": (),
        "runner": "threads",
        "result_storage": None,
    }
    options = parse(
        "f --outputs a b c --task t1=a,b --task t2=c "
        "--retries 2 --retry-delay 1.5 --tag x --tag y --cache --unsaved a"
    )
    assert options["tasks"] == {"t1": ["a", "b"], "t2": ["c"]}
    assert (
        options["retries"],
        options["retry_delay"],
        options["tags"],
        options["cache"],
        options["unsaved"],
    ) == (2, 1.5, ("x", "y"), True, ("a",))
    with pytest.raises(PromoteError, match="both say how to split"):
        parse("f --outputs a --tasks single --task t=a")
    with pytest.raises(PromoteError, match="given twice"):
        parse("f --outputs a b --task t=a --task t=b")


def test_promote_line_reads_back_as_the_same_options() -> None:
    cases = [
        ("flow_a", ["a", "b"], "per-output", {}),
        (
            "flow_b",
            ["a", "b"],
            {"t1": ["a"], "t2": ["b"]},
            {"retries": 3, "retry_delay": 10, "tags": ["night ly"]},
        ),
        ("flow_c", ["a"], "single", {"cache": True, "unsaved": ["a"]}),
    ]
    for flow, outputs, tasks, options in cases:
        line = promote_line(flow, outputs, tasks, **options)
        assert line.startswith(f"%hamilton_promote {flow} --outputs ")
        parsed_flow, parsed = parse_promote_line(line)
        assert parsed_flow == flow
        assert parsed["outputs"] == outputs and parsed["tasks"] == tasks
        for key, value in options.items():
            assert parsed[key] == (tuple(value) if isinstance(value, list) else value)
    assert promote_line("f", ["a"], "by-tag", retries=1, retry_delay=2.0) == (
        "%hamilton_promote f --outputs a --tasks by-tag --retries 1 --retry-delay 2"
    )
    with pytest.raises(PromoteError, match="unrecognized arguments: --bogus"):
        parse_promote_line("%hamilton_promote f --outputs a --bogus")


def test_the_options_and_the_plan_import_nothing_beyond_kit_itself() -> None:
    """`kit --help` imports the options.

    Beyond the standard library they import nothing kit does not.
    """
    code = (
        "import sys, kit\n"
        "before = set(sys.modules)\n"
        "import kit.grammar, kit.promote.plan\n"
        "added = sorted(m for m in set(sys.modules) - before\n"
        "               if not m.startswith('kit.') "
        "and m.split('.')[0] not in sys.stdlib_module_names)\n"
        "assert not added, added\n"
        "assert 'prefect' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
