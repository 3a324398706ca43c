"""A fresh install: `make install` into an empty venv vs `pip install` of the same requirements.

kit: `make install VENV=<empty folder>/.venv` in this repository (python3 -m venv, pip installs
uv, then `uv pip install --compile-bytecode -e '.[test,examples,dask]'`). Anchor: python3 -m venv,
then `pip install --no-index --find-links WHEELS -e '.[test,examples,dask]'` (pip resolves and
compiles bytecode too), from a folder of every wheel those requirements install, downloaded once
by `pip download` and kept (~/.cache/kit-bench/wheels): pip keeps no HTTP cache on this machine,
so without it every pip run downloaded all of them again (5 min and more, most of it network).
uv's cache is warm from installing .venv: this measures installing, not downloading.

Run: .venv/bin/python benchmarks/bench_install.py  (writes benchmarks/results/install.md)
"""

from __future__ import annotations

import hashlib
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
WHEELS = Path.home() / ".cache" / "kit-bench" / "wheels"
BUILD = "setuptools>=68"  # pyproject's build requirement, which the editable install builds with


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


def wheelhouse() -> Path:
    """WHEELS, holding every wheel of `.[EXTRAS]` and the build requirement for this
    pyproject.toml (downloaded the first time, untimed)."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    done = WHEELS / f".complete-{digest}"
    if done.exists():
        return WHEELS
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-wheels-"))
    venv = folder / ".venv"
    WHEELS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        timed_command(
            ["python3", "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "download", "--quiet", "-d", str(WHEELS), BUILD],
            [str(venv / "bin" / "pip"), "download", "--quiet", "-d", str(WHEELS), f".[{EXTRAS}]"],
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"wheels downloaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    done.touch()
    return WHEELS


def pip_install() -> float:
    wheels = wheelhouse()
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-pip-"))
    venv = folder / ".venv"
    offline = ["--no-index", "--find-links", str(wheels)]
    try:
        return timed_command(
            ["python3", "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "--quiet", *offline, "-e", f".[{EXTRAS}]"],
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
            f"python3 -m venv + `pip install -e .[{EXTRAS}]` from the downloaded wheels",
            tuple(pip),
            target=0.3,
            note=f"installing, not downloading: uv's cache warm, pip from a folder of the wheels "
            f"(`--no-index --find-links`); {RUNS} run(s) each, not 5 after a warm-up: one pip "
            "install takes minutes here, more than the 20-minute budget leaves "
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
