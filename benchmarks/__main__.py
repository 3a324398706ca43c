"""Every benchmark in one command: `python -m benchmarks [NAME ...]` (or `make bench`).

Each module benchmarks/bench_NAME.py defines `rows() -> list[Row]` (benchmarks/harness.py), and
may define `record(rows)`, which writes its benchmarks/results/NAME.md from those rows.
Each module runs in a fresh interpreter of its own (they change the working directory and hold
a kit workspace), one after the other, never side by side. The modules that need a Prefect API
share one kit server started here once (benchmarks/services.py) instead of starting one each.
Their rows come back as JSON; this prints one table and writes benchmarks/RESULTS.md with the
machine, the load and the package versions. A module that fails is listed as failed and the
command exits 1.

`python -m benchmarks cells widget` runs those modules only (and RESULTS.md then holds only
their rows); with `--merge`, RESULTS.md keeps the other modules' rows from the last run that had
them (benchmarks/results/rows.json), each marked with the date it ran.
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

import services  # noqa: E402
from harness import Row  # noqa: E402

RESULTS = HERE / "RESULTS.md"
ROWS_FILE = HERE / "results" / "rows.json"  # every module's rows, for `--merge`
# In the order of issue 16's list; `cache` only when benchmarks/bench_cache.py exists.
MODULES = ("cells", "widget", "promote", "submit", "validate", "install", "check", "dask", "cache")
PACKAGES = ("apache-hamilton", "prefect", "pandas", "papermill", "distributed")

CHILD = """
import dataclasses, json, sys
sys.path.insert(0, {here!r})
import importlib
module = importlib.import_module("bench_" + {name!r})
found = module.rows()
if hasattr(module, "record"):  # its results/NAME.md, from the same rows
    module.record(found)
with open({out!r}, "w") as file:
    json.dump([dataclasses.asdict(row) for row in found], file)
"""


def available() -> list[str]:
    return [name for name in MODULES if (HERE / f"bench_{name}.py").exists()]


def run_module(name: str, env: dict[str, str] | None = None) -> tuple[list[Row], float, str | None]:
    """The rows of bench_NAME, its wall time, and why it failed (None when it did not); `env`
    is added to its environment (the shared kit server)."""
    out = Path(tempfile.mkstemp(prefix=f"kit-bench-{name}-", suffix=".json")[1])
    code = CHILD.format(here=str(HERE), name=name, out=str(out))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=HERE.parent,
        stdout=sys.stderr,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return [], seconds, f"exit {done.returncode} (its output is above)"
    found = json.loads(out.read_text())
    out.unlink()
    return [as_row(row) for row in found], seconds, None


def encode(result: tuple[list[Row], float, str | None]) -> dict[str, object]:
    rows, seconds, failed = result
    return {"rows": [dataclasses.asdict(row) for row in rows], "seconds": seconds, "failed": failed}


def decode(entry: dict) -> tuple[list[Row], float, str | None]:
    return [as_row(row) for row in entry["rows"]], entry["seconds"], entry["failed"]


def as_row(row: dict) -> Row:
    fields = {f.name for f in dataclasses.fields(Row)}
    return Row(
        **{
            **{k: v for k, v in row.items() if k in fields},
            "kit": tuple(row["kit"]),
            "anchor": tuple(row["anchor"]),
        }
    )


def load_rows() -> dict[str, dict]:
    """The stored rows of every module (none when there is no rows file)."""
    try:
        return json.loads(ROWS_FILE.read_text())
    except (OSError, ValueError):
        return {}


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
    env: dict[str, str],
    earlier: dict[str, str] | None = None,
) -> str:
    """RESULTS.md; `earlier` names the modules whose rows come from an earlier run (its date
    and load)."""
    earlier = earlier or {}
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
        *shared_text(results, env),
        *(
            [
                "Rows from earlier runs (`--merge`): "
                + "; ".join(f"{name}: {when}" for name, when in earlier.items())
                + ".",
                "",
            ]
            if earlier
            else []
        ),
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


def shared_text(results: dict[str, object], env: dict[str, str]) -> list[str]:
    """What the run says about the kit server it shared (nothing when it started none)."""
    if services.START_SECONDS not in env:
        return []
    users = ", ".join(name for name in results if name in services.NEEDS_PREFECT)
    return [
        f"The modules that need a Prefect API ({users}) ran on one kit server (`kit server start`"
        f" on a copy of the example project, {env[services.START_SECONDS]} s to start, not "
        "part of any row), started once before the first module.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="*", help=f"modules to run (default: all of {available()})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of the modules not run now from the last run that had them",
    )
    arguments = parser.parse_args()
    names = arguments.names or available()
    unknown = [name for name in names if name not in available()]
    if unknown:
        parser.error(f"no benchmark {unknown}; there are {available()}")
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = load()
    clock = time.perf_counter()
    results: dict[str, tuple[list[Row], float, str | None]] = {}
    with services.shared(names) as env:
        for index, name in enumerate(names):
            print(f"==> benchmarks/bench_{name}.py", file=sys.stderr, flush=True)
            results[name] = run_module(name, env)
            print(f"<== bench_{name}: {results[name][1]:.0f} s", file=sys.stderr, flush=True)
            rest = names[index + 1 :]
            if rest:  # what is done so far, so an interrupted run still leaves its rows
                partial = render(results, started, load_before, time.perf_counter() - clock, env)
                arguments.out.write_text(
                    partial + f"\nNot run yet (in progress): {', '.join(rest)}.\n"
                )
        total = time.perf_counter() - clock
    stored = load_rows() if arguments.out == RESULTS else {}
    when = f"{started}, load {load_before} at the start"
    stored |= {name: {"when": when, "result": encode(result)} for name, result in results.items()}
    kept = {name: entry for name, entry in stored.items() if arguments.merge or name in results}
    earlier = {name: entry["when"] for name, entry in kept.items() if name not in results}
    merged = {
        name: results[name] if name in results else decode(kept[name]["result"])
        for name in MODULES
        if name in kept
    }
    text = render(merged, started, load_before, total, env, earlier)
    if arguments.out == RESULTS:
        ROWS_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    arguments.out.write_text(text)
    print(text)
    return 1 if any(failed for _, _, failed in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
