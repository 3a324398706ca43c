"""The README stays true: its `<!-- runnable -->` blocks, pasted in order into ONE shell, run clean.

They start where a newcomer stands after `make demo`: in a fresh copy of the repository (its
committed files), whose `.venv` is the one `make demo` made (here, the test environment's), with
a PATH that holds nothing of that venv until the README's own lines put it there.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from conftest import REPO

MARK = re.compile(r"<!-- runnable -->\s*```bash\n(.*?)```", re.DOTALL)
RUN_PAGE = re.compile(r"http://127\.0\.0\.1:\d+/runs/flow-run/[0-9a-f-]{36}")


def runnable_blocks() -> list[str]:
    return MARK.findall((REPO / "README.md").read_text())


def test_the_tour_is_marked_from_activation_to_submit() -> None:
    script = "\n".join(runnable_blocks())
    assert script.startswith("source .venv/bin/activate")
    assert script.count("cd ") == 1, "the tour is one shell session: it changes folder once"
    for step in ("kit init", "kit server start", "kit submit", "kit server stop"):
        assert step in script


def fresh_copy(destination: Path) -> Path:
    """The repository's committed files, as a clone has them, with the test venv as its .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv").symlink_to(Path(sys.prefix))
    return destination


def newcomer_environment() -> dict[str, str]:
    """The caller's environment without the venv on PATH and without kit's test settings."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIT_"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, "PATH": os.pathsep.join(path)}


def test_the_tour_runs_in_one_shell_as_written(tmp_path: Path) -> None:
    clone = fresh_copy(tmp_path / "kit")
    env = newcomer_environment()
    assert shutil.which("kit", path=env["PATH"]) is None, "kit must not be on PATH before the tour"
    script = "set -euo pipefail\n" + "\n".join(runnable_blocks())
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True
        )
    finally:
        _stop_left_server(clone / "tour")
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"the README tour failed:\n{script}\n{output}"
    project = clone / "tour"
    assert (project / "flows" / "sensor_means.py").is_file()
    assert "mean_by_sensor" in (project / "dag.html").read_text()
    assert "Completed" in done.stdout
    assert RUN_PAGE.search(done.stdout), "kit submit points to the run's page in the Prefect UI"
    assert not (project / ".kit" / "prefect" / "server.json").exists(), "kit server stop ran"


def _stop_left_server(project: Path) -> None:
    """A server the tour started and did not stop (it failed half-way) is ended by its PID."""
    import json

    state = project / ".kit" / "prefect" / "server.json"
    if state.is_file():
        pid = json.loads(state.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
