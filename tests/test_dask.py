"""`--runner dask`: a promoted flow's tasks on a real Dask cluster whose workers know nothing of
the project (a `distributed.LocalCluster` with 2 worker processes, started by the test in
another process, in a folder outside the project, and stopped by its PID)."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import forget_project_modules, run_cell

import kit
from kit.errors import PromoteError

CLUSTER = """
import sys
from distributed import LocalCluster
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the test closes our stdin
cluster.close()
"""

BRANCHES = """
%%hamilton branches
import os


def _spin(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


def left(rounds: int) -> dict:
    return {"value": _spin(rounds), "pid": os.getpid()}


def right(rounds: int) -> dict:
    return {"value": _spin(rounds + 1), "pid": os.getpid()}
"""


@pytest.fixture(scope="module")
def dask_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 2-worker cluster started in a folder outside any project, with a clean sys.path."""
    folder = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        yield address
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def on_cluster(dask_address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DASK_SCHEDULER_ADDRESS names the cluster, as a user's environment would."""
    import dask

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_address)
    dask.config.refresh()
    yield dask_address
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    dask.config.refresh()


@pytest.fixture(autouse=True)
def flows_package(project: Path) -> None:
    (project / "flows" / "__init__.py").touch()


def run_flow(flow: str, **parameters: Any) -> Any:
    forget_project_modules("modules")
    forget_project_modules("flows")
    module = importlib.import_module(f"flows.{flow}")
    return getattr(module, flow)(**parameters, return_state=True)


def test_independent_tasks_run_on_different_workers_and_return_what_the_notebook_computes(
    shell: Any, project: Path, prefect_api: None, on_cluster: str
) -> None:
    from distributed import Client

    assert run_cell(shell, BRANCHES).success
    ws = kit.workspace()
    expected = ws.execute(["left", "right"], inputs={"rounds": 400_000})
    ws.promote("branches_flow", ["left", "right"], tasks="per-output", runner="dask")
    source = (project / "flows" / "branches_flow.py").read_text()
    assert "task_runner=dask_task_runner()" in source and "import kit" not in source
    with Client(on_cluster) as client:
        workers = {pid: address for address, pid in client.run(os.getpid).items()}
        state = run_flow("branches_flow", rounds=400_000)
    assert state.is_completed(), state.message
    result = state.result()
    assert {name: value["value"] for name, value in result.items()} == {
        name: value["value"] for name, value in expected.items()
    }
    pids = {result["left"]["pid"], result["right"]["pid"]}
    assert pids <= set(workers), "each task ran in a worker process of the cluster"
    assert len(pids) == 2, "the two independent tasks ran on two different workers"
    assert os.getpid() not in pids


def test_a_value_that_cannot_be_pickled_is_named_with_its_node_task_and_type(
    shell: Any, project: Path, prefect_api: None, on_cluster: str
) -> None:
    cell = textwrap.dedent(
        """
        %%hamilton locking
        import threading


        def guard() -> threading.Lock:
            return threading.Lock()


        def guarded(guard: threading.Lock) -> bool:
            return guard.locked()
        """
    )
    assert run_cell(shell, cell).success
    kit.workspace().promote("locking_flow", ["guard", "guarded"], tasks="per-output", runner="dask")
    state = run_flow("locking_flow")
    assert state.is_failed()
    with pytest.raises(Exception) as raised:
        state.result()
    message = str(raised.value)
    assert type(raised.value).__name__ == "UnpicklableValueError"
    assert "node 'guard' of task 'guard' is a _thread.lock, which cannot be pickled" in message
    assert "(--task guard=...)" in message


def test_a_parallelizable_block_runs_inside_its_task_on_the_cluster(
    shell: Any, project: Path, prefect_api: None, on_cluster: str
) -> None:
    cell = textwrap.dedent(
        """
        %%hamilton fanned
        from hamilton.htypes import Collect, Parallelizable


        def items(n: int) -> Parallelizable[int]:
            yield from range(n)


        def squared(items: int) -> int:
            return items * items


        def total(squared: Collect[int]) -> int:
            return sum(squared)


        def after(total: int) -> int:
            return total + 1
        """
    )
    assert run_cell(shell, cell).success
    ws = kit.workspace()
    expected = ws.execute(["total", "after"], inputs={"n": 5})
    ws.promote("fanned_flow", ["total", "after"], tasks="per-output", runner="dask")
    state = run_flow("fanned_flow", n=5)
    assert state.is_completed(), state.message
    assert state.result() == expected == {"total": 30, "after": 31}


def test_the_dask_runner_is_refused_where_prefect_dask_is_missing(
    shell: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    assert run_cell(shell, "%%hamilton one\ndef a() -> int:\n    return 1\n").success
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "prefect_dask" else real(name, *a),
    )
    with pytest.raises(PromoteError, match=r"pip install 'hamilton-notebook-kit\[dask\]'"):
        kit.workspace().promote("one_flow", ["a"], runner="dask")
    assert not (project / "flows" / "one_flow.py").exists()


def test_the_runner_is_part_of_the_promote_line() -> None:
    from kit.grammar import parse_promote_line, promote_line

    line = promote_line("f", ["a"], "per-output", runner="dask")
    assert line == "%hamilton_promote f --outputs a --tasks per-output --runner dask"
    assert parse_promote_line(line)[1]["runner"] == "dask"
    assert "--runner" not in promote_line("f", ["a"], "per-output")


def test_the_widget_promote_tab_offers_the_runner(shell: Any, project: Path) -> None:
    assert run_cell(shell, "%%hamilton one\ndef a() -> int:\n    return 1\n").success
    widget = kit.workspace().widget()
    panel = widget.panel
    assert tuple(panel.runner.options) == ("threads", "dask")
    widget.selected = ["a"]
    panel.flow_name.value = "one_flow"
    panel.runner.value = "dask"
    panel.promote()
    assert panel.promote_error.value == ""
    assert "task_runner=dask_task_runner()" in (project / "flows" / "one_flow.py").read_text()
    assert panel.promote_line.text.endswith("--runner dask")
