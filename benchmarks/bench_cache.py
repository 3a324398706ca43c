"""Benchmark --cache: what per-task cache keys and persisted results cost, and what they save.

The DAG is bench_promote's chain of 16 stages (about 2 s of numpy work in all, each stage passing
a 1M-row DataFrame to the next), promoted by module into 16 Prefect tasks twice: without --cache
and with it. On one ephemeral Prefect API, interleaved run by run:

- without --cache:         the anchor (NO_CACHE, nothing persisted)
- --cache, first run:      every task computes and persists its result (.kit/results emptied first)
- --cache, second run:     every task's key is found, nothing computes
- pull:                    `kit.pull.pull` of a --cache run (16 task results read back) beside
                           running the flow again without the cache

Run: .venv/bin/python benchmarks/bench_cache.py  (writes benchmarks/results/cache.md); its rows
are also part of `make bench`.
"""

from __future__ import annotations

import functools
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_promote import (
    ROWS,
    STAGES,
    calibrate_rounds,
    forget,
    groups,
    module_source,
    stage_name,
)
from harness import RUNS, Row, spread, table

RESULTS = Path(__file__).parent / "results" / "cache.md"


def _project() -> Path:
    """A fresh kit project as working directory, on sys.path."""
    root = Path(tempfile.mkdtemp(prefix="kit-bench-cache-"))
    (root / "pyproject.toml").write_text("[tool.kit]\n")
    for folder in ("modules", "flows"):
        (root / folder).mkdir()
        (root / folder / "__init__.py").touch()
    os.chdir(root)
    sys.path.insert(0, str(root))
    return root


def _timed(run: Callable[[], object], before: Callable[[], object] = lambda: None) -> float:
    before()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure() -> dict[str, Any]:
    """The wall times of every variant, in seconds, and the figures the results file states."""
    from prefect.testing.utilities import prefect_test_harness

    from kit.promote import promote
    from kit.pull import pull
    from kit.workspace import reset_workspace

    root = _project()
    rounds = calibrate_rounds()
    ws = reset_workspace()
    for name, stages in groups(STAGES):
        ws.add_cell(name, module_source(stages, rounds))
    last = stage_name(STAGES - 1)
    promote(ws, "plain_16", [last], "by-module")
    promote(ws, "cached_16", [last], "by-module", cache=True)
    results = root / ".kit" / "results"
    with prefect_test_harness(server_startup_timeout=300):
        forget("modules")
        forget("flows")
        plain = importlib.import_module("flows.plain_16").plain_16
        cached = importlib.import_module("flows.cached_16").cached_16
        plain(rows=ROWS)  # warm-up: imports, the API's first answers
        cached(rows=ROWS)
        times: dict[str, list[float]] = {"plain": [], "first": [], "second": [], "pull": []}
        for _ in range(RUNS):
            times["plain"].append(_timed(lambda: plain(rows=ROWS)))
            times["first"].append(
                _timed(lambda: cached(rows=ROWS), lambda: shutil.rmtree(results, True))
            )
            state = cached(rows=ROWS, return_state=True)
            run_id = str(state.state_details.flow_run_id)
            times["second"].append(_timed(lambda: cached(rows=ROWS)))
            times["pull"].append(_timed(functools.partial(pull, ws, run_id)))
        stored = sum(path.stat().st_size for path in results.iterdir())
    return {"times": times, "rounds": rounds, "stored": stored}


def rows_of(measured: dict[str, Any]) -> list[Row]:
    times = {name: tuple(values) for name, values in measured["times"].items()}
    anchor = f"{STAGES}-task flow without --cache"
    return [
        Row(
            f"{STAGES}-task flow, --cache, second run (every task cached)",
            times["second"],
            anchor,
            times["plain"],
            0.2,
        ),
        Row(
            f"{STAGES}-task flow, --cache, first run (keys computed, results persisted)",
            times["first"],
            anchor,
            times["plain"],
            1.3,
            note=f"{measured['stored'] / 1e6:.0f} MB of results in .kit/results",
        ),
        Row(
            f"pull a run of the {STAGES}-task flow (every task's result read back)",
            times["pull"],
            "running the flow again",
            times["plain"],
            1.0,
        ),
    ]


def rows() -> list[Row]:
    """The rows `python -m benchmarks` reports."""
    return rows_of(measure())


def write_results(measured: dict[str, Any], found: list[Row]) -> None:
    times = measured["times"]
    lines = [
        "# --cache: per-task cache keys and persisted results",
        "",
        f"bench_promote's chain of {STAGES} stages ({measured['rounds']} rounds of numpy work "
        f"each), each passing a {ROWS:,}-row DataFrame to the next, promoted by module into "
        f"{STAGES} Prefect tasks with and without --cache. Wall time of a flow call, median of "
        f"{RUNS} runs (min-max), the variants interleaved run by run in one process against one "
        f"ephemeral Prefect API; {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}.",
        "Run `.venv/bin/python benchmarks/bench_cache.py` to regenerate this file.",
        "",
        table(found),
        "",
        "| variant | wall time |",
        "| --- | --- |",
        *(f"| {name} | {spread(tuple(values))} |" for name, values in times.items()),
        "",
        "Reading these: a cached second run still starts the flow, computes each task's key "
        "(the code versions of its nodes and their upstream, read once per process from the "
        "driver, and the inputs they use) and reads every result back from disk (Prefect loads a "
        "cached value so that downstream tasks and the flow's return get it). The first run "
        "pays for pickling and writing each task's DataFrame.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> None:
    measured = measure()
    write_results(measured, rows_of(measured))
    print(RESULTS.read_text())


if __name__ == "__main__":
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="kit-bench-prefect-"))
    main()
