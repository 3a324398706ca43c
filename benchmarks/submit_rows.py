"""The rows of bench_submit.py, from its own functions, as it measures them.

bench_submit.py is another engineer's (and being edited); until it has a `rows()` of its own,
`python -m benchmarks submit` uses this one, which runs the same measurements as its `main()`
(REPEATS interleaved runs of `kit submit` and its parts, on the kit server and then on the
embedded API), without the newcomer's `kit demo` runs, which are no row.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_submit as bench
from harness import Row


def rows() -> list[Row]:
    from kit import server
    from kit.project import load_project

    root = bench.copy_example(Path(tempfile.mkdtemp(prefix="kit-bench-submit-")) / "example")
    out = root / "runs" / "by-hand.ipynb"
    env = bench.plain_env()
    bench.run(root, [str(bench.BIN / "kit"), "server", "start"], env)
    project = load_project(root)
    status = server.status(project)
    assert status is not None and status.answers
    warm: dict[str, list[float]] = {"submit": [], "parts": []}
    try:
        for _ in range(bench.REPEATS):
            warm["submit"].append(bench.timed_submit(root, env)[0])
            papermill, flow = bench.parts(
                root, bench.plain_env(PREFECT_API_URL=status.api_url), out
            )
            warm["parts"].append(papermill + flow)
    finally:
        server.stop(project)
    embedded: dict[str, list[float]] = {"submit": [], "parts": []}
    home = str(root / ".kit" / "prefect")
    fresh_api = bench.plain_env(PREFECT_HOME=home, PREFECT_SERVER_EPHEMERAL_ENABLED="true")
    for _ in range(bench.REPEATS):
        embedded["submit"].append(bench.timed_submit(root, env)[0])
        papermill, flow = bench.parts(root, fresh_api, out)
        embedded["parts"].append(papermill + flow)
    shutil.rmtree(root.parent, ignore_errors=True)
    what = f"`kit submit {bench.NOTEBOOK} --flow {bench.FLOW}`"
    return [
        Row(
            f"{what} to the running kit server",
            tuple(warm["submit"]),
            "its parts alone on that server (papermill + the flow file)",
            tuple(warm["parts"]),
            target=1.1,
            note=f"bench_submit.py as it is: {bench.REPEATS} runs, interleaved with the parts, "
            "no warm-up run (every command is a fresh process, as a user types it)",
        ),
        Row(
            f"{what} on the embedded API",
            tuple(embedded["submit"]),
            "its parts, the flow on a fresh ephemeral API",
            tuple(embedded["parts"]),
            target=1.1,
        ),
        Row(
            f"{what}: kit server (warm)",
            tuple(warm["submit"]),
            "the same on the embedded API",
            tuple(embedded["submit"]),
            target=0.5,
        ),
    ]
