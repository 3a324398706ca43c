"""Every benchmark in one command: `python -m benchmarks [NAME ...]` (or `make bench`).

Each module benchmarks/bench_NAME.py defines `rows() -> list[Row]` (benchmarks/harness.py).
Each module runs in a fresh interpreter of its own (they change the working directory, start
servers and hold a kit workspace), one after the other, never side by side. Their rows come back
as JSON; this prints one table and writes benchmarks/RESULTS.md with the machine, the load and
the package versions. A module that fails is listed as failed and the command exits 1.

`python -m benchmarks cells widget` runs those modules only (and RESULTS.md then holds only
their rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Row  # noqa: E402

RESULTS = HERE / "RESULTS.md"
# In the order of issue 16's list; `cache` only when benchmarks/bench_cache.py exists.
MODULES = ("cells", "widget", "promote", "submit", "validate", "install", "check", "dask", "cache")
PACKAGES = ("apache-hamilton", "prefect", "pandas", "papermill", "distributed")

CHILD = """
import dataclasses, json, sys
sys.path.insert(0, {here!r})
import importlib
name = {name!r}
try:
    module = importlib.import_module("bench_" + name)
    rows = module.rows
except AttributeError:  # a module without rows() yet: its adapter
    rows = importlib.import_module(name + "_rows").rows
found = rows()
with open({out!r}, "w") as file:
    json.dump([dataclasses.asdict(row) for row in found], file)
"""


def available() -> list[str]:
    return [name for name in MODULES if (HERE / f"bench_{name}.py").exists()]


def run_module(name: str) -> tuple[list[Row], float, str | None]:
    """The rows of bench_NAME, its wall time, and why it failed (None when it did not)."""
    out = Path(tempfile.mkstemp(prefix=f"kit-bench-{name}-", suffix=".json")[1])
    code = CHILD.format(here=str(HERE), name=name, out=str(out))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, stdout=sys.stderr)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return [], seconds, f"exit {done.returncode} (its output is above)"
    found = json.loads(out.read_text())
    out.unlink()
    fields = {f.name for f in dataclasses.fields(Row)}
    rows = [
        Row(
            **{
                **{k: v for k, v in row.items() if k in fields},
                "kit": tuple(row["kit"]),
                "anchor": tuple(row["anchor"]),
            }
        )
        for row in found
    ]
    return rows, seconds, None


def versions() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def render(
    results: dict[str, tuple[list[Row], float, str | None]],
    started: str,
    load_before: str,
    total: float,
) -> str:
    head = [
        "module",
        "what",
        "runs",
        "kit: median (min-max)",
        "anchor: median (min-max)",
        "ratio",
        "target",
        "",
    ]
    lines = [
        "# kit benchmarks",
        "",
        f"`make bench` (`python -m benchmarks`) on {started}: {os.cpu_count()} CPUs "
        f"({platform.machine()}), Python {platform.python_version()}, {versions()}.",
        "",
        f"Load average (1 / 5 / 15 min) {load_before} at the start and {load()} at the end: "
        "the machine is shared with other engineers' work, so every time here includes their "
        "load. Each benchmark module ran alone in its own interpreter, one after the other; "
        f"the whole run took {total / 60:.1f} min.",
        "",
        "Times are medians of the runs counted in `runs` (kit / anchor), after a warm-up unless "
        "the row's note says otherwise; `ratio` is kit's median over the anchor's.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    notes = []
    for name, (rows, seconds, failed) in results.items():
        if failed:
            lines.append(f"| {name} | **failed** after {seconds:.0f} s: {failed} | | | | | | |")
            continue
        for row in rows:
            what, kit, anchor, ratio, target, met = row.cells()
            runs = f"{len(row.kit)} / {len(row.anchor)}"
            lines.append(
                f"| {name} | {what} | {runs} | {kit} | {anchor} | {ratio} | {target} | {met} |"
            )
            if row.note:
                notes.append(f"- {name}, {row.what}: {row.note}")
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, (_, seconds, _) in results.items())
    lines += ["", "Notes:", "", *notes, "", f"Time per module: {timings}.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="*", help=f"modules to run (default: all of {available()})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    arguments = parser.parse_args()
    names = arguments.names or available()
    unknown = [name for name in names if name not in available()]
    if unknown:
        parser.error(f"no benchmark {unknown}; there are {available()}")
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = load()
    clock = time.perf_counter()
    results = {}
    for index, name in enumerate(names):
        print(f"==> benchmarks/bench_{name}.py", file=sys.stderr, flush=True)
        results[name] = run_module(name)
        rest = names[index + 1 :]
        if rest:  # what is done so far, so an interrupted run still leaves its rows
            partial = render(results, started, load_before, time.perf_counter() - clock)
            arguments.out.write_text(partial + f"\nNot run yet (in progress): {', '.join(rest)}.\n")
    text = render(results, started, load_before, time.perf_counter() - clock)
    arguments.out.write_text(text)
    print(text)
    return 1 if any(failed for _, _, failed in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
