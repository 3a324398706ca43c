"""`--runner dask` vs Prefect's default threads, on two cores.

Two independent CPU-bound branches (pure Python, ~2 s each) promoted per-output: on threads
they take turns holding the GIL; on a 2-worker local Dask cluster they run side by side. Also
the per-task cost Dask adds, from a flow of 16 trivial tasks on each runner.

Run: .venv/bin/python benchmarks/bench_dask.py  (writes benchmarks/results/dask.md)
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import Row, interleaved, prefect_api, table
from profiling import PROFILES, profile_command

RESULTS = Path(__file__).parent / "results" / "dask.md"
PROFILE = PROFILES / "dask-small.txt"
PROFILED_RUNS = 5
BRANCH_SECONDS = 2.0  # of pure Python per branch, as issue 14 has it


def calibrated_rounds() -> int:
    """Rounds of `_spin` that take BRANCH_SECONDS here now (a fixed count took 1.1-4 s a branch,
    as the machine's load came and went)."""
    namespace: dict[str, object] = {}
    exec(BRANCHES, namespace)
    spin = namespace["_spin"]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        spin(1_000_000)  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return round(BRANCH_SECONDS / statistics.median(timings) * 1_000_000)


BRANCHES = """
def _spin(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


def left(rounds: int) -> int:
    return _spin(rounds)


def right(rounds: int) -> int:
    return _spin(rounds + 1)
"""

SMALL = "\n".join(f"def n{i}() -> int:\n    return {i}\n\n" for i in range(16))


def project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="kit-bench-dask-")) / "project"
    for folder in ("notebooks", "modules", "flows"):
        (root / folder).mkdir(parents=True)
    (root / "modules" / "__init__.py").touch()
    (root / "flows" / "__init__.py").touch()
    (root / "pyproject.toml").write_text('[project]\nname = "b"\nversion = "0"\n\n[tool.kit]\n')
    return root


def flow_of(name: str):
    for module in [m for m in sys.modules if m.split(".")[0] in ("flows", "modules")]:
        del sys.modules[module]  # the packages too: their attributes hold the old modules
    return getattr(importlib.import_module(f"flows.{name}"), name)


def promoted() -> None:
    """The four flows, promoted in a new project that is now the working directory."""
    import kit

    root = project()
    os.chdir(root)
    sys.path.insert(0, str(root))
    ws = kit.workspace()
    ws.add_cell("branches", textwrap.dedent(BRANCHES))
    ws.add_cell("small", SMALL)
    ws.promote("on_threads", ["left", "right"], tasks="per-output")
    ws.promote("on_dask", ["left", "right"], tasks="per-output", runner="dask")
    small = [f"n{i}" for i in range(16)]
    ws.promote("small_threads", small, tasks="per-output")
    ws.promote("small_dask", small, tasks="per-output", runner="dask")


@contextmanager
def cluster() -> Iterator[None]:
    """A Prefect API and a 2-worker local Dask cluster that Dask flows use, for the block."""
    import dask
    from distributed import LocalCluster

    with (
        prefect_api(),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
    ):
        os.environ["DASK_SCHEDULER_ADDRESS"] = local.scheduler_address
        dask.config.refresh()
        yield


def profile_small_dask() -> None:
    """py-spy of PROFILED_RUNS runs of the 16 trivial tasks on Dask (cluster included)."""
    profile_command(
        [sys.executable, __file__, "--loop", str(PROFILED_RUNS)],
        PROFILE,
        title=f"The flow of 16 trivial tasks with --runner dask, {PROFILED_RUNS} runs after a "
        "warm-up, with its 2-worker local cluster",
    )


def rows() -> list[Row]:
    promoted()
    rounds = calibrated_rounds()
    with cluster():
        found = interleaved(
            {
                "threads": lambda: flow_of("on_threads")(rounds=rounds),
                "dask": lambda: flow_of("on_dask")(rounds=rounds),
                "small_threads": lambda: flow_of("small_threads")(),
                "small_dask": lambda: flow_of("small_dask")(),
            }
        )
    profile_small_dask()
    threads, on_dask = found["threads"], found["dask"]
    small_threads, small_dask = found["small_threads"], found["small_dask"]
    per_task_ms = (statistics.median(small_dask) - statistics.median(small_threads)) / 16 * 1000
    return [
        Row(
            "two ~2 s CPU-bound branches, per-output, --runner dask (2-worker local cluster)",
            on_dask,
            "--runner threads",
            threads,
            target=0.65,
            note=f"{rounds:,} rounds of pure Python a branch (calibrated to ~2 s here); same "
            "outputs on both runners, the four flows taking turns run by run after a warm-up run "
            "each; the cluster is started once, before the runs",
        ),
        Row(
            "16 trivial tasks, --runner dask",
            small_dask,
            "--runner threads",
            small_threads,
            target=1.5,
            note=f"Dask adds {per_task_ms:.1f} ms per task (the difference over 16 tasks); "
            f"where the time goes: results/profiles/{PROFILE.name} (py-spy, every process)",
        ),
    ]


def record(found: list[Row]) -> None:
    """results/dask.md from the rows."""
    RESULTS.write_text(f"# --runner dask vs threads ({os.cpu_count()} cores)\n\n{table(found)}\n")


def main() -> None:
    if sys.argv[1:2] == ["--loop"]:  # what profile_small_dask samples
        promoted()
        with cluster():
            for _ in range(int(sys.argv[2]) + 1):
                flow_of("small_dask")()
        return
    record(rows())
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
