"""`kit submit` / kit.submit: validation first, then the notebook's flows on a real Prefect.

Submissions go to the embedded default (an ephemeral API whose SQLite database is under the
project) and to a real `prefect server start` on 127.0.0.1 that this module starts and stops by
its PID; `--deploy` goes to that server with a process work pool and a worker started here. What
ran is read back from Prefect (its client, or the embedded SQLite file), not from kit's output.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import nbformat
import pytest
from conftest import forget_project_modules, write_project
from test_validate import write_notebook

import kit
import kit.project
from kit.parameters import UnknownParameterError
from kit.promote.plan import make_plan
from kit.steps import workspace_from_notebook
from kit.submit import SubmitError, ValidationFailedError, config_from_parameters, owned_flows

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 120


def flow_notebook(
    root: Path, name: str, *extra: str, first: str | None = None, promote_line: bool = True
) -> Path:
    """A notebook with modules NAME_data and NAME_report, the flow NAME over them, then `extra`
    cells (and the cell `first` right after the parameters cell)."""
    cells = [
        *([first] if first else []),
        "%load_ext kit",
        "%hamilton_config scale=$scale_factor",
        f"%%hamilton {name}_data\n"
        "def base(rows: int) -> list[int]:\n    return list(range(rows))\n\n\n"
        "def total(base: list[int], scale: int) -> int:\n    return sum(base) * scale\n",
        f"%%hamilton {name}_report\n"
        'def summary(total: int) -> str:\n    return f"total={total}"\n',
    ]
    if promote_line:
        cells.append(f"%hamilton_promote {name} --outputs summary --tasks by-module")
    return write_notebook(
        root / "notebooks" / f"{name}.ipynb",
        *cells,
        *extra,
        parameters="rows = 4\nscale_factor = 1",
    )


def kit_command(
    root: Path, *args: str, env: dict[str, str] | None = None, **options
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kit"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )


@pytest.fixture(scope="module")
def submit_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose notebooks own flows: one that passes, and one per way validation fails."""
    root = write_project(tmp_path_factory.mktemp("submit") / "project")
    # `totals` has no promote line: its flow is promoted from the command line (as the widget's
    # button does), so a validation run with another scale_factor writes no flow of its own
    flow_notebook(root, "totals", promote_line=False)
    flow_notebook(root, "raises", "assert rows < 5, f'rows={rows} is too many'")
    flow_notebook(root, "slow", first="import time\ntime.sleep(120)")
    flow_notebook(root, "dies", "import os\nos._exit(3)")
    drifts = flow_notebook(root, "drifts")
    write_notebook(root / "notebooks" / "no_flow.ipynb", "x = 1")
    done = kit_command(
        root,
        "promote",
        "notebooks/totals.ipynb",
        "totals",
        "--outputs",
        "summary",
        "--tasks",
        "by-module",
    )
    assert done.returncode == 0, done.stderr
    done = kit_command(root, "export")
    assert done.returncode == 0, done.stdout + done.stderr
    source = nbformat.read(drifts, as_version=4)
    data_cell = next(
        cell for cell in source.cells if cell.source.startswith("%%hamilton drifts_data")
    )
    data_cell.source = data_cell.source.replace(
        "return sum(base) * scale", "return sum(base) * scale + 1"
    )
    nbformat.write(source, drifts)
    return root


@pytest.fixture
def in_project(submit_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The submit project as working directory, with its `modules` forgotten before and after."""
    monkeypatch.chdir(submit_project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    yield submit_project
    forget_project_modules()
    kit.project._find_cached.cache_clear()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll the server's health endpoint until it answers; fail if it exits or never answers."""
    import httpx

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"prefect server exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop a process this module started, as Ctrl-C would (Prefect's worker and server shut
    down cleanly)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `prefect server start` on a free 127.0.0.1 port, a home of its own; its API URL."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home)
    log = home / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, url, log)
        yield url
    finally:
        _stop(process)


@pytest.fixture
def server_client(prefect_server: str):
    """A synchronous Prefect client of the test server (and its URL as this process's setting)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: prefect_server}),
        get_client(sync_client=True) as client,
    ):
        yield client


def _server_env(url: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": url}


def _task_names(client, flow_run_id: UUID) -> list[str]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    )
    return sorted(
        run.name.rsplit("-", 1)[0] for run in runs if run.state and run.state.is_completed()
    )


def _planned_tasks(notebook: Path) -> list[str]:
    ws = workspace_from_notebook(notebook)
    return sorted(task.name for task in make_plan(ws.graph(), ["summary"], "by-module").tasks)


def _flow_runs(client) -> list:
    return client.read_flow_runs()


# -- what is submitted -----------------------------------------------------------------------------


def test_a_notebook_owns_the_flows_whose_header_names_it(in_project: Path) -> None:
    notebook = in_project / "notebooks" / "totals.ipynb"
    assert owned_flows(kit.project.require_project(in_project), notebook) == {
        "totals": in_project / "flows" / "totals.py"
    }
    assert config_from_parameters(notebook, {"scale_factor": 3, "rows": 6}) == {"scale": 3}
    assert config_from_parameters(notebook, {"rows": 6}) == {}


def test_a_notebook_that_owns_no_flow_is_an_error(in_project: Path) -> None:
    with pytest.raises(SubmitError, match="owns no flow") as raised:
        kit.submit(in_project / "notebooks" / "no_flow.ipynb", progress=False)
    assert "%hamilton_promote" in str(raised.value)
    with pytest.raises(SubmitError, match="owns no flow 'other'; it owns totals"):
        kit.submit(in_project / "notebooks" / "totals.ipynb", flow="other", progress=False)


def test_deploy_needs_a_pool_and_a_server(in_project: Path) -> None:
    with pytest.raises(SubmitError, match="--deploy needs --pool"):
        kit.submit(in_project / "notebooks" / "totals.ipynb", deploy=True, progress=False)
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(in_project / ".kit" / "user-home")
    done = kit_command(
        in_project, "submit", "notebooks/totals.ipynb", "--deploy", "--pool", "p", env=env
    )
    assert done.returncode == 1 and "PREFECT_API_URL is not set" in done.stderr
    assert not (in_project / "runs" / "notebooks" / "totals.ipynb").exists(), (
        "refused before validating"
    )


# -- validation failures submit nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "ename", "index"),
    [
        ("raises", {"parameters": {"rows": 7}}, "AssertionError", 6),
        ("slow", {"timeout": 3}, "CellTimeoutError", 1),
        ("dies", {}, "DeadKernelError", 6),
    ],
)
def test_a_notebook_that_fails_its_run_submits_nothing(
    in_project: Path, server_client, name: str, options: dict, ename: str, index: int
) -> None:
    before = len(_flow_runs(server_client))
    with pytest.raises(ValidationFailedError) as raised:
        kit.submit(in_project / "notebooks" / f"{name}.ipynb", progress=False, **options)
    [result] = raised.value.report
    assert result.failure is not None and result.failure.ename == ename
    assert result.failure.index == index
    assert "nothing was submitted" in str(raised.value)
    assert len(_flow_runs(server_client)) == before


def test_a_drifted_notebook_submits_nothing(in_project: Path, server_client) -> None:
    before = len(_flow_runs(server_client))
    with pytest.raises(ValidationFailedError) as raised:
        kit.submit(in_project / "notebooks" / "drifts.ipynb", progress=False)
    [result] = raised.value.report
    # the kernel's %hamilton_promote checks the module its flow imports, and may not rewrite it
    assert result.failure is not None and result.failure.index == 5
    assert result.failure.ename == "GeneratedFileError"
    assert (
        "modules/drifts_data.py" in result.failure.evalue and "kit export" in result.failure.evalue
    )
    assert len(_flow_runs(server_client)) == before


def test_an_unknown_parameter_submits_nothing(in_project: Path, server_client) -> None:
    before = len(_flow_runs(server_client))
    with pytest.raises(UnknownParameterError, match="rowz"):
        kit.submit(in_project / "notebooks" / "totals.ipynb", {"rowz": 1}, progress=False)
    assert len(_flow_runs(server_client)) == before


def test_the_command_line_says_nothing_was_submitted(in_project: Path, prefect_server: str) -> None:
    done = kit_command(
        in_project,
        "submit",
        "notebooks/raises.ipynb",
        "-p",
        "rows",
        "9",
        env=_server_env(prefect_server),
    )
    assert done.returncode == 1
    assert "cell 6 failed" in done.stdout and "AssertionError: rows=9 is too many" in done.stdout
    assert "nothing was submitted" in done.stderr
    assert "Prefect:" not in done.stdout


# -- runs ------------------------------------------------------------------------------------------


def test_submit_to_a_server_runs_the_validated_parameters(in_project: Path, server_client) -> None:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    notebook = in_project / "notebooks" / "totals.ipynb"
    report = kit.submit(notebook, {"rows": 6, "scale_factor": 3}, progress=False)
    assert report.completed and report.validation.passed
    [run] = report.runs

    flow_run = server_client.read_flow_run(UUID(run.id))
    assert flow_run.state is not None and flow_run.state.is_completed()
    assert flow_run.parameters["rows"] == 6
    assert flow_run.parameters["hamilton_config"] == {"scale": 3}, (
        "the config key the notebook takes from $scale_factor"
    )
    assert (
        _task_names(server_client, flow_run.id)
        == _planned_tasks(notebook)
        == ["totals_data", "totals_report"]
    )
    [artifact] = server_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]),
            key=ArtifactFilterKey(any_=["kit-validation"]),
        )
    )
    assert artifact.type == "markdown"
    assert str(in_project / "runs" / "notebooks" / "totals.ipynb") in artifact.data
    assert "notebooks/totals.ipynb`: passed" in artifact.data


def test_the_command_line_submits_to_the_server_with_flow_param_overrides(
    in_project: Path, prefect_server: str, server_client
) -> None:
    done = kit_command(
        in_project,
        "submit",
        "notebooks/totals.ipynb",
        "-p", "rows", "5",
        "-p", "scale_factor", "2",
        "--flow", "totals",
        "--flow-param", "rows", "9",
        env=_server_env(prefect_server),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED notebooks/totals.ipynb" in done.stdout
    line = next(line for line in done.stdout.splitlines() if line.startswith("flow totals: run "))
    assert line.endswith(": Completed")
    flow_run_id = UUID(line.split()[4].rstrip(":"))
    flow_run = server_client.read_flow_run(flow_run_id)
    assert flow_run.parameters["rows"] == 9 and flow_run.parameters["hamilton_config"] == {
        "scale": 2
    }
    assert f"/runs/flow-run/{flow_run_id}" in done.stdout, (
        "the server's UI answers, so the run's URL is shown"
    )
    for task in ("totals_data", "totals_report"):
        assert f"task {task}-" in done.stdout


def test_a_run_that_does_not_complete_is_reported_and_a_wrong_flow_param_is_refused(
    in_project: Path, server_client
) -> None:
    notebook = in_project / "notebooks" / "totals.ipynb"
    with pytest.raises(
        SubmitError,
        match="flow totals has no parameter nope; its parameters are rows, hamilton_config",
    ):
        kit.submit(
            notebook, flow_parameters={"nope": 1}, out=in_project / "refused-runs", progress=False
        )
    assert not (in_project / "refused-runs").exists(), "refused before validation ran"

    report = kit.submit(notebook, flow_parameters={"rows": "many"}, progress=False)
    assert not report.completed
    [run] = report.runs
    flow_run = server_client.read_flow_run(UUID(run.id))
    assert flow_run.state is not None and flow_run.state.is_failed() and run.state == "Failed"
    assert "rows" in (flow_run.state.message or "")
    assert ": Failed" in report.runs_text() and "0 of 1 flow run completed" in report.runs_text()


def test_submit_to_the_embedded_default_keeps_prefect_under_the_project(
    in_project: Path, tmp_path: Path
) -> None:
    user_home = tmp_path / "home-prefect"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(user_home)
    done = kit_command(in_project, "submit", "notebooks/totals.ipynb", "-p", "rows", "3", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Prefect: embedded" in done.stdout and "1 of 1 flow run completed" in done.stdout

    database = in_project / ".kit" / "prefect" / "prefect.db"
    assert database.is_file()
    assert not user_home.exists() or not any(user_home.iterdir()), (
        "nothing in the user's Prefect home"
    )
    with sqlite3.connect(database) as db:
        [(flow_run_id, state, parameters)] = db.execute(
            "SELECT flow_run.id, flow_run.state_name, flow_run.parameters FROM flow_run "
            "JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = 'totals'"
        ).fetchall()
        tasks = sorted(
            row[0].rsplit("-", 1)[0]
            for row in db.execute("SELECT name FROM task_run WHERE flow_run_id = ?", (flow_run_id,))
        )
        [(kind, data)] = db.execute(
            "SELECT type, data FROM artifact WHERE key = 'kit-validation' AND flow_run_id = ?",
            (flow_run_id,),
        ).fetchall()
    assert state == "Completed"
    assert json.loads(parameters)["rows"] == 3
    assert tasks == ["totals_data", "totals_report"]
    assert kind == "markdown" and "runs/notebooks/totals.ipynb" in json.loads(data)
    assert flow_run_id.replace("-", "") in done.stdout.replace("-", "")


def test_deploy_creates_the_pool_and_the_deployment_and_a_worker_runs_it(
    in_project: Path, prefect_server: str, server_client, tmp_path: Path
) -> None:
    from prefect.exceptions import ObjectNotFound

    pool = "kit-test-pool"
    with pytest.raises(ObjectNotFound):
        server_client.read_work_pool(pool)
    env = _server_env(prefect_server)
    submitting = subprocess.Popen(
        [
            str(BIN / "kit"),
            "submit",
            "notebooks/totals.ipynb",
            "-p",
            "rows",
            "7",
            "--deploy",
            "--pool",
            pool,
        ],
        cwd=in_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker_log = tmp_path / "worker.log"
    worker = None
    try:
        deployment = _wait_for_deployment(server_client, "totals/totals", submitting)
        assert server_client.read_work_pool(pool).type == "process", "kit created the process pool"
        assert deployment.work_pool_name == pool
        assert deployment.entrypoint == "flows/totals.py:totals"
        assert deployment.parameters["rows"] == 7
        with worker_log.open("wb") as output:
            worker = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", pool],
                cwd=tmp_path,
                env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1"},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        out, _ = submitting.communicate(timeout=300)
    finally:
        if submitting.poll() is None:
            _stop(submitting)
        if worker is not None:
            _stop(worker)
    assert submitting.returncode == 0, out + worker_log.read_text()
    line = next(
        line
        for line in out.splitlines()
        if line.startswith("flow totals (deployment totals/totals): run ")
    )
    flow_run = server_client.read_flow_run(UUID(line.split()[6].rstrip(":")))
    assert flow_run.deployment_id == deployment.id
    assert flow_run.state is not None and flow_run.state.is_completed()
    assert flow_run.parameters["rows"] == 7
    assert _task_names(server_client, flow_run.id) == ["totals_data", "totals_report"]


def _wait_for_deployment(client, name: str, submitting: subprocess.Popen[str]):
    """Poll the server until `kit submit --deploy` has created the deployment (it then waits for
    a worker)."""
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if submitting.poll() is not None:
            pytest.fail(
                "kit submit --deploy exited early:\n"
                + (submitting.stdout.read() if submitting.stdout else "")
            )
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            time.sleep(0.5)
    pytest.fail("kit submit --deploy created no deployment within 300 s")
