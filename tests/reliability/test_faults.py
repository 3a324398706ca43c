"""Faults survived by `kit export`: killed with SIGKILL in the middle of a write, and two exports
at once on one project.

The export runs in a child interpreter whose `os.replace` (the atomic rename that publishes a
written file) first waits for a handshake: it creates PAUSED, then waits until GO exists. The
test kills or releases the child only once PAUSED is there, so no sleep hides a race.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import write_project

from .support import tree_hash, write_notebook

PAUSING_EXPORT = """\
import os, sys, time
from pathlib import Path
paused, go = Path(sys.argv[1]), Path(sys.argv[2])
publish = os.replace
def paused_replace(source, target):
    if str(target).endswith(".py"):
        paused.touch()
        while not go.exists():
            time.sleep(0.01)
    publish(source, target)
os.replace = paused_replace
from kit.cli import main
sys.exit(main(["export"]))
"""
OLD = "%%hamilton prep\ndef base() -> int:\n    return 1\n"
NEW = "%%hamilton prep\ndef base() -> int:\n    return 2\n"
WAIT_SECONDS = 120


def _export(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kit.cli", *argv],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )


def _paused_export(root: Path, tag: str) -> tuple[subprocess.Popen[str], Path, Path]:
    """A `kit export` child that stops right before publishing its first file."""
    paused, go = root.parent / f"{tag}.paused", root.parent / f"{tag}.go"
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSING_EXPORT, str(paused), str(go)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, paused, go


def _wait_for(path: Path, child: subprocess.Popen[str]) -> None:
    """Block until `path` exists (the child's handshake), failing if the child ends first."""
    while not path.exists():
        try:
            child.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"the export ended before pausing: {child.communicate()}")


def test_kill_9_in_the_middle_of_a_write_keeps_the_previous_file_and_the_next_export_works(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path / "project")
    notebook = write_notebook(root / "notebooks" / "nb.ipynb", OLD)
    assert _export(root, "export").returncode == 0
    module = root / "modules" / "prep.py"
    previous = module.read_bytes()
    write_notebook(notebook, NEW)

    child, paused, _ = _paused_export(root, "killed")
    try:
        _wait_for(paused, child)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert module.read_bytes() == previous, "the killed export damaged the previous file"
    compile(module.read_text(), str(module), "exec")

    again = _export(root, "export")
    assert again.returncode == 0, again.stderr
    assert "return 2" in module.read_text()
    checked = _export(root, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_two_exports_at_once_end_with_one_consistent_set_of_files(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project")
    write_notebook(
        root / "notebooks" / "nb.ipynb",
        OLD,
        "%%hamilton more\ndef doubled(base: int) -> int:\n    return base * 2\n",
        "%hamilton_promote f --outputs doubled",
    )
    first, paused, go = _paused_export(root, "first")
    try:
        _wait_for(paused, first)  # the first holds the project lock, mid-write
        second = subprocess.Popen(
            [sys.executable, "-m", "kit.cli", "export"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            go.touch()
            first_out = first.communicate(timeout=WAIT_SECONDS)
            second_out = second.communicate(timeout=WAIT_SECONDS)
        finally:
            second.kill()
    finally:
        first.kill()
        first.communicate()
    assert (first.returncode, second.returncode) == (0, 0), (first_out, second_out)
    files = tree_hash(root)
    assert {"modules/prep.py", "modules/more.py", "flows/f.py", "flows/_runtime.py"} <= set(files)
    assert not [name for name in files if name.endswith(".tmp")], files
    checked = _export(root, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
