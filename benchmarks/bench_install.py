"""A fresh install: `make install` into an empty venv vs `pip install` of the same requirements.

kit: `make install VENV=<empty folder>/.venv` in this repository (python3 -m venv, pip installs
uv, then `uv pip install --compile-bytecode -e '.[test,examples,dask]'`). Anchor: python3 -m venv,
then `pip install -e '.[test,examples,dask]'` (pip compiles bytecode too). Both use the package
registries this machine is configured with, and their caches are warm (uv's from installing
.venv, pip's from an earlier run): this measures installing, not downloading.

Run: .venv/bin/python benchmarks/bench_install.py  (writes benchmarks/results/install.md)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import Row, table

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "install.md"
EXTRAS = "test,examples,dask"
RUNS = int(os.environ.get("KIT_BENCH_INSTALL_RUNS", "1"))  # a pip install takes minutes


def timed_command(*commands: list[str]) -> float:
    started = time.perf_counter()
    for command in commands:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def make_install() -> float:
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-install-"))
    try:
        return timed_command(["make", "--no-print-directory", "install", f"VENV={folder}/.venv"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pip_install() -> float:
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-pip-"))
    venv = folder / ".venv"
    try:
        return timed_command(
            ["python3", "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "--quiet", "-e", f".[{EXTRAS}]"],
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rows() -> list[Row]:
    kit: list[float] = []
    pip: list[float] = []
    for _ in range(RUNS):
        kit.append(make_install())
        pip.append(pip_install())
    return [
        Row(
            f"fresh install: `make install` into an empty venv (uv, bytecode, .[{EXTRAS}])",
            tuple(kit),
            f"python3 -m venv + `pip install -e .[{EXTRAS}]`",
            tuple(pip),
            target=0.3,
            note=f"warm caches (uv's and pip's, from earlier installs of the same requirements): "
            f"installing, not downloading; {RUNS} run(s) each, no warm-up run beyond those "
            "earlier installs, because one pip install takes minutes on this loaded machine "
            "(KIT_BENCH_INSTALL_RUNS=5 for more)",
        )
    ]


def record(found: list[Row]) -> None:
    """results/install.md from the rows."""
    RESULTS.write_text(f"# Fresh install ({os.cpu_count()} cores)\n\n{table(found)}\n")


def main() -> None:
    record(rows())
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
