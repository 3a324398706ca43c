"""Benchmark --cache: what per-task cache keys and persisted results cost, and what they save.

Two chains, each promoted by module (one Prefect task per stage) without --cache and with it:

- compute-heavy, small data (what a cached rerun is for): 8 stages of ~0.75 s of numpy work
  each on a 1M-element array made inside the stage, each handing the next only 1,000 floats;
- data-heavy: bench_promote's chain of 16 stages (about 2 s of numpy work in all), each passing
  a 1,000,000-row DataFrame to the next (350 MB of persisted results in all).

For each chain, on one Prefect API, interleaved run by run after a warm-up of both flows:

- without --cache:      the plain flow (NO_CACHE, nothing persisted)
- --cache, first run:   every task computes and persists its result (.kit/results emptied first)
- --cache, second run:  every task's key is found, nothing computes (results read back)
- pull:                 `kit.pull.pull` of the first run (every task's result read back), beside
                        running the flow again without the cache

Run: .venv/bin/python benchmarks/bench_cache.py  (writes benchmarks/results/cache.md); its rows
are also part of `make bench`. `--profile` writes a cProfile of the data-heavy first and second
runs to benchmarks/results/cache-profile.txt instead.
"""

from __future__ import annotations

import cProfile
import functools
import importlib
import io
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
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
from harness import RUNS, Row, flow_run, prefect_api, spread, table

RESULTS = Path(__file__).parent / "results" / "cache.md"
PROFILE_ROWS = 1_000_000  # the frame of the profiled data-heavy chain (350 MB of results)
PROFILE = Path(__file__).parent / "results" / "cache-profile.txt"
SMALL_STAGES = 8
SMALL_SECONDS = 0.75  # of numpy work per compute-heavy stage
SMALL_SIZE = 1_000_000  # elements of the array a compute-heavy stage works on
SMALL_OUT = 1_000  # floats a compute-heavy stage hands on


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


def small_rounds() -> int:
    """Rounds of numpy work on SMALL_SIZE elements that take about SMALL_SECONDS."""
    import numpy as np

    values = np.linspace(0.0, 1.0, SMALL_SIZE)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            values = np.sqrt(values * values + 1.0) - 0.5
        timings.append((time.perf_counter() - start) / 10)
    return max(1, round(SMALL_SECONDS / statistics.median(timings)))


def small_source(index: int, rounds: int) -> str:
    """One compute-heavy stage: a big array made and worked on inside it, 1,000 floats out."""
    name = f"heavy_{index:02d}"
    if index == 0:
        head, seed = f"def {name}(size: int) -> np.ndarray:", "0.0"
    else:
        previous = f"heavy_{index - 1:02d}"
        head, seed = (
            f"def {name}({previous}: np.ndarray, size: int) -> np.ndarray:",
            (f"float({previous}.mean())"),
        )
    return "\n".join(
        [
            f'"""Compute-heavy stage {index}: ~{SMALL_SECONDS:g} s of numpy, small output."""',
            "",
            "import numpy as np",
            "",
            "",
            head,
            f"    x = np.linspace({seed}, 1.0, size)",
            f"    for _ in range({rounds}):",
            "        x = np.sqrt(x * x + 1.0) - 0.5",
            f"    return x[:{SMALL_OUT}].copy()",
            "",
        ]
    )


def _timed(run: Callable[[], object], before: Callable[[], object] = lambda: None) -> float:
    before()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _flows(ws: Any, cells: dict[str, str], last: str, prefix: str) -> tuple[Any, Any]:
    """The chain's cells promoted by module, without and with --cache: the two flows."""
    from kit.promote import promote

    for name, source in cells.items():
        ws.add_cell(name, source)
    promote(ws, f"{prefix}_plain", [last], "by-module")
    promote(ws, f"{prefix}_cached", [last], "by-module", cache=True)
    return f"{prefix}_plain", f"{prefix}_cached"


def measure_chain(
    ws: Any, plain: Any, cached: Any, parameters: dict[str, Any], results: Path
) -> dict[str, list[float]]:
    """RUNS interleaved rounds of the four variants, after one run of each flow. The first run,
    the second and the pull follow one another (each needs the one before); the plain flow takes
    turns going first and last, so that neither place's load (the API still recording the
    previous run) falls on it alone."""
    from kit.pull import pull

    plain(**parameters)  # warm-up: imports, the API's first answers
    cached(**parameters)
    times: dict[str, list[float]] = {
        name: [] for name in ("plain", "plain_wall", "first", "second", "pull")
    }

    def run_plain() -> None:
        run = flow_run(plain, **parameters)
        times["plain"].append(run.running)
        times["plain_wall"].append(run.wall)

    for round_ in range(RUNS):
        if round_ % 2 == 0:  # the plain flow first in even rounds, last in odd ones
            run_plain()
        shutil.rmtree(results, ignore_errors=True)
        first = flow_run(cached, **parameters)
        times["first"].append(first.running)
        times["second"].append(flow_run(cached, **parameters).running)
        run_id = str(first.state.state_details.flow_run_id)
        times["pull"].append(_timed(functools.partial(pull, ws, run_id)))
        if round_ % 2 == 1:
            run_plain()
        print({name: round(values[-1], 2) for name, values in times.items()}, flush=True)
    return times


def _imported(name: str) -> Any:
    return getattr(importlib.import_module(f"flows.{name}"), name)


def measure() -> dict[str, Any]:
    """The wall times of every variant of both chains, in seconds, and the results' sizes."""
    from kit.workspace import reset_workspace

    root = _project()
    results = root / ".kit" / "results"
    rounds, heavy_rounds = calibrate_rounds(), small_rounds()
    ws = reset_workspace()
    small_last = f"heavy_{SMALL_STAGES - 1:02d}"
    small = {f"heavy{k}": small_source(k, heavy_rounds) for k in range(SMALL_STAGES)}
    small_names = _flows(ws, small, small_last, "compute")
    big = {name: module_source(stages, rounds) for name, stages in groups(STAGES)}
    big_names = _flows(ws, big, stage_name(STAGES - 1), "data")
    measured: dict[str, Any] = {"rounds": rounds, "heavy_rounds": heavy_rounds}
    with prefect_api(startup_timeout=300):
        forget("modules")
        forget("flows")
        flows = {name: _imported(name) for name in (*small_names, *big_names)}
        for chain, names, parameters in (
            ("compute", small_names, {"size": SMALL_SIZE}),
            ("data", big_names, {"rows": ROWS}),
        ):
            plain, cached = (flows[name] for name in names)
            measured[chain] = measure_chain(ws, plain, cached, parameters, results)
            measured[f"{chain}_stored"] = sum(path.stat().st_size for path in results.iterdir())
    return measured


def rows_of(measured: dict[str, Any]) -> list[Row]:
    found = []
    for chain, label, tasks in (
        (
            "compute",
            f"{SMALL_STAGES}-task compute-heavy flow (~{SMALL_SECONDS:g} s a task, "
            f"{SMALL_OUT:,} floats out)",
            SMALL_STAGES,
        ),
        ("data", f"{STAGES}-task data-heavy flow ({ROWS:,}-row frame a task)", STAGES),
    ):
        times = {name: tuple(values) for name, values in measured[chain].items()}
        second_over_plain = statistics.median(times["second"]) / statistics.median(times["plain"])
        stored = measured[f"{chain}_stored"]
        found += [
            Row(
                f"{label}, --cache, second run (every task cached)",
                times["second"],
                "the first run (every task computed, results persisted)",
                times["first"],
                0.2,
                note="each flow run's Running time as Prefect recorded it (a sync flow call's "
                "wall time also waits for Prefect's heartbeat thread, up to 1 s); "
                f"{second_over_plain:.2f}x of the flow without --cache "
                f"({spread(times['plain'])}); "
                + (
                    "the chain a cached rerun is for: every task's time is computing"
                    if chain == "compute"
                    else DATA_NOTE
                ),
            ),
            Row(
                f"{label}, --cache, first run (keys computed, results persisted)",
                times["first"],
                f"the {tasks}-task flow without --cache",
                times["plain"],
                1.3,
                note=f"{stored / 1e6:.1f} MB of results in .kit/results",
            ),
            Row(
                f"pull a run of the {label} (every task's result read back)",
                times["pull"],
                "running the flow again without --cache (wall time, as a user waits for it)",
                times["plain_wall"],
                1.0,
            ),
        ]
    return found


DATA_NOTE = (
    "the data-heavy case: a cProfile of the first and second runs (results/cache-profile.txt, "
    "`bench_cache.py --profile`) puts their time in Prefect's result persistence, not in kit "
    "(see the notes at the end of results/cache.md)"
)


def rows() -> list[Row]:
    """The rows `python -m benchmarks` reports."""
    return rows_of(measure())


def record(found: list[Row]) -> None:
    """results/cache.md from the rows, with where the data-heavy runs spend their time."""
    lines = [
        "# --cache: per-task cache keys and persisted results",
        "",
        f"Two chains promoted by module, one Prefect task a stage, with and without --cache: "
        f"{SMALL_STAGES} compute-heavy stages (~{SMALL_SECONDS:g} s of numpy work each on a "
        f"{SMALL_SIZE:,}-element array made inside the stage, {SMALL_OUT:,} floats handed on) and "
        f"bench_promote's {STAGES} data-heavy stages (a {ROWS:,}-row DataFrame handed on). Wall "
        f"time of a flow call, median of {RUNS} runs (min-max) after a warm-up, the variants "
        f"interleaved run by run in one process against one Prefect API; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "Run `.venv/bin/python benchmarks/bench_cache.py` to regenerate this file.",
        "",
        table(found),
        "",
        PROFILE_NOTES,
    ]
    RESULTS.write_text("\n".join(lines) + "\n")


PROFILE_NOTES = """\
Where the data-heavy runs spend their time: a cProfile of every thread (Prefect runs the tasks
in a thread pool) of one first and one second run of the chain at 1,000,000 rows a task
(350 MB of results), `bench_cache.py --profile`, in results/cache-profile.txt. At that size,
under a load of 4-7, `make bench`'s rows were: second run 11.1 s vs first 18.6 s (0.60x), first
run 5.43x and pull 1.67x of the plain flow's 3.4 s. The rows above run bench_promote's smaller
frame (200,000 rows, a fifth of the data; 1,000,000 rows made this module take 6 min).

- First run (31.1 s under the profiler, a pip install running beside it; 14.4 s in an
  earlier profile with the same shares): 22.7 s is Prefect committing the 16 results
  (`ResultStore.persist_result_record`): `base64.encodebytes` 15.7 s (a Python loop of 4.5
  million 57-byte `b2a_base64` calls that `PickleSerializer.dumps` runs on each pickle), the
  file writes 4.4 s (467 MB: base64 and the JSON record add a third to the 350 MB), the JSON
  record 1.4 s; cloudpickle itself 0.4 s. kit's part: its 16 cache keys (code versions and
  inputs, flows/_runtime.py `cache_key`) 17 ms in all, `run_nodes` (the numpy work) 6.1 s.
- Second run (23.2 s under the profiler): every task's record is read and deserialized twice,
  once by Prefect's cache lookup (`ResultStore.exists` 13.7 s: it loads the whole record to
  check its expiry) and again to return the value: `a2b_base64` 9.1 s, pydantic's
  `validate_json` of the records 6.5 s, the reads 3.9 s, unpickling 0.7 s; kit's cache keys
  9 ms.
- The compute-heavy chain's second run (about 1.3 s) is mostly what every sync Prefect flow run
  costs (about 1.1 s: the engine's start, the heartbeat, the final state), which its 8 cached
  tasks add little to: it meets 0.2x of the first run when the first run takes 6.5 s or more."""


def every_thread_profiled() -> list[cProfile.Profile]:
    """A profiler for this thread and one for every thread started from now on (Prefect runs a
    flow's tasks in a thread pool, which a single cProfile would not see)."""
    profilers: list[cProfile.Profile] = []

    def start(*_: object) -> None:
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()  # replaces this hook in the new thread

    threading.setprofile(start)
    start()
    return profilers


def profile() -> None:
    """cProfile of one first and one second run of the data-heavy --cache flow."""
    root = _project()
    results = root / ".kit" / "results"
    from kit.workspace import reset_workspace

    ws = reset_workspace()
    rounds = calibrate_rounds(PROFILE_ROWS)
    big = {name: module_source(stages, rounds) for name, stages in groups(STAGES)}
    names = _flows(ws, big, stage_name(STAGES - 1), "data")
    out = io.StringIO()
    with prefect_api(startup_timeout=300):
        forget("modules")
        forget("flows")
        plain, cached = (_imported(name) for name in names)
        plain(rows=PROFILE_ROWS), cached(rows=PROFILE_ROWS)  # warm-up
        for label in ("first", "second"):
            if label == "first":
                shutil.rmtree(results, ignore_errors=True)
            profilers = every_thread_profiled()
            start = time.perf_counter()
            cached(rows=PROFILE_ROWS)
            seconds = time.perf_counter() - start
            threading.setprofile(None)  # type: ignore[arg-type]
            for profiler in profilers:
                profiler.disable()
            out.write(f"## --cache, {label} run: {seconds:.1f} s under the profiler\n\n")
            stats = pstats.Stats(*profilers, stream=out)
            for order in ("cumulative", "tottime"):
                stats.sort_stats(order).print_stats(40)
            stats.sort_stats("cumulative").print_stats("_runtime", 15)  # kit's part
    PROFILE.write_text(out.getvalue())
    print(out.getvalue())


def main() -> None:
    if "--profile" in sys.argv[1:]:
        profile()
        return
    record(rows())
    print(RESULTS.read_text())


if __name__ == "__main__":
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="kit-bench-prefect-"))
    main()
