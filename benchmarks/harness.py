"""What every benchmark reports: a row of kit's runs beside an anchor's, with a target ratio.

A benchmark module defines `rows() -> list[Row]`; `python -m benchmarks` runs them all and
writes benchmarks/RESULTS.md. Times are medians of at least five runs after a warm-up, with
the min-max spread.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

RUNS = int(os.environ.get("KIT_BENCH_RUNS", "5"))  # fewer only to try a change out quickly
# The Prefect API that `python -m benchmarks` starts once for every module that needs one (a kit
# server; benchmarks/services.py); a module run alone starts an ephemeral API of its own.
SHARED_API = "KIT_BENCH_API_URL"


@dataclass(frozen=True)
class Row:
    """kit's timings beside the anchor's (what a user would run instead), in seconds."""

    what: str
    kit: tuple[float, ...]
    anchor_name: str
    anchor: tuple[float, ...]
    target: float  # the ratio kit / anchor must not exceed ...
    at_least: bool = False  # ... or, when True, must reach (a speed-up)
    note: str = ""
    unit: str = "s"  # what the timings count when they are not seconds ("calls")
    exact: bool = False  # the ratio must equal the target (calls / plain Hamilton = 1.0)

    @property
    def ratio(self) -> float:
        return statistics.median(self.kit) / statistics.median(self.anchor)

    @property
    def met(self) -> bool:
        if self.exact:
            return abs(self.ratio - self.target) < 1e-9
        return self.ratio >= self.target if self.at_least else self.ratio <= self.target

    def cells(self) -> list[str]:
        """The row as the results table shows it."""
        sign = "=" if self.exact else ">=" if self.at_least else "<="
        target = f"{sign} {self.target:g}x"
        return [
            self.what,
            spread(self.kit, self.unit),
            f"{self.anchor_name}: {spread(self.anchor, self.unit)}",
            f"{self.ratio:.2f}x",
            target,
            "met" if self.met else "MISSED",
        ]


def spread(timings: tuple[float, ...], counts: str = "s") -> str:
    """`median (min-max)` in the unit that reads best (seconds, or a count such as calls)."""
    if counts != "s":
        low, mid, high = min(timings), statistics.median(timings), max(timings)
        return f"{mid:g} {counts} ({low:g}-{high:g})"
    unit, scale = ("s", 1.0) if statistics.median(timings) >= 1 else ("ms", 1000.0)
    low, mid, high = min(timings), statistics.median(timings), max(timings)
    return f"{mid * scale:.1f} {unit} ({low * scale:.1f}-{high * scale:.1f})"


def timed(run: Callable[[], object], runs: int = RUNS, warm_up: int = 1) -> tuple[float, ...]:
    """Seconds of each of `runs` calls of `run`, after `warm_up` untimed ones."""
    for _ in range(warm_up):
        run()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return tuple(timings)


def table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    head = ["what", "kit (median, min-max)", "anchor", "ratio", "target", ""]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    notes = [f"- {row.what}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + (["", *notes] if notes else []))


@contextmanager
def prefect_api(startup_timeout: int = 90) -> Iterator[str | None]:
    """Prefect set to the API `python -m benchmarks` shares between modules (its URL), else to an
    ephemeral test API of this process's own (None) for the duration of the block."""
    url = os.environ.get(SHARED_API)
    if not url:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=startup_timeout):
            yield None
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # for the processes this one starts (Dask workers)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before


def interleaved(
    runs: dict[str, Callable[[], object]], count: int = RUNS, warm_up: int = 1
) -> dict[str, tuple[float, ...]]:
    """Seconds of `count` calls of each of `runs`, taking turns call by call (so that the load
    of a shared machine hits them alike), after `warm_up` untimed calls of each."""
    for _ in range(warm_up):
        for run in runs.values():
            run()
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(count):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - started)
    return {name: tuple(values) for name, values in timings.items()}


@dataclass(frozen=True)
class FlowRun:
    """One call of a Prefect flow, timed."""

    state: Any  # its final state
    result: Any
    wall: float  # seconds from the call to its result
    running: float  # seconds in the Running state, as Prefect recorded it


def flow_run(flow: Any, **parameters: Any) -> FlowRun:
    """Call a Prefect flow and read its result.

    The wall time of a sync flow call also waits for Prefect's heartbeat thread, which sleeps in
    1 s steps, so every call ends a whole number of seconds after it started; the Running time
    is the run itself.
    """
    from prefect.client.orchestration import get_client

    started = time.perf_counter()
    state = flow(**parameters, return_state=True)
    result = state.result()
    wall = time.perf_counter() - started
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    return FlowRun(state, result, wall, (run.end_time - run.start_time).total_seconds())
