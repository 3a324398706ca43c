"""Faults on the Prefect side survived: a task that fails twice then succeeds with --retries 2; the
Prefect server stopping while `kit submit` runs a flow; the process that runs a flow killed with
SIGKILL (and --cache resuming after it); six notebooks validated with --jobs 2 while one hangs.

Real parts only: the retried flow runs in this process on the session's Prefect API; the
submissions run as `python -m kit.cli submit` processes on the project's kit server (a real
`prefect server start` on 127.0.0.1, stopped by its PID); validation runs real papermill kernels.
Nodes count their calls in files under a MARKS folder, and a node that must be caught in flight
writes MARKS/handshake (its PID) and waits for MARKS/go: the test stops the server or kills the
process only once the handshake is there, never after a sleep.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import forget_project_modules, write_project
from loop_examples import export

from kit import server
from kit.project import Project, load_project
from kit.steps import workspace_from_notebook

from .support import write_notebook

SUBMIT_SECONDS = 300  # a whole `kit submit` (validation included) on a loaded machine
GONE_SECONDS = 60  # from the server stopping to `kit submit` exiting
CELL_TIMEOUT = 15  # --timeout of the validation run: a hanging cell is stopped after this
PARAMETERS = 'rows = 4\nmarks = "."'

COUNT = '''\
import os
import time
from pathlib import Path


def _count(marks: str, name: str) -> int:
    """Append a line to MARKS/NAME: how many calls of NAME that makes, this one included."""
    path = Path(marks) / name
    with path.open("a") as stream:
        stream.write("called\\n")
    return len(path.read_text().splitlines())


def _wait_for_go(marks: str) -> None:
    """Write MARKS/handshake (this process's PID, published whole), then wait for MARKS/go."""
    written = Path(marks) / "handshake.tmp"
    written.write_text(str(os.getpid()))
    written.rename(Path(marks) / "handshake")
    while not (Path(marks) / "go").exists():
        time.sleep(0.05)
'''


def hamilton_cell(name: str, body: str) -> str:
    return f"%%hamilton {name}\n{COUNT}\n\n{body}"


SOURCE = """\
def base(rows: int, marks: str) -> list[int]:
    _count(marks, "base")
    return list(range(rows))
"""
FLAKY = '''\
def flaky(base: list[int], marks: str) -> int:
    """Fails on its first two attempts, then gives the sum."""
    attempt = _count(marks, "flaky")
    if attempt <= 2:
        raise RuntimeError(f"attempt {attempt} fails")
    return sum(base)
'''
WAITS = '''\
def waited(base: list[int], marks: str) -> list[int]:
    """Waits, in flight, until the test says go."""
    _count(marks, "waited")
    _wait_for_go(marks)
    return base
'''
SUMMED = """\
def summed(waited: list[int]) -> int:
    return sum(waited)
"""
SCALED = """\
def scaled(base: list[int], marks: str) -> list[int]:
    _count(marks, "scaled")
    return [value * 2 for value in base]
"""
TOTAL = '''\
def total(scaled: list[int], marks: str) -> int:
    """Its first call waits, in flight, until the test says go (the test kills it meanwhile)."""
    if _count(marks, "total") == 1:
        _wait_for_go(marks)
    return sum(scaled)
'''


def fault_notebook(root: Path, flow: str, modules: dict[str, str], promote: str) -> Path:
    """notebooks/FLOW.ipynb: a parameters cell, a cell per module, the promote line."""
    return write_notebook(
        root / "notebooks" / f"{flow}.ipynb",
        "%load_ext kit",
        *(hamilton_cell(name, body) for name, body in modules.items()),
        f"%hamilton_promote {flow} {promote}",
        parameters=PARAMETERS,
    )


def calls(marks: Path) -> dict[str, int]:
    """How many times each counted node ran, from its file under MARKS."""
    return {
        path.name: len(path.read_text().splitlines())
        for path in sorted(marks.iterdir())
        if path.name not in {"handshake", "handshake.tmp", "go"}
    }


def wait_for_handshake(marks: Path, process: subprocess.Popen[str]) -> int:
    """Block until the node in flight wrote MARKS/handshake; its PID. Fails if `process` ends
    first."""
    handshake = marks / "handshake"
    while not handshake.exists():
        try:
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        out, err = process.communicate()
        raise AssertionError(f"kit submit ended before the flow was in flight:\n{out}\n{err}")
    return int(handshake.read_text())


# -- 1. a task that fails twice, then succeeds, with --retries 2 -----------------------------------


def test_a_task_failing_twice_completes_with_retries_2_and_gives_what_execute_gives(
    loop_api: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    monkeypatch.syspath_prepend(str(project))
    (project / "flows" / "__init__.py").touch()
    notebook = fault_notebook(
        project,
        "retried",
        {"retried_source": SOURCE, "retried_flaky": FLAKY},
        "--outputs flaky --tasks by-module --retries 2",
    )
    export(project)
    marks = tmp_path / "marks"
    marks.mkdir()
    forget_project_modules("flows")
    try:
        flow = importlib.import_module("flows.retried").retried
        state = flow(rows=4, marks=str(marks), return_state=True)
    finally:
        forget_project_modules("flows")

    assert state.is_completed(), state.message
    assert calls(marks) == {"base": 1, "flaky": 3}  # the flaky task ran thrice, base once
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:  # the server records task run states from events, a moment after the run
            task_runs = {
                run.name.rsplit("-", 1)[0]: run
                for run in client.read_task_runs(flow_run_filter=flow_runs)
            }
            flaky = task_runs.get("retried_flaky")
            if (flaky and flaky.state and flaky.state.is_final()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert flaky is not None and flaky.state is not None
    assert (flaky.state.name, flaky.run_count) == ("Completed", 3)

    ws = workspace_from_notebook(notebook)
    expected = ws.execute(["flaky"], inputs={"rows": 4, "marks": str(marks)})  # its 4th attempt
    assert state.result() == expected == {"flaky": 6}


# -- the project of the submissions, on its kit server ---------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project whose notebooks own the flows `gone` and `crash`, with its kit server running
    (started here, stopped by its PID at the end)."""
    root = write_project(tmp_path_factory.mktemp("faults") / "project")
    (root / "flows" / "__init__.py").touch()
    fault_notebook(
        root,
        "gone",
        {"gone_source": SOURCE, "gone_waits": WAITS, "gone_sum": SUMMED},
        "--outputs summed --tasks by-module",
    )
    fault_notebook(
        root,
        "crash",
        {"crash_source": SOURCE, "crash_scaled": SCALED, "crash_total": TOTAL},
        "--outputs total --tasks by-module --cache",
    )
    export(root)
    project = load_project(root)
    try:
        server.start(project)
        yield project
    finally:
        found = server.status(project)
        try:
            server.stop(project)
        finally:
            if found is not None and server.status(project) is not None:
                os.killpg(found.pid, signal.SIGKILL)


@pytest.fixture
def running(served: Project) -> Project:
    """The served project with its kit server running (a test that stopped it started it again)."""
    server.start(served)
    return served


def submit_process(project: Project, notebook: str, marks: Path) -> subprocess.Popen[str]:
    """`kit submit NOTEBOOK -p marks MARKS` in its own interpreter (its own Prefect client), on
    the project's kit server."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["TQDM_DISABLE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "kit.cli", "submit", notebook, "-p", "marks", str(marks)],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def submitted(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"kit submit did not end within {timeout} s:\n{out}\n{err}") from None
    return process.returncode, out, err


def flow_run_state(api_url: str, flow_run_id: str) -> str:
    """The state name the server has for the flow run (its REST API, no Prefect client here)."""
    import httpx

    answer = httpx.get(f"{api_url}/flow_runs/{flow_run_id}", timeout=30)
    answer.raise_for_status()
    return str(answer.json()["state"]["name"])


def reported_run(stdout: str, flow: str) -> tuple[str, str]:
    """The run id and state `kit submit` reported for `flow` (`flow F: run 'x' ID: STATE`)."""
    line = next(line for line in stdout.splitlines() if line.startswith(f"flow {flow}: run "))
    words = line.split()
    return words[4].rstrip(":"), words[5]


# -- 2. the Prefect server stopping while a flow runs ----------------------------------------------


def test_the_server_stopping_mid_run_is_one_clear_kit_error_within_a_bound_and_a_rerun_works(
    running: Project, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    process = submit_process(running, "notebooks/gone.ipynb", marks)
    try:
        wait_for_handshake(marks, process)  # the task `gone_waits` is in flight, waiting for go
        stopped = server.stop(running)  # by its PID (process group), as `kit server stop` does
        assert stopped is not None
        since = time.monotonic()
        code, out, err = submitted(process, GONE_SECONDS)
        took = time.monotonic() - since
    finally:
        process.kill()
        process.wait()

    assert code == 1, out + err
    assert took < GONE_SECONDS
    assert "Traceback" not in out + err, out + err
    errors = [line for line in err.splitlines() if line.startswith("kit submit: ")]
    assert len(errors) == 1, err
    (error,) = errors
    assert f"the Prefect server at {stopped.url} (kit server) stopped answering" in error
    assert "while flow gone ran (run '" in error and "kit submit stopped the run" in error
    hint = err.splitlines()[err.splitlines().index(error) + 1]
    assert hint.startswith("  -> start it again with `kit server start`, then submit again"), err
    assert calls(marks) == {"base": 1, "waited": 1}

    (marks / "go").touch()
    server.start(running)  # the server back: the same project, database and kit server state
    code, out, err = submitted(
        submit_process(running, "notebooks/gone.ipynb", marks), SUBMIT_SECONDS
    )
    assert code == 0, out + err
    assert reported_run(out, "gone")[1] == "Completed", out
    assert "1 of 1 flow run completed" in out
    assert calls(marks) == {"base": 2, "waited": 2}


# -- 3. the process that runs a flow killed, and --cache resuming after it -------------------------


def test_a_flow_process_killed_is_reported_crashed_and_the_cached_rerun_resumes_after_it(
    running: Project, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    process = submit_process(running, "notebooks/crash.ipynb", marks)
    try:
        pid = wait_for_handshake(marks, process)  # `crash_total` is in flight, waiting for go
        assert pid != process.pid  # the flow runs in kit submit's Prefect-side child
        os.kill(pid, signal.SIGKILL)
        code, out, err = submitted(process, SUBMIT_SECONDS)
    finally:
        process.kill()
        process.wait()

    assert code == 1, out + err
    run_id, state = reported_run(out, "crash")
    assert state == "Crashed", out
    assert f"the process that ran the flow (PID {pid}) was killed by SIGKILL" in out
    assert "0 of 1 flow run completed" in out
    assert "Traceback" not in out + err, out + err
    api = server.status(running)
    assert api is not None
    assert flow_run_state(api.api_url, run_id) == "Crashed"  # as the server has it
    assert calls(marks) == {"base": 1, "scaled": 1, "total": 1}

    (marks / "go").touch()
    code, out, err = submitted(
        submit_process(running, "notebooks/crash.ipynb", marks), SUBMIT_SECONDS
    )
    assert code == 0, out + err
    assert reported_run(out, "crash")[1] == "Completed", out
    # the tasks that had completed came from their persisted results: not one node of theirs ran
    assert calls(marks) == {"base": 1, "scaled": 1, "total": 2}


# -- 4. six notebooks validated with --jobs 2, one hanging -----------------------------------------


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie nobody reaped yet has ended too)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def test_one_hanging_notebook_of_six_is_stopped_by_the_timeout_and_named_with_its_cell(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path / "project")
    kernel_pid = tmp_path / "kernel.pid"
    for index in range(5):
        write_notebook(root / "notebooks" / f"fine{index}.ipynb", "%load_ext kit", f"x = {index}")
    write_notebook(
        root / "notebooks" / "hangs.ipynb",
        "%load_ext kit",
        f"import os, time\nopen({str(kernel_pid)!r}, 'w').write(str(os.getpid()))\n"
        "while True:\n    time.sleep(0.1)",
        "x = 'never reached'",
    )
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kit.cli",
            "validate",
            "notebooks",
            "--jobs",
            "2",
            "--timeout",
            str(CELL_TIMEOUT),
        ],
        cwd=root,
        env={**os.environ, "TQDM_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=SUBMIT_SECONDS,
    )
    took = time.monotonic() - started

    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    passed = sorted(line.split()[1] for line in lines if line.startswith("PASSED "))
    assert passed == [f"notebooks/fine{index}.ipynb" for index in range(5)], done.stdout
    failed = next(i for i, line in enumerate(lines) if line.startswith("FAILED "))
    assert lines[failed].split()[1] == "notebooks/hangs.ipynb"
    report = "\n".join(lines[failed : failed + 7])
    assert "  cell 1 failed:" in report and "| while True:" in report, report
    assert f"CellTimeoutError: the cell ran longer than {CELL_TIMEOUT} s (--timeout)" in report
    assert "5 of 6 notebooks passed" in lines[-1]
    hung_for = float(lines[failed].split(" in ")[1].split(" s;")[0])
    assert CELL_TIMEOUT <= hung_for < CELL_TIMEOUT + 60, lines[failed]
    assert took < SUBMIT_SECONDS
    assert _gone(int(kernel_pid.read_text())), "the hanging kernel still runs"
    assert "Traceback" not in done.stdout + done.stderr
    assert json.loads((root / "runs" / "notebooks" / "hangs.ipynb").read_text())["cells"]
