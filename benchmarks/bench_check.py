"""Benchmark `kit check` on the example project (this repository), at a git revision and now.

Each measurement runs `kit check` in a fresh interpreter, with the kit and the project of one
source: a revision (`git archive REV` into a temporary folder, so the kit code and the
generated files are both that revision's) or the working tree. It reports the wall time of the
whole command and, inside it, the time of the drift check itself (after the imports).

Run: .venv/bin/python benchmarks/bench_check.py [--before REV] [--after REV]
(writes benchmarks/results/check.md; REV defaults to the revision before issue 17)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RUNS, Row

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "check.md"
REPEATS = RUNS
BEFORE = "53f1ff6"  # the last commit before issue 17 (node versions, kit diff)

CHECK = """
import json, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from kit.sync import find_drift, select_notebooks
imported = time.perf_counter()
_, notebooks, abandoned = select_notebooks([])
found = find_drift(notebooks, abandoned)
done = time.perf_counter()
print(json.dumps({{"import_ms": (imported - start) * 1000, "check_ms": (done - imported) * 1000,
                  "drifted": len(found)}}))
"""


def run_check(root: Path) -> dict[str, float]:
    """One `kit check` in a fresh interpreter whose kit and project are `root`'s."""
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHECK.format(root=str(root))],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    measured["wall_ms"] = (time.perf_counter() - start) * 1000
    return measured


def medians(roots: list[Path]) -> list[dict[str, float]]:
    """Per root, the medians of REPEATS runs; the roots take turns, so a busy machine slows all."""
    runs: list[list[dict[str, float]]] = [[] for _ in roots]
    for _ in range(REPEATS):
        for index, root in enumerate(roots):
            runs[index].append(run_check(root))
    return [{key: statistics.median(r[key] for r in found) for key in found[0]} for found in runs]


def archive(rev: str, into: Path) -> Path:
    """The tree of `rev` unpacked into `into`."""
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def rows() -> list[Row]:
    """`kit check` on this repository at HEAD beside the same at BEFORE (each with its own kit),
    for `python -m benchmarks`: REPEATS runs each after a warm-up run, taking turns. HEAD, not the
    working tree, which other work may be editing meanwhile."""
    command = ["git", "rev-parse", "--short", "HEAD"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    head = done.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="kit-bench-check-") as folder:
        first = archive(BEFORE, Path(folder) / "before")
        second = archive(head, Path(folder) / "now")
        run_check(first), run_check(second)  # warm-up: bytecode, the file cache
        runs: dict[Path, list[dict[str, float]]] = {first: [], second: []}
        for _ in range(REPEATS):
            for root, found in runs.items():
                found.append(run_check(root))
    before, now = runs[first], runs[second]

    def seconds(found: list[dict[str, float]], key: str) -> tuple[float, ...]:
        return tuple(run[key] / 1000 for run in found)

    drifted = {run["drifted"] for run in now}
    return [
        Row(
            f"`kit check` on the example project at {head} (fresh interpreter, whole command)",
            seconds(now, "wall_ms"),
            f"the same at {BEFORE}, before issue 17's code versions",
            seconds(before, "wall_ms"),
            target=1.1,
            note="no target in issue 16's list: issue 17 (code versions in every header, the DAG "
            "changes kit check lists) is held to at most 10% slower than before it; files "
            f"reported as drifted now: {sorted(drifted)}",
        ),
        Row(
            "`kit check`: the check itself (derive every notebook, compare every file)",
            seconds(now, "check_ms"),
            f"the same at {BEFORE}",
            seconds(before, "check_ms"),
            target=1.1,
            note="the time after `kit.sync`'s imports, inside the same runs",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the revision to compare with")
    parser.add_argument("--after", default=None, help="a revision (default: the working tree)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kit-bench-check-") as folder:
        first = archive(arguments.before, Path(folder) / "before")
        second = archive(arguments.after, Path(folder) / "after") if arguments.after else ROOT
        before, after = medians([first, second])
    now = arguments.after or "working tree"
    rows = [
        ("whole `kit check` (fresh interpreter)", "wall_ms"),
        ("imports of kit.sync", "import_ms"),
        ("the check (derive every notebook, compare every file)", "check_ms"),
    ]
    lines = [
        "# `kit check` benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Medians of {REPEATS} runs, each in a fresh interpreter, before and now taking turns, "
        "on this repository's example project (2 notebooks, 7 modules, 2 flows).",
        "",
        f"| what | before ({arguments.before}) ms | now ({now}) ms | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in rows:
        ratio = after[key] / before[key]
        lines.append(f"| {label} | {before[key]:.0f} | {after[key]:.0f} | {ratio:.2f} |")
    lines += [
        "",
        f"Files reported as drifted: before {before['drifted']:.0f}, now {after['drifted']:.0f}.",
        "",
    ]
    report = "\n".join(lines)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
