"""Hamilton's decorators survive the trip through a cell: the DAG equals the one from a file."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest

import kit
from kit.dag.graph import DagGraph

SOURCES = {
    "config_when": """
        from hamilton.function_modifiers import config

        def base() -> int:
            return 2

        @config.when(model="linear")
        def score__linear(base: int) -> float:
            return base * 1.5

        @config.when_not(model="linear")
        def score__other(base: int) -> float:
            return base * 2.5
        """,
    "extract_columns": """
        import pandas as pd
        from hamilton.function_modifiers import extract_columns

        @extract_columns("height", "width")
        def shapes() -> pd.DataFrame:
            return pd.DataFrame({"height": [1, 2], "width": [3, 4]})

        def area(height: pd.Series, width: pd.Series) -> pd.Series:
            return height * width
        """,
    "parameterize": """
        from hamilton.function_modifiers import parameterize, source, value

        def start() -> int:
            return 3

        @parameterize(
            tripled={"factor": value(3), "number": source("start")},
            quadrupled={"factor": value(4), "number": source("start")},
        )
        def multiplied(number: int, factor: int) -> int:
            return number * factor
        """,
    "tag": """
        from hamilton.function_modifiers import tag

        @tag(prefect_task="train", owner="science")
        def model_input() -> list:
            return [1, 2, 3]

        def model_size(model_input: list) -> int:
            return len(model_input)
        """,
    "check_output": """
        import numpy as np
        import pandas as pd
        from hamilton.function_modifiers import check_output

        @check_output(data_type=np.float64, range=(0.0, 100.0), importance="warn")
        def percentages() -> pd.Series:
            return pd.Series([10.0, 55.5])
        """,
    "save_to": """
        import pandas as pd
        from hamilton.function_modifiers import save_to, source

        def predictions() -> pd.DataFrame:
            return pd.DataFrame({"y": [1, 0]})

        @save_to.csv(path=source("predictions_path"), output_name_="saved_predictions")
        def predictions_table(predictions: pd.DataFrame) -> pd.DataFrame:
            return predictions
        """,
    "pipe_input": """
        from hamilton.function_modifiers import pipe_input, step, value

        def _add(x: int, amount: int) -> int:
            return x + amount

        def _times(x: int, factor: int) -> int:
            return x * factor

        def raw() -> int:
            return 1

        @pipe_input(step(_add, amount=value(2)), step(_times, factor=value(3)))
        def piped(raw: int) -> int:
            return raw - 1
        """,
    "does": """
        from hamilton.function_modifiers import does

        def _total(**values: int) -> int:
            return sum(values.values())

        def a() -> int:
            return 1

        def b() -> int:
            return 2

        @does(_total)
        def both(a: int, b: int) -> int:
            pass
        """,
    "mutate": """
        from hamilton.function_modifiers import mutate

        def numbers() -> list:
            return [3, 1, 2]

        @mutate(numbers)
        def _sorted(numbers: list) -> list:
            return sorted(numbers)
        """,
}

CONFIG = {"model": "linear"}


def _shape(graph: DagGraph) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    return {
        name: (info.type, tuple(sorted(info.dependencies)), info.is_input)
        for name, info in graph.nodes.items()
    }


@pytest.mark.parametrize("family", sorted(SOURCES))
def test_cell_dag_equals_file_dag(project: Path, family: str) -> None:
    source = textwrap.dedent(SOURCES[family]).lstrip()
    ws = kit.workspace()
    ws.config = CONFIG
    ws.add_cell(f"cell_{family}", source)

    (project / "modules" / f"file_{family}.py").write_text(source)
    project_ws = kit.Workspace()
    project_ws.config = CONFIG
    project_ws.use(importlib.import_module(f"modules.file_{family}"))

    from_cell, from_file = ws.graph(), project_ws.graph()
    assert _shape(from_cell) == _shape(from_file)
    assert len(from_cell.nodes) >= 1
    assert {info.module for info in from_cell.nodes.values() if not info.is_input} == {
        f"cell_{family}"
    }


def test_decorated_cells_execute_like_files(project: Path) -> None:
    ws = kit.workspace()
    ws.config = CONFIG
    for family in (
        "config_when",
        "parameterize",
        "pipe_input",
        "does",
        "mutate",
        "extract_columns",
    ):
        ws.add_cell(f"cell_{family}", textwrap.dedent(SOURCES[family]).lstrip())
    results = ws.execute(["score", "tripled", "quadrupled", "piped", "both", "numbers", "area"])
    assert results["score"] == 3.0
    assert (results["tripled"], results["quadrupled"]) == (9, 12)
    assert results["piped"] == (1 + 2) * 3 - 1
    assert results["both"] == 3
    assert results["numbers"] == [1, 2, 3]
    assert results["area"].tolist() == [3, 8]


def test_save_to_saver_writes_its_file(project: Path) -> None:
    ws = kit.workspace()
    ws.add_cell("cell_save_to", textwrap.dedent(SOURCES["save_to"]).lstrip())
    target = project / "predictions.csv"
    ws.execute(["saved_predictions"], inputs={"predictions_path": str(target)})
    assert target.read_text().splitlines()[0].endswith("y")
