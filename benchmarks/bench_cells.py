"""Benchmark the cell magic: re-run a 100-function cell in a 500-node workspace, kit vs Hamilton.

Also times `%load_ext kit` against `import hamilton.driver` in fresh interpreters, and checks
that loading the extension imports neither prefect nor papermill.

Run: .venv/bin/python benchmarks/bench_cells.py  (writes benchmarks/results/cells.md)
or `python -m benchmarks cells`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from harness import Row, spread, table, timed
from profiling import PROFILES, profile_command

RESULTS = Path(__file__).parent / "results" / "cells.md"
REPEATS = 15
LOAD_KIT = (
    "from IPython.core.interactiveshell import InteractiveShell as S; import sys; "
    "S.instance().run_line_magic('load_ext', 'kit'); "
    "print(sorted(m for m in ('prefect', 'papermill', 'jupyter_server') if m in sys.modules))"
)
LOAD_HAMILTON = (
    "from IPython.core.interactiveshell import InteractiveShell as S; S.instance(); "
    "import hamilton.driver"
)
FIRST_CELL = (
    "from IPython.core.interactiveshell import InteractiveShell as S; import os, tempfile; "
    "os.chdir(tempfile.mkdtemp()); open('pyproject.toml', 'w').write('[tool.kit]\\n'); "
    "s = S.instance(); s.run_line_magic('load_ext', 'kit'); "
    "s.run_cell_magic('hamilton', 'first', 'def a() -> int:\\n    return 1\\n')"
)


def cell_source(prefix: str, count: int = 100) -> str:
    """`count` chained functions; the first one takes the previous cell's last node."""
    lines = [f'"""Cell {prefix}."""', ""]
    for i in range(count):
        previous = f"{prefix}_{i - 1}" if i else "seed"
        lines += [
            f"def {prefix}_{i}({previous}: int) -> int:",
            f'    """Step {i}."""',
            f"    return {previous} + 1",
            "",
        ]
    return "\n".join(lines)


def rerun_runs() -> dict[str, object]:
    """The re-run of a cell, kit's and Hamilton's, as callables over one shell."""
    from IPython.core.interactiveshell import InteractiveShell

    project = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    (project / "pyproject.toml").write_text("[tool.kit]\n")
    (project / "modules").mkdir()
    (project / "modules" / "__init__.py").touch()
    os.chdir(project)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "kit")
    shell.run_line_magic("load_ext", "hamilton.plugins.jupyter_magic")
    shell.user_ns["seed"] = 0

    cells = [cell_source(f"m{i}") for i in range(4)]
    for i, body in enumerate(cells):
        shell.run_cell_magic("hamilton", f"m{i}", body)
    rerun = cell_source("m4")

    def kit_rerun() -> None:
        shell.run_cell_magic("hamilton", "m4", rerun)

    import kit

    output = ["m4_99"]  # the re-run cell's last node: its 100 nodes run

    def kit_rerun_and_build() -> None:
        shell.run_cell_magic("hamilton", "m4", rerun)
        kit.workspace().driver()

    def kit_rerun_and_execute() -> None:
        shell.run_cell_magic("hamilton", "m4", rerun)
        assert kit.workspace().execute(output, inputs={"seed": 0}) == {"m4_99": 100}

    # Hamilton's magic composes cells through a Builder holding the other modules.
    from hamilton import ad_hoc_utils, driver

    others = [ad_hoc_utils.module_from_source(body, f"ham_m{i}") for i, body in enumerate(cells)]
    shell.user_ns["others"] = driver.Builder().with_modules(*others)
    shell.user_ns["final"] = output
    shell.user_ns["given"] = {"seed": 0}

    def hamilton_rerun() -> None:  # the magic always builds the driver
        shell.run_cell_magic("cell_to_module", "ham_m4 --builder others", rerun)

    def hamilton_rerun_and_execute() -> None:
        shell.run_cell_magic("cell_to_module", "ham_m4 --builder others -x final -i given", rerun)
        assert shell.user_ns["m4_99"] == 100

    def exec_and_build() -> Any:
        # what a user without either magic does: execute the cell's source as a module, build
        cell = ad_hoc_utils.module_from_source(rerun, "plain_m4")
        return driver.Builder().with_modules(*others, cell).build()

    def exec_build_and_execute() -> None:
        assert exec_and_build().execute(output, inputs={"seed": 0}) == {"m4_99": 100}

    return {
        "kit": kit_rerun,
        "kit_with_driver": kit_rerun_and_build,
        "kit_execute": kit_rerun_and_execute,
        "hamilton": hamilton_rerun,
        "hamilton_execute": hamilton_rerun_and_execute,
        "exec_and_build": exec_and_build,
        "exec_and_execute": exec_build_and_execute,
    }


def fresh(code: str) -> tuple[float, ...]:
    """Seconds of `python -c code`, a fresh interpreter each time, 5 runs after a warm-up."""
    return timed(
        lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    )


def interleaved(runs: dict[str, Any], repeats: int = REPEATS) -> dict[str, tuple[float, ...]]:
    """Seconds of each run, `repeats` rounds after a warm-up of each, the runs taking turns in
    every round (the machine is shared: a burst of load falls on all of them alike)."""
    for run in runs.values():
        run()
    timings: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            started = time.perf_counter()
            run()
            timings[key].append(time.perf_counter() - started)
    return {key: tuple(values) for key, values in timings.items()}


PROFILE = PROFILES / "cells-execute.txt"
PROFILED_RERUNS = 400


def profile_execute() -> None:
    """py-spy of PROFILED_RERUNS re-runs of the cell, each followed by `ws.execute`."""
    profile_command(
        [sys.executable, __file__, "--loop", str(PROFILED_RERUNS)],
        PROFILE,
        title=f"Re-running a 100-function cell in a 500-node workspace and `ws.execute`, "
        f"{PROFILED_RERUNS} times (after the workspace is set up)",
    )


def loop(count: int) -> None:
    """`count` re-runs and executes, and what the garbage collector took of their time (py-spy
    counts a collection to the line whose allocation started it)."""
    import gc

    rerun_and_execute = rerun_runs()["kit_execute"]
    collecting: list[float] = []
    started: list[float] = []

    def timing(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            collecting.append(time.perf_counter() - started.pop())

    gc.callbacks.append(timing)
    began = time.perf_counter()
    for _ in range(count):
        rerun_and_execute()  # type: ignore[operator]
    total = time.perf_counter() - began
    gc.callbacks.remove(timing)
    print(
        f"{count} re-runs and executes: {total:.1f} s, {total / count * 1000:.1f} ms each on "
        f"average; the garbage collector ran {len(collecting)} times for {sum(collecting):.1f} s "
        f"({sum(collecting) / total:.0%}), its longest {max(collecting) * 1000:.0f} ms"
    )


def rows() -> list[Row]:
    t = interleaved(rerun_runs())
    profile_execute()
    _, heavy = fresh_interpreter_ms(LOAD_KIT)
    load_kit, load_hamilton = fresh(LOAD_KIT), fresh(LOAD_HAMILTON)
    first = fresh(FIRST_CELL)
    cell = "re-run a 100-function `%%hamilton` cell in a 500-node workspace"
    magic = "`%%cell_to_module --builder` (builds the driver)"
    magic_x = "`%%cell_to_module --builder -x OUT -i INPUTS`"
    incremental = (
        "the driver is built incrementally (kit/node_cache.py): the 400 unchanged functions' "
        "nodes are copied from the last build, only the re-run cell's 100 are resolved (once, "
        "by its duplicate check)"
    )
    return [
        Row(
            cell,
            t["kit"],
            magic,
            t["hamilton"],
            target=0.7,
            note="kit resolves the re-run cell's nodes (duplicates, cycles) and builds the driver "
            "when something needs it",
        ),
        Row(
            cell + ", then `ws.driver()` (widget, `-x`, `ws.execute`)",
            t["kit_with_driver"],
            magic,
            t["hamilton"],
            target=0.7,
            note=incremental + "; before it, 0.98-1.22x",
        ),
        Row(
            cell + ", then `ws.driver()`",
            t["kit_with_driver"],
            "exec the source + `Builder().build()`",
            t["exec_and_build"],
            target=1.3,
        ),
        Row(
            cell + ", then `ws.execute` of its last node (100 nodes run)",
            t["kit_execute"],
            magic_x,
            t["hamilton_execute"],
            target=0.7,
            note="on top of the driver, `ws.execute` wraps only the nodes it reads (the 100 "
            "upstream of the output) and checks inputs; where the time goes: "
            f"results/profiles/{PROFILE.name} (py-spy)",
        ),
        Row(
            cell + ", then `ws.execute` of its last node",
            t["kit_execute"],
            "exec the source + `Builder().build()` + `execute`",
            t["exec_and_execute"],
            target=1.3,
        ),
        Row(
            "`%load_ext kit` (fresh interpreter with an IPython shell)",
            load_kit,
            "`import hamilton.driver`",
            load_hamilton,
            target=1.1,
            note=f"imports none of prefect, papermill, jupyter_server ({heavy}); "
            f"`%load_ext kit` and the first `%%hamilton` cell (which imports Hamilton): "
            f"{spread(first)}",
        ),
    ]


def fresh_interpreter_ms(code: str) -> tuple[float, str]:
    """Median wall time of `python -c code` and what its last run printed."""
    timings, output = [], ""
    for _ in range(5):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        timings.append((time.perf_counter() - start) * 1000)
        output = done.stdout.strip()
    return statistics.median(timings), output


def record(results: list[Row]) -> None:
    """benchmarks/results/cells.md from the rows."""
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        "# Cell magic benchmark\n\n"
        f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average "
        f"{os.getloadavg()[0]:.1f}. Re-runs: medians of {REPEATS} interleaved rounds after a "
        "warm-up; start-up: 5 fresh interpreters after a warm-up.\n\n" + table(results) + "\n"
    )


def main() -> None:
    if sys.argv[1:2] == ["--loop"]:  # what profile_execute samples
        loop(int(sys.argv[2]))
        return
    results = rows()
    record(results)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
