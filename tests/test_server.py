"""`kit server start|stop|status` and `kit submit` on it: real `prefect server start` processes on
127.0.0.1, each stopped by its PID when the test ends (also when it fails).

One server serves the module's submits; the command-line test starts two more (two projects).
What ran is read back from the server with Prefect's client, not from kit's output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest
from conftest import forget_project_modules, write_project
from test_submit import flow_notebook, kit_command

import kit.project
from kit import server
from kit.errors import PrefectServerError
from kit.prefect_env import DEFAULTS, prefect_environment
from kit.project import Project, load_project
from kit.submit import submit

REPEATS = 10


def plain_env(**extra: str) -> dict[str, str]:
    """The environment of a plain shell: no PREFECT_API_URL and none of kit's Prefect defaults."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PREFECT_API_URL" and key not in DEFAULTS
    }
    return {**env, **extra}


@contextmanager
def stopped_at_exit(*projects: Project) -> Iterator[None]:
    """Stop the kit server of each project by its recorded PID when the block ends, however."""
    try:
        yield
    finally:
        for project in projects:
            state = server.home(project) / server.STATE_FILE
            pid = json.loads(state.read_text())["pid"] if state.exists() else None
            try:
                server.stop(project)
            finally:
                if pid is not None and server._alive(pid):
                    os.killpg(pid, signal.SIGKILL)


def pair_project(root: Path) -> Project:
    """A project whose notebook `pair` owns two flows: `pair` (summary) and `pair_total` (total)."""
    write_project(root)
    flow_notebook(root, "pair", "%hamilton_promote pair_total --outputs total")
    done = kit_command(root, "export")
    assert done.returncode == 0, done.stdout + done.stderr
    return load_project(root)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project with its kit server running (started here, stopped by PID at the end)."""
    project = pair_project(tmp_path_factory.mktemp("served") / "project")
    with stopped_at_exit(project):
        server.start(project)
        yield project


@pytest.fixture
def in_served(served: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """The served project as working directory, with no PREFECT_API_URL of the caller."""
    monkeypatch.chdir(served.root)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    yield served
    forget_project_modules()
    kit.project._find_cached.cache_clear()


def read_run(api_url: str, flow_run_id: str):  # type: ignore[no-untyped-def]
    """The flow run as the server at `api_url` has it."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id))


def run_ids(stdout: str, flow: str) -> list[str]:
    """The run ids of `flow` that `kit submit` printed (`flow NAME: run 'x' ID: STATE`)."""
    prefix = f"flow {flow}: run "
    return [line.split()[4].rstrip(":") for line in stdout.splitlines() if line.startswith(prefix)]


# -- kit's Prefect defaults ------------------------------------------------------------------------


def test_kit_fills_in_its_prefect_defaults_but_keeps_what_the_user_set() -> None:
    env = prefect_environment({"PREFECT_LOGGING_LEVEL": "DEBUG", "PATH": "/bin"})
    assert env["PREFECT_LOGGING_LEVEL"] == "DEBUG", "the user's own setting wins"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"  # also ends the telemetry heartbeat
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_SERVER_LOGGING_LEVEL"] == "CRITICAL"
    assert env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "90"
    assert env["PATH"] == "/bin"


# -- start, status, stop -------------------------------------------------------------------------


def test_two_projects_each_start_stop_and_report_their_own_server(tmp_path: Path) -> None:
    roots = [write_project(tmp_path / name) for name in ("one", "two")]
    projects = [load_project(root) for root in roots]
    env = plain_env()
    with stopped_at_exit(*projects):
        starting = [
            subprocess.Popen(
                [str(Path(sys.executable).parent / "kit"), "server", "start"],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for root in roots
        ]
        outputs = [process.communicate(timeout=300) for process in starting]
        for process, (out, err) in zip(starting, outputs, strict=True):
            assert process.returncode == 0, out + err
        found = [server.status(project) for project in projects]
        assert all(status is not None and status.answers for status in found)
        one, two = found
        assert one is not None and two is not None
        assert one.port != two.port and one.pid != two.pid
        for status, (out, _) in zip(found, outputs, strict=True):
            assert status is not None and f"http://127.0.0.1:{status.port}" in out
        environ = Path(f"/proc/{one.pid}/environ").read_bytes().split(b"\0")
        assert b"PREFECT_SERVER_ANALYTICS_ENABLED=false" in environ, "kit's defaults reach it"
        assert f"PREFECT_HOME={roots[0] / '.kit' / 'prefect'}".encode() in environ
        assert (roots[0] / ".kit" / "prefect" / "prefect.db").is_file()
        log = roots[0] / ".kit" / "prefect" / "server.log"
        assert log.stat().st_size > 0, "its output goes to the log file"

        again = kit_command(roots[0], "server", "start", env=env)
        assert again.returncode == 0 and f"http://127.0.0.1:{one.port}" in again.stdout
        assert server.status(projects[0]) == one, "starting twice keeps the running server"

        status = kit_command(roots[1], "server", "status", env=env)
        assert status.returncode == 0 and f"http://127.0.0.1:{two.port}" in status.stdout

        stopped = kit_command(roots[0], "server", "stop", env=env)
        assert stopped.returncode == 0 and f"http://127.0.0.1:{one.port}" in stopped.stdout
        assert not server._alive(one.pid), "stopped by its PID"
        assert not (roots[0] / ".kit" / "prefect" / "server.json").exists()
        status = kit_command(roots[0], "server", "status", env=env)
        assert status.returncode == 1 and "no kit server runs" in status.stdout
        assert server.status(projects[1]) == two, "the other project's server runs on"


def test_a_stale_pid_file_is_cleaned_up(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path / "stale"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    state = server.home(project) / server.STATE_FILE
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": gone.pid, "port": 9, "url": "http://127.0.0.1:9"}))
    done = kit_command(project.root, "server", "status")
    assert done.returncode == 1 and "no kit server runs" in done.stdout
    assert not state.exists(), "the record of a process that is gone is removed"
    assert server.running_api_url(project) is None
    assert server.stop(project) is None


# -- kit submit on the kit server ------------------------------------------------------------------


def test_submit_runs_on_the_kit_server_with_phases_in_order_and_repeated_flow(
    in_served: Project,
) -> None:
    status = server.status(in_served)
    assert status is not None and status.answers
    done = kit_command(
        in_served.root,
        "submit",
        "notebooks/pair.ipynb",
        "--flow",
        "pair_total",
        "--flow",
        "pair",
        env=plain_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    phases = [line for line in done.stdout.splitlines() if line.startswith("==> ")]
    assert phases == [
        "==> validating notebooks/pair.ipynb",
        f"==> using the Prefect server at {status.url} (kit server)",
        "==> running flow pair_total",
        "==> running flow pair",
        "==> done: 2 of 2 flow runs completed",
    ]
    for flow in ("pair", "pair_total"):
        [run_id] = run_ids(done.stdout, flow)
        run = read_run(status.api_url, run_id)
        assert run.state is not None and run.state.is_completed(), "read back from the kit server"
        assert f"{status.url}/runs/flow-run/{run_id}" in done.stdout, "the run's page in the UI"
    assert "Traceback" not in done.stderr and "send_telemetry_heartbeat" not in done.stderr

    one = kit_command(
        in_served.root, "submit", "notebooks/pair.ipynb", "--flow", "pair", env=plain_env()
    )
    assert one.returncode == 0, one.stdout + one.stderr
    assert run_ids(one.stdout, "pair") and not run_ids(one.stdout, "pair_total")


def test_ten_submits_in_a_row_on_the_kit_server_all_complete(in_served: Project) -> None:
    status = server.status(in_served)
    assert status is not None
    from prefect.settings import PREFECT_API_URL, temporary_settings

    notebook = in_served.root / "notebooks" / "pair.ipynb"
    for rows in range(REPEATS):
        with temporary_settings(restore_defaults={PREFECT_API_URL}):  # no harness's API here
            report = submit(notebook, {"rows": rows}, flow="pair", progress=False)
        assert report.completed, report.text()
        [run] = report.runs
        read = read_run(status.api_url, run.id)
        assert read.state is not None and read.state.is_completed()
        assert read.parameters["rows"] == rows


# -- a Prefect that cannot be used -----------------------------------------------------------------


def test_a_prefect_api_url_that_does_not_answer_is_one_clear_error(in_served: Project) -> None:
    url = f"http://127.0.0.1:{server._free_port()}/api"
    done = kit_command(
        in_served.root, "submit", "notebooks/pair.ipynb", env=plain_env(PREFECT_API_URL=url)
    )
    assert done.returncode == 1
    assert f"PREFECT_API_URL is {url}, and no Prefect API answers there" in done.stderr
    assert "kit server start" in done.stderr and "Traceback" not in done.stderr
    assert "==> validating" not in done.stdout, "refused before the notebook ran"
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), pytest.raises(PrefectServerError) as raised:
        submit(in_served.root / "notebooks" / "pair.ipynb", progress=False)
    assert raised.value.url == url


@contextmanager
def database_held(root: Path) -> Iterator[None]:
    """The project's Prefect database locked by another writer: an API on it cannot start."""
    import sqlite3

    database = root / ".kit" / "prefect" / "prefect.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.close()


def test_an_embedded_api_that_starts_too_slowly_is_one_line_naming_kit_server_start(
    tmp_path: Path,
) -> None:
    root = pair_project(tmp_path / "slow").root
    env = plain_env(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    with database_held(root):
        done = kit_command(root, "submit", "notebooks/pair.ipynb", "--flow", "pair", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PASSED notebooks/pair.ipynb" in done.stdout
    assert "==> starting the local Prefect" in done.stdout
    assert "the embedded Prefect API did not start within 1 s" in done.stderr
    assert "kit server start" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_an_embedded_api_that_exits_is_one_line_naming_kit_server_start(tmp_path: Path) -> None:
    root = pair_project(tmp_path / "broken").root
    (root / ".kit" / "prefect" / "prefect.db").mkdir(parents=True)  # no database can open here
    done = kit_command(root, "submit", "notebooks/pair.ipynb", "--flow", "pair", env=plain_env())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PASSED notebooks/pair.ipynb" in done.stdout
    assert "the embedded Prefect API (PID " in done.stderr and "exited with status" in done.stderr
    assert "kit server start" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
