"""The workspace's driver is built incrementally (kit/node_cache.py), and equals a full build.

After a cell is re-run, `ws.driver()` takes the nodes of the unchanged modules from what they
resolved to before. Every row of the construct corpus (tests/test_hamilton_language.py) is
built that way and compared, node by node, with a driver Hamilton builds from scratch over the
same modules and config: names, types, roles, edges, tags, inputs, defaults, originating
functions and code versions, then the values. A counting stand-in for Hamilton's
`resolve_nodes` shows which functions were resolved again.
"""

from __future__ import annotations

import threading
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cell
from test_hamilton_language import ROWS, SUPPORTED, Construct, load
from test_promote_flow import assert_same_outputs

import kit
from kit.errors import CellError
from kit.node_cache import NodeCache

FILLER = "%%hamilton filler\ndef filler_value() -> int:\n    return 1\n"


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """The functions Hamilton resolves from now on, counted by module (kit's builds and others)."""
    from hamilton.function_modifiers import base

    counts: Counter = Counter()
    original = base.resolve_nodes

    def counting(fn: Any, config: dict[str, Any]) -> Any:
        counts[fn.__module__] += 1
        return original(fn, config)

    monkeypatch.setattr(base, "resolve_nodes", counting)
    return counts


def cold_driver(ws: kit.Workspace) -> Any:
    """Hamilton's own full build over the workspace's modules and config (no kit cache)."""
    from hamilton import driver, htypes
    from hamilton.execution import executors

    builder = driver.Builder().with_modules(*ws.modules.values()).with_config(ws.config)
    if any(entry.override for entry in ws.entries.values()):
        builder = builder.allow_module_overrides()
    built = builder.build()
    if any(htypes.is_parallelizable_type(n.type) for n in built.graph.get_nodes()):
        built = (
            builder.enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(executors.SynchronousLocalTaskExecutor())
            .with_remote_executor(executors.SynchronousLocalTaskExecutor())
            .build()
        )
    return built


def described(dr: Any) -> tuple[list[tuple[Any, ...]], str, type]:
    """Everything a build decides about each node, in graph order; the graph's code version;
    the executor kind."""
    from hamilton import graph_types

    graph = graph_types.HamiltonGraph.from_graph(dr.graph)
    nodes = []
    for n in dr.graph.get_nodes():
        call = n.callable
        nodes.append(
            (
                n.name,
                n.type,
                n.node_role,
                n.namespace,
                n.documentation,
                [d.name for d in n.dependencies],
                [d.name for d in n.depended_on_by],
                dict(n.tags),
                dict(n.input_types),
                dict(n.default_parameter_values),
                n.originating_functions,
                getattr(call, "__code__", type(call)),  # closures made at resolution: same code
                graph[n.name].version,
            )
        )
    return nodes, graph.version, type(dr.graph_executor)


def assert_same_build(ws: kit.Workspace) -> None:
    incremental, cold = described(ws.driver()), described(cold_driver(ws))
    assert [n[0] for n in incremental[0]] == [n[0] for n in cold[0]]
    for mine, theirs in zip(incremental[0], cold[0], strict=True):
        assert mine == theirs, mine[0]
    assert incremental[1:] == cold[1:]


def construct_modules(construct: Construct) -> set[str]:
    return {f"modules.{name}" for name in construct.cells}


@pytest.mark.parametrize("construct", ROWS, ids=[c.name for c in ROWS])
def test_a_rebuilt_driver_equals_a_full_build_for_every_construct(
    construct: Construct, shell: Any, project: Path, resolved: Counter
) -> None:
    ws = load(shell, construct, project)
    assert run_cell(shell, FILLER).error_in_exec is None
    ws.driver()

    # re-run another cell: the construct's nodes come from the cache, unresolved
    resolved.clear()
    assert run_cell(shell, FILLER).error_in_exec is None
    ws.driver()
    assert not set(resolved) & construct_modules(construct), resolved
    assert resolved == {"modules.filler": 1}  # once, by the cell's duplicate check
    assert_same_build(ws)

    # re-run the construct's last cell: only it resolves again
    last, body = list(construct.cells.items())[-1]
    assert run_cell(shell, f"%%hamilton {last}\n{body}").error_in_exec is None
    resolved.clear()
    ws.driver()
    assert sum(resolved.values()) == 0, resolved
    assert_same_build(ws)

    if construct in SUPPORTED:
        cold = cold_driver(ws).execute(construct.outputs, inputs=construct.inputs)
        assert_same_outputs(ws.execute(construct.outputs, inputs=construct.inputs), cold)


CHOSEN = """\
from hamilton.function_modifiers import config

def base() -> int:
    return 2

@config.when(kind="x")
def doubled__x(base: int) -> int:
    return base * 2

@config.when(kind="y")
def doubled__y(base: int) -> int:
    return base * 3

@config.when_not(kind="x")
def only_not_x(base: int) -> int:
    return base
"""


def test_a_config_change_resolves_again_and_the_old_config_is_kept(
    shell: Any, project: Path, resolved: Counter
) -> None:
    assert run_cell(shell, "%hamilton_config kind=x").error_in_exec is None
    assert run_cell(shell, f"%%hamilton chosen\n{CHOSEN}").error_in_exec is None
    ws = kit.workspace()
    assert_same_build(ws)
    assert "only_not_x" not in ws.graph().nodes
    assert ws.execute(["doubled"]) == {"doubled": 4}

    resolved.clear()
    assert run_cell(shell, "%hamilton_config kind=y").error_in_exec is None
    ws.driver()
    assert resolved["modules.chosen"] == 4  # every function, under the new config
    assert_same_build(ws)
    assert "only_not_x" in ws.graph().nodes
    assert ws.execute(["doubled"]) == {"doubled": 6}

    resolved.clear()
    assert run_cell(shell, "%hamilton_config kind=x").error_in_exec is None
    ws.driver()
    assert resolved["modules.chosen"] == 0  # both configs are remembered
    assert_same_build(ws)
    assert ws.execute(["doubled"]) == {"doubled": 4}

    # `-c` on a cell merges into the config in place: the cache sees the new value
    assert run_cell(shell, FILLER.replace("filler\n", "filler -c kind=y\n")).error_in_exec is None
    assert ws.config == {"kind": "y"}
    assert_same_build(ws)
    assert ws.execute(["doubled"]) == {"doubled": 6}


def test_a_removed_module_leaves_the_driver_and_the_cache(shell: Any, project: Path) -> None:
    assert run_cell(shell, "%%hamilton a\ndef one() -> int:\n    return 1\n").error_in_exec is None
    body = "def two(one: int) -> int:\n    return one + 1\n\ndef three() -> int:\n    return 3\n"
    assert run_cell(shell, f"%%hamilton b\n{body}").error_in_exec is None
    ws = kit.workspace()
    assert {"one", "two", "three"} <= set(ws.graph().nodes)
    assert len(ws._resolved) == 3

    ws.remove("b")
    assert set(ws.graph().nodes) == {"one"}
    assert_same_build(ws)
    assert len(ws._resolved) == 1  # b's functions are forgotten once a build no longer asks


CHECKED = """\
from hamilton.function_modifiers import check_output

def x() -> int:
    return 3

@check_output(range=(0, 10))
def score(x: int) -> int:
    return x
"""


def test_a_cell_whose_decorator_now_raises_is_refused_by_name_and_the_old_one_kept(
    shell: Any, project: Path
) -> None:
    assert run_cell(shell, f"%%hamilton checked\n{CHECKED}").error_in_exec is None
    ws = kit.workspace()
    before = described(ws.driver())

    # @check_output(range=...) has no validator for a str: Hamilton raises while resolving
    broken = CHECKED.replace("def score(x: int) -> int:", "def score(x: int) -> str:")
    error = run_cell(shell, f"%%hamilton checked\n{broken}").error_in_exec
    assert isinstance(error, CellError)
    assert error.module == "checked"
    assert "Hamilton cannot build its nodes" in str(error)
    assert "checked" in str(error)

    assert described(ws.driver()) == before
    assert_same_build(ws)
    assert ws.execute(["score"]) == {"score": 3}


def test_the_cache_answers_only_inside_a_build_and_only_in_its_thread() -> None:
    from hamilton import ad_hoc_utils, driver
    from hamilton.function_modifiers import base

    original = base.resolve_nodes
    module = ad_hoc_utils.module_from_source("def a() -> int:\n    return 1\n", "plain_a")
    cache = NodeCache()
    cache.nodes(module.a, {})
    assert (cache.hits, cache.misses) == (0, 1)
    built_elsewhere: list[Any] = []
    with cache.building():
        assert base.resolve_nodes is not original
        driver.Builder().with_modules(module).build()  # this thread: from the cache
        assert (cache.hits, cache.misses) == (1, 1)
        thread = threading.Thread(
            target=lambda: built_elsewhere.append(driver.Builder().with_modules(module).build())
        )
        thread.start()
        thread.join()
        assert (cache.hits, cache.misses) == (1, 1)  # the user's own build resolved its own
    assert built_elsewhere and base.resolve_nodes is original
    driver.Builder().with_modules(module).build()
    assert (cache.hits, cache.misses) == (1, 1)


def test_fresh_nodes_are_copies_a_build_may_change() -> None:
    from hamilton import ad_hoc_utils, driver

    source = (
        "from hamilton.function_modifiers import tag\n\n"
        "def inner(x: int) -> int:\n    return x + 1\n\n"
        "@tag(owner='me')\n"
        "def uses(x: int) -> int:\n    return x\n"
    )
    module = ad_hoc_utils.module_from_source(source, "plain_b")
    cache = NodeCache()
    first = cache.fresh(module.uses, {})
    first[0].add_tag("added", "by a build")
    first[0].dependencies.append(first[0])
    second = cache.fresh(module.uses, {})
    assert "added" not in second[0].tags and second[0].dependencies == []
    assert second[0].name == first[0].name and second[0] is not first[0]
    with cache.building():
        for _ in range(2):  # edges are added to copies, never to the cached nodes
            dr = driver.Builder().with_modules(module).build()
            assert [d.name for d in dr.graph.nodes["uses"].dependencies] == ["x"]


def test_a_decoration_changed_in_place_resolves_again() -> None:
    """`@mutate` adds its step to the target's existing pipe_output by replacing its tuple."""
    from hamilton import ad_hoc_utils
    from hamilton.function_modifiers import pipe_output, step, value

    source = (
        "from hamilton.function_modifiers import pipe_output, step\n\n"
        "def _add(v: int, n: int = 1) -> int:\n    return v + n\n\n"
        "@pipe_output(step(_add).named('first'))\n"
        "def value() -> int:\n    return 1\n"
    )
    module = ad_hoc_utils.module_from_source(source, "plain_c")
    cache = NodeCache()
    names = {n.name for n in cache.nodes(module.value, {})}
    assert names == {n.name for n in cache.nodes(module.value, {})}
    assert cache.misses == 1
    (decorator,) = [d for d in module.value.transform if isinstance(d, pipe_output)]
    added: Any = step(module._add, n=value(2)).named("second")
    decorator.transforms = (*decorator.transforms, added)
    again = {n.name for n in cache.nodes(module.value, {})}
    assert cache.misses == 2 and again != names
    assert any("second" in name for name in again)


def test_config_values_that_are_not_plain_data_count_by_identity() -> None:
    from hamilton import ad_hoc_utils

    module = ad_hoc_utils.module_from_source("def a() -> int:\n    return 1\n", "plain_d")
    cache = NodeCache()
    marker = types.SimpleNamespace()
    for config in ({"k": [1, (2, 3)]}, {"k": [1, (2, 3)]}, {"k": [1, [2, 3]]}, {"k": marker}):
        cache.nodes(module.a, config)
    cache.nodes(module.a, {"k": marker})
    cache.nodes(module.a, {"k": types.SimpleNamespace()})
    # equal plain data hits; a tuple is not a list; the same object hits, another does not
    assert (cache.hits, cache.misses) == (2, 4)


def test_the_graph_reads_a_function_source_again_only_when_it_changed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code versions and source locations are kept per function, while Python's source lines
    of its file are the same: a file edited on disk is read again, as Hamilton reads it."""
    import importlib
    import inspect
    import os

    from hamilton import driver, graph_types

    from kit.dag import graph as dag_graph

    path = project / "modules" / "on_disk.py"
    path.write_text("def a() -> int:\n    return 1\n")
    monkeypatch.syspath_prepend(str(project))
    module = importlib.import_module("modules.on_disk")
    dr = driver.Builder().with_modules(module).build()

    def versions() -> tuple[str | None, str | None, int | None]:
        hamilton = graph_types.HamiltonGraph.from_graph(dr.graph)["a"].version
        info = dag_graph.DagGraph(dr.graph.get_nodes(), {}).nodes["a"]
        return hamilton, info.version, info.source_line

    reads: list[Any] = []
    location = dag_graph._source_location
    monkeypatch.setattr(dag_graph, "_source_location", lambda fn: reads.append(fn) or location(fn))
    first = versions()
    assert first[0] == first[1] and first[2] == 1
    assert versions() == first and len(reads) == 1  # kept

    path.write_text("# moved\n\ndef a() -> int:\n    return 2  # edited, not reloaded\n")
    os.utime(path, (1, 1))  # another mtime, whatever the clock's resolution
    second = versions()
    assert second[0] == second[1] != first[0]
    assert second[2] == inspect.getsourcelines(module.a)[1]  # what inspect says now
    assert len(reads) == 2
