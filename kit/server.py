"""The local Prefect APIs kit runs: the kit server, and the embedded API of one submission.

`kit server start|stop|status`: the project's own `prefect server start`, kept in the background.
Its home and SQLite database are the project's .kit/prefect (as the embedded API's are), it listens
on 127.0.0.1, and server.json there records its PID and URL; its output goes to server.log there.
`kit submit` runs on it when it answers. It is stopped by that PID (its process group).

With no server, `kit submit` starts an embedded API for itself (`embedded_api`), as the first thing
it does, and stops it by its PID when the flows are done.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kit.errors import PrefectServerError
from kit.prefect_env import PREFECT_HOME, local_prefect_environment
from kit.project import Project

STATE_FILE = "server.json"
LOG_FILE = "server.log"
START_SECONDS = 120.0
STOP_SECONDS = 30.0
EMBEDDED_STOP_SECONDS = 5.0  # as Prefect waits for its own embedded API
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class ServerStatus:
    """A kit server as its state file records it, and whether its API answers."""

    pid: int
    port: int
    log: Path
    answers: bool

    @property
    def url(self) -> str:
        """The server's address, where its UI is."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def text(self) -> str:
        state = "running" if self.answers else "not answering"
        return f"Prefect server {state} at {self.url} (UI), API {self.api_url}, PID {self.pid}"


def home(project: Project) -> Path:
    """The project's local Prefect home: .kit/prefect."""
    return project.root / PREFECT_HOME


def status(project: Project) -> ServerStatus | None:
    """The project's kit server, or None when none is recorded or its process is gone (the stale
    record is removed)."""
    state = home(project) / STATE_FILE
    try:
        recorded = json.loads(state.read_text())
        pid, port = int(recorded["pid"]), int(recorded["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not _runs_prefect(pid):
        state.unlink(missing_ok=True)
        return None
    return ServerStatus(
        pid=pid,
        port=port,
        log=home(project) / LOG_FILE,
        answers=answers(f"http://127.0.0.1:{port}/api"),
    )


def running_api_url(project: Project) -> str | None:
    """The API URL of the project's kit server when it runs and answers, else None."""
    found = status(project)
    return found.api_url if found is not None and found.answers else None


def start(
    project: Project, port: int | None = None, timeout: float = START_SECONDS
) -> ServerStatus:
    """Start the project's kit server, wait until its API answers; a running one is kept."""
    with _locked(project):
        found = status(project)
        if found is not None:
            return found if found.answers else wait_until_answering(found, timeout)
        chosen = port or _free_port()
        log = home(project) / LOG_FILE
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    *_prefect_command(),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(chosen),
                ],
                cwd=project.root,
                env=local_prefect_environment(project.root),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, which `stop` ends
            )
        started = ServerStatus(pid=process.pid, port=chosen, log=log, answers=False)
        (home(project) / STATE_FILE).write_text(
            json.dumps({"pid": process.pid, "port": chosen, "url": started.url}) + "\n"
        )
        try:
            _wait_until_answering(started, process, timeout)
        except PrefectServerError:
            _end(process.pid)
            (home(project) / STATE_FILE).unlink(missing_ok=True)
            raise
        return ServerStatus(pid=process.pid, port=chosen, log=log, answers=True)


def stop(project: Project, timeout: float = STOP_SECONDS) -> ServerStatus | None:
    """Stop the project's kit server by its PID; the server stopped, or None if none ran."""
    with _locked(project):
        found = status(project)
        if found is not None:
            _end(found.pid, timeout)
        (home(project) / STATE_FILE).unlink(missing_ok=True)
        return found


def answers(api_url: str, timeout: float = 5.0) -> bool:
    """Whether a Prefect API answers its health check at `api_url`."""
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def gone(api_url: str, timeout: float = 5.0) -> bool:
    """Whether nothing listens at `api_url` any more (the connection is refused): a server that
    stopped, not one that is slow to answer (that is not gone)."""
    import httpx

    try:
        httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def wait_until_answering(server: ServerStatus, timeout: float = START_SECONDS) -> ServerStatus:
    """Wait for a kit server that runs but does not answer yet (it is starting, or busy)."""
    _wait_until_answering(server, None, timeout)
    return ServerStatus(pid=server.pid, port=server.port, log=server.log, answers=True)


@dataclass(frozen=True)
class EmbeddedAPI:
    """A submission's own ephemeral Prefect API: the app Prefect's embedded server runs (the API,
    no UI, only the services an ephemeral server runs), on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float  # time.time() when its process started

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def exited(self) -> PrefectServerError | None:
        """The error to report when the API's process has ended, else None."""
        if self.process.poll() is None:
            return None
        errors = [line for line in _tail(self.log).splitlines() if "Error" in line]
        said = f": {errors[-1].strip()}" if errors else ""
        return PrefectServerError(
            f"the embedded Prefect API (PID {self.process.pid}) exited with status "
            f"{self.process.returncode}{said}",
            url=self.api_url,
            pid=self.process.pid,
            hint="`kit server start` starts a server on the same database and shows its log "
            "when it fails; kit submit then runs on it",
        )


# What Prefect runs for an embedded API (prefect.server.api.server.SubprocessASGIServer), started
# here before Prefect is imported: an embedded API then starts while the notebook is validated
# instead of after the Prefect client (and its copy of the server's code) has been imported.
EMBEDDED_APP = "prefect.server.api.server:create_app"
EMBEDDED_ENV = {
    "PREFECT_UI_ENABLED": "false",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}


@contextmanager
def embedded_api(project: Project) -> Iterator[EmbeddedAPI]:
    """Start an embedded API on the project's .kit/prefect database (not waiting for it to
    answer); stop it by its PID when the block ends."""
    with tempfile.TemporaryDirectory(prefix="kit-embedded-api-") as folder:
        log = Path(folder) / "api.log"
        port = _free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", EMBEDDED_APP]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
        started = time.time()
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*command, "--lifespan", "on"],
                cwd=project.root,
                env={**local_prefect_environment(project.root), **EMBEDDED_ENV},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a Ctrl-C of kit submit skips it
            )
        try:
            yield EmbeddedAPI(process=process, port=port, log=log, started=started)
        finally:
            _stop_embedded(process)


def _stop_embedded(process: subprocess.Popen[bytes]) -> None:
    """End the embedded API's process group: SIGTERM, SIGKILL if it has not exited in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=EMBEDDED_STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def _prefect_command() -> list[str]:
    """The `prefect` command of this environment (next to its python), else `python -m prefect`."""
    executable = Path(sys.executable).parent / "prefect"
    return [str(executable)] if executable.is_file() else [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a child of this process that exited is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not a child of this process: ask the system
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now holds that PID
        return False
    return True


def _runs_prefect(pid: int) -> bool:
    """Whether process `pid` runs Prefect (not another program that got the PID); True where
    /proc cannot tell."""
    try:
        return b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _end(pid: int, timeout: float = STOP_SECONDS) -> None:
    """End process group `pid` (the server and its children): SIGTERM, SIGKILL after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
    raise PrefectServerError(
        f"the Prefect server with PID {pid} did not stop", pid=pid, hint=f"kill it: kill -9 {pid}"
    )


def _wait_until_answering(
    server: ServerStatus, process: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise PrefectServerError(
                f"the Prefect server exited (status {process.returncode}) before it answered "
                f"on {server.url}:\n{_tail(server.log)}",
                url=server.url,
                pid=server.pid,
                log=server.log,
                hint=f"see {server.log}; `kit server start --port PORT` picks another port",
            )
        if answers(server.api_url):
            return
        time.sleep(0.25)
    raise PrefectServerError(
        f"the Prefect server (PID {server.pid}) did not answer on {server.url} "
        f"within {timeout:.0f} s",
        url=server.url,
        pid=server.pid,
        log=server.log,
        hint=f"see {server.log}; `kit server stop`, then `kit server start`",
    )


def _tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def _locked(project: Project) -> Iterator[None]:
    """Hold the project's server lock, so two `kit server` commands do not start two servers."""
    import fcntl

    home(project).mkdir(parents=True, exist_ok=True)
    with (home(project) / "server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
