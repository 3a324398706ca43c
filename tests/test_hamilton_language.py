"""Every construct of Hamilton's language that a user can write in a cell, through all of kit.

One row per construct. Each row runs in a real IPython shell: the cells, `ws.execute` compared
with plain Hamilton on the exported files (the same values, the same nodes and code versions),
then promotion under single, by-module and per-output, each flow run on the session's Prefect
API and returning what `ws.execute` returns with the same function calls (every node once). A
construct kit cannot run is a row that asserts the kit error naming it, with no file written.
The README's table of supported constructs is this table.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import forget_project_modules, run_cell
from test_promote_flow import assert_same_outputs

import kit
from kit.errors import GraphError, KitError, PerItemNodeError

STRATEGIES = ("single", "by-module", "per-output")
COUNTER = "CALLS = []\n\n\ndef _called(name):\n    CALLS.append(name)\n\n\n"


@dataclass(frozen=True)
class Construct:
    """A row: cells (module name -> body), what to request, and what kit must do with it."""

    name: str
    cells: dict[str, str]
    outputs: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)
    config: str = ""  # the text of %hamilton_config, if any
    files: dict[str, str] = field(default_factory=dict)  # data files the cells read
    dynamic: bool = False  # plain Hamilton needs dynamic execution for it
    refused: tuple[type[KitError], str] | None = None  # kit's error and a part of its message


def row(name: str, outputs: list[str], *cells: tuple[str, str], **options: Any) -> Construct:
    bodies = {module: COUNTER + textwrap.dedent(body).strip() + "\n" for module, body in cells}
    return Construct(name, bodies, outputs, **options)


ROWS = [
    row(
        "plain functions",
        ["doubled", "total"],
        (
            "numbering",
            """
            def base() -> int:
                _called("base")
                return 3

            def doubled(base: int) -> int:
                _called("doubled")
                return base * 2

            def total(base: int, doubled: int, extra: int = 1) -> int:
                _called("total")
                return base + doubled + extra
        """,
        ),
    ),
    row(
        "@config.when, @config.when_not",
        ["doubled"],
        (
            "chosen",
            """
            from hamilton.function_modifiers import config

            @config.when(kind="x")
            def value__x() -> int:
                _called("value__x")
                return 10

            @config.when_not(kind="x")
            def value__other() -> int:
                _called("value__other")
                return 20

            def doubled(value: int) -> int:
                _called("doubled")
                return value * 2
        """,
        ),
        config="kind=x",
    ),
    row(
        "@config.when_in, @config.when_not_in",
        ["picked"],
        (
            "chosen",
            """
            from hamilton.function_modifiers import config

            @config.when_in(kind=["a", "b"])
            def picked__ab() -> str:
                _called("picked__ab")
                return "ab"

            @config.when_not_in(kind=["a", "b"])
            def picked__other() -> str:
                _called("picked__other")
                return "other"
        """,
        ),
        config="kind=c",
    ),
    row(
        "@extract_columns",
        ["total"],
        (
            "table",
            """
            import pandas as pd
            from hamilton.function_modifiers import extract_columns

            @extract_columns("a", "b")
            def frame() -> pd.DataFrame:
                _called("frame")
                return pd.DataFrame({"a": [1, 2], "b": [10, 20]})

            def total(a: pd.Series, b: pd.Series) -> pd.Series:
                _called("total")
                return a + b
        """,
        ),
    ),
    row(
        "@extract_fields",
        ["width"],
        (
            "bounds",
            """
            from hamilton.function_modifiers import extract_fields

            @extract_fields({"low": int, "high": int})
            def limits() -> dict:
                _called("limits")
                return {"low": 2, "high": 9}

            def width(low: int, high: int) -> int:
                _called("width")
                return high - low
        """,
        ),
    ),
    row(
        "@parameterize",
        ["p1", "p2", "both"],
        (
            "variants",
            """
            from hamilton.function_modifiers import parameterize, value

            @parameterize(p1={"n": value(1)}, p2={"n": value(2)})
            def p(n: int) -> int:
                _called("p")
                return n * 10

            def both(p1: int, p2: int) -> int:
                _called("both")
                return p1 + p2
        """,
        ),
    ),
    row(
        "@parameterize_values",
        ["one", "two"],
        (
            "variants",
            """
            from hamilton.function_modifiers import parameterize_values

            @parameterize_values(parameter="n", assigned_output={("one", "1"): 1, ("two", "2"): 2})
            def times(n: int) -> int:
                _called("times")
                return n * 100
        """,
        ),
    ),
    row(
        "@parameterize_sources",
        ["sum_ab", "sum_ba"],
        (
            "variants",
            """
            from hamilton.function_modifiers import parameterize_sources

            def a() -> int:
                _called("a")
                return 1

            def b() -> int:
                _called("b")
                return 2

            @parameterize_sources(sum_ab={"x": "a", "y": "b"}, sum_ba={"x": "b", "y": "a"})
            def added(x: int, y: int) -> int:
                _called("added")
                return x * 10 + y
        """,
        ),
    ),
    row(
        "@parameterize_extract_columns",
        ["c1", "c2", "d1"],
        (
            "frames",
            """
            import pandas as pd
            from hamilton.function_modifiers import (
                ParameterizedExtract,
                parameterize_extract_columns,
                value,
            )

            @parameterize_extract_columns(
                ParameterizedExtract(("c1", "c2"), {"k": value(1)}),
                ParameterizedExtract(("d1", "d2"), {"k": value(2)}),
            )
            def made(k: int) -> pd.DataFrame:
                _called("made")
                return pd.DataFrame({"x": [k], "y": [k * 2]})
        """,
        ),
    ),
    row(
        "@inject",
        ["summed"],
        (
            "injected",
            """
            from hamilton.function_modifiers import group, inject, source

            def a() -> int:
                _called("a")
                return 4

            def b() -> int:
                _called("b")
                return 5

            @inject(items=group(source("a"), source("b")))
            def summed(items: list[int]) -> int:
                _called("summed")
                return sum(items)
        """,
        ),
    ),
    row(
        "@resolve",
        ["r1", "r2"],
        (
            "resolved",
            """
            from hamilton.function_modifiers import ResolveAt, parameterize, resolve, value

            @resolve(
                when=ResolveAt.CONFIG_AVAILABLE,
                decorate_with=lambda names: parameterize(
                    **{name: {"k": value(i)} for i, name in enumerate(names)}
                ),
            )
            def made(k: int) -> int:
                _called("made")
                return k + 100
        """,
        ),
        config='{"hamilton.enable_power_user_mode": true, "names": ["r1", "r2"]}',
    ),
    row(
        "@subdag",
        ["a", "b"],
        (
            "inner",
            """
            def doubled(x: int) -> int:
                _called("doubled")
                return 2 * x
        """,
        ),
        (
            "outer",
            """
            from hamilton.function_modifiers import subdag, value

            from modules import inner

            @subdag(inner, inputs={"x": value(1)})
            def a(doubled: int) -> int:
                _called("a")
                return doubled

            @subdag(inner, inputs={"x": value(2)})
            def b(doubled: int) -> int:
                _called("b")
                return doubled
        """,
        ),
    ),
    row(
        "@parameterized_subdag",
        ["s1", "s2"],
        (
            "inner",
            """
            def doubled(x: int) -> int:
                _called("doubled")
                return 2 * x
        """,
        ),
        (
            "outer",
            """
            from hamilton.function_modifiers import parameterized_subdag, value

            from modules import inner

            @parameterized_subdag(
                inner, s1={"inputs": {"x": value(3)}}, s2={"inputs": {"x": value(4)}}
            )
            def s(doubled: int) -> int:
                _called("s")
                return doubled + 1
        """,
        ),
    ),
    row(
        "@does",
        ["sum_ab"],
        (
            "replaced",
            """
            from hamilton.function_modifiers import does

            def a() -> int:
                _called("a")
                return 1

            def b() -> int:
                _called("b")
                return 2

            def _sum(**values: int) -> int:
                _called("_sum")
                return sum(values.values())

            @does(_sum)
            def sum_ab(a: int, b: int) -> int:
                pass
        """,
        ),
    ),
    row(
        "@check_output",
        ["score"],
        (
            "checked",
            """
            from hamilton.function_modifiers import check_output

            @check_output(range=(0, 10), importance="warn")
            def score(n: int) -> int:
                _called("score")
                return n
        """,
        ),
        inputs={"n": 4},
    ),
    row(
        "@check_output_custom",
        ["score"],
        (
            "checked",
            """
            from hamilton.data_quality.base import DataValidator, ValidationResult
            from hamilton.function_modifiers import check_output_custom

            class _Even(DataValidator):
                def __init__(self) -> None:
                    super().__init__(importance="warn")

                def applies_to(self, datatype: type) -> bool:
                    return datatype is int

                def description(self) -> str:
                    return "an even number"

                @classmethod
                def name(cls) -> str:
                    return "even"

                def validate(self, dataset: int) -> ValidationResult:
                    return ValidationResult(dataset % 2 == 0, f"{dataset} is even or not")

            @check_output_custom(_Even())
            def score(n: int) -> int:
                _called("score")
                return n
        """,
        ),
        inputs={"n": 4},
    ),
    row(
        "@tag, @tag_outputs",
        ["low", "tagged"],
        (
            "tagged",
            """
            from hamilton.function_modifiers import extract_fields, tag, tag_outputs

            @tag(owner="data-science")
            def tagged() -> int:
                _called("tagged")
                return 1

            @tag_outputs(low={"kind": "bound"}, high={"kind": "bound"})
            @extract_fields({"low": int, "high": int})
            def limits() -> dict:
                _called("limits")
                return {"low": 1, "high": 2}
        """,
        ),
    ),
    row(
        "@schema",
        ["frame"],
        (
            "described",
            """
            import pandas as pd
            from hamilton.function_modifiers import schema

            @schema.output(("a", "int"), ("b", "int"))
            def frame() -> pd.DataFrame:
                _called("frame")
                return pd.DataFrame({"a": [1], "b": [2]})
        """,
        ),
    ),
    row(
        "@load_from, @save_to",
        ["doubled", "saved"],
        (
            "files",
            """
            import pandas as pd
            from hamilton.function_modifiers import load_from, save_to, source

            @save_to.csv(path=source("out_path"), output_name_="saved")
            @load_from.csv(path=source("in_path"))
            def doubled(frame: pd.DataFrame) -> pd.DataFrame:
                _called("doubled")
                return frame * 2
        """,
        ),
        inputs={"in_path": "data/in.csv", "out_path": "data/out.csv"},
        files={"data/in.csv": "a,b\n1,2\n3,4\n"},
    ),
    row(
        "@dataloader, @datasaver",
        ["rows", "stored"],
        (
            "io_rows",
            """
            import json

            from hamilton.function_modifiers import dataloader, datasaver

            @dataloader()
            def rows(in_path: str) -> tuple[list, dict]:
                _called("rows")
                with open(in_path) as stream:
                    return json.load(stream), {"path": in_path}

            @datasaver()
            def stored(rows: list, out_path: str) -> dict:
                _called("stored")
                with open(out_path, "w") as stream:
                    json.dump(rows[::-1], stream)
                return {"path": out_path}
        """,
        ),
        inputs={"in_path": "data/in.json", "out_path": "data/out.json"},
        files={"data/in.json": "[1, 2, 3]"},
    ),
    row(
        "@pipe_input, @pipe_output",
        ["piped", "out"],
        (
            "piping",
            """
            from hamilton.function_modifiers import pipe_input, pipe_output, step, value

            def base() -> int:
                _called("base")
                return 1

            def _plus(v: int, k: int) -> int:
                _called("_plus")
                return v + k

            def _twice(v: int) -> int:
                _called("_twice")
                return v * 2

            @pipe_input(step(_plus, k=value(2)).named("plus"))
            def piped(base: int) -> int:
                _called("piped")
                return base * 3

            @pipe_output(step(_twice).named("twice"))
            def out(base: int) -> int:
                _called("out")
                return base
        """,
        ),
    ),
    row(
        "@mutate",
        ["raw"],
        (
            "mutated",
            """
            from hamilton.function_modifiers import apply_to, mutate

            def raw() -> int:
                _called("raw")
                return 5

            @mutate(apply_to(raw))
            def _bump(raw: int) -> int:
                _called("_bump")
                return raw + 100
        """,
        ),
    ),
    row(
        "@with_columns (pandas)",
        ["final"],
        (
            "column_steps",
            """
            import pandas as pd

            def a2(a: pd.Series) -> pd.Series:
                _called("a2")
                return a * 2
        """,
        ),
        (
            "columns",
            """
            import pandas as pd
            from hamilton.plugins.h_pandas import with_columns

            from modules import column_steps

            def initial() -> pd.DataFrame:
                _called("initial")
                return pd.DataFrame({"a": [1, 2]})

            @with_columns(column_steps, columns_to_pass=["a"], select=["a2"])
            def final(initial: pd.DataFrame) -> pd.DataFrame:
                _called("final")
                return initial
        """,
        ),
    ),
    row(
        "@hamilton_exclude",
        ["scaled"],
        (
            "helped",
            """
            from hamilton.function_modifiers import hamilton_exclude

            @hamilton_exclude
            def scale(value: int) -> int:
                _called("scale")
                return value * 3

            def scaled() -> int:
                _called("scaled")
                return scale(4)
        """,
        ),
    ),
    row(
        "Parallelizable / Collect",
        ["total", "after"],
        (
            "fanned",
            """
            from hamilton.htypes import Collect, Parallelizable

            def items(n: int) -> Parallelizable[int]:
                _called("items")
                yield from range(n)

            def squared(items: int) -> int:
                _called("squared")
                return items * items

            def total(squared: Collect[int]) -> int:
                _called("total")
                return sum(squared)

            def after(total: int) -> int:
                _called("after")
                return total + 1
        """,
        ),
        inputs={"n": 4},
        dynamic=True,
    ),
    row(
        "a node inside a Parallelizable block (requested)",
        ["squared"],
        (
            "fanned",
            """
            from hamilton.htypes import Collect, Parallelizable

            def items(n: int) -> Parallelizable[int]:
                yield from range(n)

            def squared(items: int) -> int:
                return items * items

            def total(squared: Collect[int]) -> int:
                return sum(squared)
        """,
        ),
        inputs={"n": 4},
        refused=(PerItemNodeError, "node 'squared' runs once per item of Parallelizable node"),
    ),
    row(
        "async functions",
        ["fetched"],
        (
            "fetching",
            """
            async def fetched() -> int:
                return 1
        """,
        ),
        refused=(GraphError, "node 'fetched' of module 'fetching' is an async function"),
    ),
]


@pytest.fixture(autouse=True)
def flows_package(project: Path) -> None:
    (project / "flows" / "__init__.py").touch()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and ".kit" not in path.parts
    }


def load(shell: Any, construct: Construct, project: Path) -> kit.Workspace:
    for name, text in construct.files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    if construct.config:
        assert run_cell(shell, f"%hamilton_config {construct.config}").error_in_exec is None
    for module, body in construct.cells.items():
        result = run_cell(shell, f"%%hamilton {module}\n{body}")
        assert result.error_in_exec is None, result.error_in_exec
    return kit.workspace()


def calls(modules: Any) -> Counter:
    return Counter(call for module in modules for call in module.CALLS)


def in_the_notebook(ws: kit.Workspace, construct: Construct) -> tuple[dict[str, Any], Counter]:
    for module in ws.modules.values():
        module.CALLS.clear()
    results = ws.execute(construct.outputs, inputs=construct.inputs)
    return results, calls(ws.modules.values())


def plain_hamilton(ws: kit.Workspace, construct: Construct) -> tuple[dict[str, Any], Any]:
    """The exported files imported as any module is, run by a Hamilton driver of their own."""
    from hamilton import driver
    from hamilton.execution import executors

    forget_project_modules()
    modules = [importlib.import_module(f"modules.{name}") for name in construct.cells]
    builder = driver.Builder().with_modules(*modules).with_config(ws.config)
    if construct.dynamic:
        builder = (
            builder.enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(executors.SynchronousLocalTaskExecutor())
            .with_remote_executor(executors.SynchronousLocalTaskExecutor())
        )
    dr = builder.build()
    return dr.execute(construct.outputs, inputs=construct.inputs), dr


def run_flow(flow: str, construct: Construct) -> tuple[dict[str, Any], Counter]:
    forget_project_modules("modules")
    forget_project_modules("flows")
    module = importlib.import_module(f"flows.{flow}")
    state = getattr(module, flow)(**construct.inputs, return_state=True)
    result = state.result()
    return result, calls(sys.modules[f"modules.{name}"] for name in construct.cells)


SUPPORTED = [c for c in ROWS if c.refused is None]
REFUSED = [c for c in ROWS if c.refused is not None]


@pytest.mark.parametrize("construct", SUPPORTED, ids=[c.name for c in SUPPORTED])
def test_a_construct_runs_alike_in_the_notebook_in_plain_hamilton_and_in_every_split(
    construct: Construct, shell: Any, project: Path, prefect_api: None
) -> None:
    ws = load(shell, construct, project)
    expected, notebook_calls = in_the_notebook(ws, construct)
    assert set(expected) == set(construct.outputs)

    ws.export()
    plain, dr = plain_hamilton(ws, construct)
    assert_same_outputs(plain, expected)
    exported = {v.name: v.version for v in dr.list_available_variables()}
    assert exported == {name: info.version for name, info in ws.graph().nodes.items()}

    for strategy in STRATEGIES:
        flow = f"flow_{strategy.replace('-', '_')}"
        ws.promote(flow, construct.outputs, tasks=strategy)
        result, flow_calls = run_flow(flow, construct)
        assert_same_outputs(result, expected)
        assert flow_calls == notebook_calls, f"{strategy}: the flow called {flow_calls}"


@pytest.mark.parametrize("construct", REFUSED, ids=[c.name for c in REFUSED])
def test_a_construct_kit_cannot_run_is_refused_by_name_before_any_file_is_written(
    construct: Construct, shell: Any, project: Path
) -> None:
    error_type, message = construct.refused  # type: ignore[misc]
    ws = load(shell, construct, project)
    before = tree_digest(project)
    with pytest.raises(error_type, match=message):
        ws.execute(construct.outputs, inputs=construct.inputs)
    with pytest.raises(error_type, match=message):
        ws.promote("refused_flow", construct.outputs, tasks="single")
    assert tree_digest(project) == before


def test_per_output_gives_each_subdag_instance_and_each_parameterize_variant_its_own_task(
    shell: Any, project: Path
) -> None:
    from kit.promote import make_plan

    subdags = next(c for c in ROWS if c.name == "@subdag")
    ws = load(shell, subdags, project)
    plan = make_plan(ws.graph(), ["a", "b"], "per-output")
    assert [(t.name, t.nodes) for t in plan.tasks] == [
        ("a", ("a.x", "a.doubled", "a")),
        ("b", ("b.x", "b.doubled", "b")),
    ]
    assert plan.notes == ()
    by_module = make_plan(ws.graph(), ["a", "b"], "by-module")
    assert [t.name for t in by_module.tasks] == ["outer"] and by_module.notes == ()


def test_the_block_of_a_parallelizable_stays_in_one_task_and_says_so(
    shell: Any, project: Path
) -> None:
    from kit.errors import PromoteError
    from kit.promote import make_plan

    fanned = next(c for c in ROWS if c.name == "Parallelizable / Collect")
    ws = load(shell, fanned, project)
    plan = make_plan(ws.graph(), ["total", "after"], "per-output")
    assert [(t.name, t.nodes, t.parallel) for t in plan.tasks] == [
        ("total", ("items", "squared", "total"), True),
        ("after", ("after",), False),
    ]
    assert plan.notes == (
        "nodes items, squared and total form a Parallelizable/Collect block, "
        "which runs in one task with Hamilton's executor",
    )
    second_collect = "def counted(squared: Collect[int]) -> int:\n    return len(list(squared))\n"
    run_cell(shell, "%%hamilton counting\nfrom hamilton.htypes import Collect\n" + second_collect)
    before = tree_digest(project)
    with pytest.raises(PromoteError, match="belong to one Parallelizable/Collect block"):
        ws.promote("split", ["total", "counted"], tasks={"t1": ["total"], "t2": ["counted"]})
    assert tree_digest(project) == before
    notes = make_plan(ws.graph(), ["total", "counted"], "per-output").notes
    assert "output counted belongs with total to one Parallelizable/Collect block" in notes[-1]


CHECKED = """
from hamilton.function_modifiers import check_output

@check_output(range=(0, 10), importance="{importance}")
def score(n: int) -> int:
    return n
"""


def flow_artifacts(flow_run_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def test_check_output_results_are_a_table_artifact_and_a_failing_check_fails_its_task(
    shell: Any, project: Path, prefect_api: None
) -> None:
    import json

    assert run_cell(shell, "%%hamilton checked\n" + CHECKED.format(importance="warn")).success
    ws = kit.workspace()
    ws.promote("checked_flow", ["score"], tasks="single")
    forget_project_modules("flows")
    flow = importlib.import_module("flows.checked_flow").checked_flow
    state = flow(n=42, return_state=True)
    assert state.is_completed() and state.result() == {"score": 42}
    tables = [a for a in flow_artifacts(state.state_details.flow_run_id) if a.type == "table"]
    rows = [row for table in tables for row in json.loads(table.data)]
    assert {"node": "score", "validator": "range_validator", "passed": False} in [
        {key: row[key] for key in ("node", "validator", "passed")} for row in rows
    ]

    run_cell(shell, "%%hamilton checked\n" + CHECKED.format(importance="fail"))
    ws.promote("checked_flow", ["score"], tasks="single")
    forget_project_modules("flows")
    forget_project_modules("modules")
    flow = importlib.import_module("flows.checked_flow").checked_flow
    state = flow(n=42, return_state=True)
    assert state.is_failed()
    with pytest.raises(
        Exception, match=r"@check_output of node 'score': validator range_validator"
    ):
        state.result()


def test_the_readme_lists_the_constructs_of_this_table() -> None:
    import re

    from conftest import REPO

    text = (REPO / "README.md").read_text()
    table = text.split("<!-- constructs:", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^\| (.+?) \| (.+?) \|$", table, re.M)[2:]  # past the head and rule
    assert [name for name, _ in listed] == [c.name for c in ROWS]
    for (_, status), construct in zip(listed, ROWS, strict=True):
        assert status.startswith("refused") == (construct.refused is not None), construct.name
