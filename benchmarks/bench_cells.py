"""Benchmark the cell magic: re-run a 100-function cell in a 500-node workspace, kit vs Hamilton.

Also times `%load_ext kit` against `import hamilton.driver` in fresh interpreters, and checks
that loading the extension imports neither prefect nor papermill.

Run: .venv/bin/python benchmarks/bench_cells.py  (writes benchmarks/results/cells.md)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import Row, spread, timed

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


def median_ms(run, repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


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

    def kit_rerun_and_build() -> None:
        shell.run_cell_magic("hamilton", "m4", rerun)
        import kit

        kit.workspace().driver()

    # Hamilton's magic composes cells through a Builder holding the other modules.
    from hamilton import ad_hoc_utils, driver

    others = [ad_hoc_utils.module_from_source(body, f"ham_m{i}") for i, body in enumerate(cells)]
    shell.user_ns["others"] = driver.Builder().with_modules(*others)

    def hamilton_rerun() -> None:
        shell.run_cell_magic("cell_to_module", "ham_m4 --builder others", rerun)

    def exec_and_build() -> None:
        # what a user without either magic does: execute the cell's source as a module, build
        cell = ad_hoc_utils.module_from_source(rerun, "plain_m4")
        driver.Builder().with_modules(*others, cell).build()

    return {
        "kit": kit_rerun,
        "kit_with_driver": kit_rerun_and_build,
        "hamilton": hamilton_rerun,
        "exec_and_build": exec_and_build,
    }


def bench_rerun() -> dict[str, float]:
    runs = rerun_runs()
    runs["kit"](), runs["hamilton"]()  # warm up both
    return {key: median_ms(runs[key]) for key in ("kit", "kit_with_driver", "hamilton")}


def fresh(code: str) -> tuple[float, ...]:
    """Seconds of `python -c code`, a fresh interpreter each time, 5 runs after a warm-up."""
    return timed(
        lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    )


def rows() -> list[Row]:
    runs = rerun_runs()
    n = REPEATS
    kit, hamilton = timed(runs["kit"], n), timed(runs["hamilton"], n)
    with_driver, plain = timed(runs["kit_with_driver"], n), timed(runs["exec_and_build"], n)
    _, heavy = fresh_interpreter_ms(LOAD_KIT)
    load_kit, load_hamilton = fresh(LOAD_KIT), fresh(LOAD_HAMILTON)
    first = fresh(FIRST_CELL)
    cell = "re-run a 100-function `%%hamilton` cell in a 500-node workspace"
    return [
        Row(
            cell,
            kit,
            "`%%cell_to_module --builder`",
            hamilton,
            target=0.7,
            note="since d5cff8b, `Workspace._check_cycles` resolves the nodes of every module on "
            "each cell run (about 80% of the cell's time in a cProfile), where before only the "
            "re-run cell's were (0.15-0.22x); the driver is built when needed",
        ),
        Row(
            cell + ", then `ws.driver()` (widget, `-x`, `ws.execute`)",
            with_driver,
            "`%%cell_to_module --builder`",
            hamilton,
            target=0.7,
            note="kit rebuilds the whole 500-node driver; the incremental rebuild is not done "
            "(the lead decides on it)",
        ),
        Row(
            cell + ", then `ws.driver()`",
            with_driver,
            "exec the source + `Builder().build()`",
            plain,
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


def main() -> None:
    rerun = bench_rerun()
    load_kit, heavy = fresh_interpreter_ms(LOAD_KIT)
    load_hamilton, _ = fresh_interpreter_ms(LOAD_HAMILTON)
    bare, _ = fresh_interpreter_ms(
        "from IPython.core.interactiveshell import InteractiveShell as S; S.instance()"
    )
    driver_row = (
        "| kit `%%hamilton NAME`, then the driver built (`ws.driver()`) "
        f"| {rerun['kit_with_driver']:.1f} "
        f"| {rerun['kit_with_driver'] / rerun['hamilton']:.2f} |"
    )
    report = f"""# Cell magic benchmark

Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}. Medians of {REPEATS} runs.

Re-running a 100-function cell in a 500-node workspace (4 other cells of 100 functions):

| what | ms | ratio to Hamilton's `%%cell_to_module` |
| --- | ---: | ---: |
| Hamilton `%%cell_to_module NAME --builder others` | {rerun["hamilton"]:.1f} | 1.00 |
| kit `%%hamilton NAME` | {rerun["kit"]:.1f} | {rerun["kit"] / rerun["hamilton"]:.2f} |
{driver_row}

kit resolves only the re-run cell's nodes (to name duplicates at once) and builds the
driver when something needs it; Hamilton's magic runs the cell twice and builds a driver.

Start-up in a fresh interpreter with an IPython shell (medians of 5, including the interpreter):

| what | ms | over a bare shell |
| --- | ---: | ---: |
| bare `InteractiveShell` | {bare:.0f} | 0 |
| `%load_ext kit` | {load_kit:.0f} | {load_kit - bare:.0f} |
| `import hamilton.driver` | {load_hamilton:.0f} | {load_hamilton - bare:.0f} |

Heavy modules imported by `%load_ext kit` (prefect, papermill, jupyter_server): {heavy}
"""
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
