"""The loop back from production, as tests run it: a notebook of three counted modules promoted
with --cache, a real `prefect server start` on 127.0.0.1 (kit's server, stopped by PID), and the
flow run in this process against it.

Each module appends to its CALLS list when a function runs, so a flow run's counts say which
nodes it computed (a cached task computes none).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
from conftest import forget_project_modules, write_project

from kit.cli import main

MODULES = ("source_data", "scaled_data", "report")
PROMOTE = "%hamilton_promote counted --outputs scaled label --tasks by-module --cache"
SOURCE_DATA = '''\
CALLS: list[str] = []


def base(rows: int) -> list[int]:
    """The numbers 0 .. rows - 1."""
    CALLS.append("base")
    return list(range(rows))
'''
SCALED_DATA = """\
CALLS: list[str] = []


def scaled(base: list[int], factor: int) -> list[int]:
    CALLS.append("scaled")
    return [value * factor for value in base]
"""
REPORT = '''\
CALLS: list[str] = []


def total(scaled: list[int]) -> int:
    CALLS.append("total")
    return sum(scaled)


def label(total: int, prefix: str = "total") -> str:
    """The total, labelled."""
    CALLS.append("label")
    return f"{prefix}={total}"
'''
FAILING_REPORT = REPORT.replace(
    'return f"{prefix}={total}"', 'raise ValueError(f"no label for {total}")'
)


def write_loop_notebook(
    root: Path, *, source_data: str = SOURCE_DATA, report: str = REPORT, promote: str = PROMOTE
) -> Path:
    """notebooks/loop.ipynb: a parameters cell, the three modules as cells, the promote line."""
    parameters = nbformat.v4.new_code_cell('rows = 5\nfactor = 2\nprefix = "total"\n')
    parameters.metadata["tags"] = ["parameters"]
    bodies = {"source_data": source_data, "scaled_data": SCALED_DATA, "report": report}
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext kit"),
        parameters,
        *(nbformat.v4.new_code_cell(f"%%hamilton {name}\n{bodies[name]}") for name in MODULES),
        nbformat.v4.new_code_cell(promote),
    ]
    path = root / "notebooks" / "loop.ipynb"
    nbformat.write(notebook, path)
    return path


def export(root: Path) -> None:
    """`kit export` in the project (the notebook's modules and flows)."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert main(["export"]) == 0
    finally:
        os.chdir(cwd)


def loop_project(root: Path, **bodies: str) -> Path:
    """A project whose notebook promotes `counted`, exported."""
    write_project(root)
    (root / "flows" / "__init__.py").touch()
    write_loop_notebook(root, **bodies)
    export(root)
    return root


def run_flow(**parameters: Any) -> tuple[Any, Counter[str], dict[str, str]]:
    """Import flows/counted.py and its modules afresh and run it: its final state, the nodes it
    computed, and the state of each task (Completed, Cached, Failed)."""
    from prefect import Task, get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    forget_project_modules("modules")
    forget_project_modules("flows")
    flow_module = importlib.import_module("flows.counted")
    state = flow_module.counted(**parameters, return_state=True)
    calls = Counter(call for name in MODULES for call in sys.modules[f"modules.{name}"].CALLS)
    tasks = sum(isinstance(value, Task) for value in vars(flow_module).values())
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:  # the server records task run states from events, a moment after the run
            task_runs = client.read_task_runs(flow_run_filter=flow_runs)
            final = [run for run in task_runs if run.state is not None and run.state.is_final()]
            if len(final) >= tasks or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    states = {run.name.rsplit("-", 1)[0]: run.state.name for run in final}
    return state, calls, states
