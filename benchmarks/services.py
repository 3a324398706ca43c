"""What `python -m benchmarks` starts once and lends to every module that needs it.

One kit server (`kit server start`: the project's own `prefect server start`) on a copy of the
example project. Starting a Prefect API costs 10-60 s on this machine (more under load), and
four modules need one: bench_promote, bench_dask and bench_cache run their flows on it (through
harness.prefect_api, which otherwise starts an ephemeral API of the module's own), and
bench_submit submits to it as "the running kit server" (its project is that copy). The modules
still run one after the other, each in its own interpreter.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SHARED_API

NEEDS_PREFECT = ("promote", "submit", "dask", "cache")
# The example project copy whose kit server is the shared API (bench_submit's "kit server").
SHARED_PROJECT = "KIT_BENCH_SERVER_PROJECT"
START_SECONDS = "KIT_BENCH_SERVER_START_SECONDS"  # how long `kit server start` took


@contextmanager
def shared(names: list[str]) -> Iterator[dict[str, str]]:
    """The environment variables that point the modules `names` at the shared kit server, which
    runs for the duration of the block (none when no module of `names` needs Prefect)."""
    if not any(name in NEEDS_PREFECT for name in names):
        yield {}
        return
    import bench_submit

    from kit import server
    from kit.project import load_project

    folder = Path(tempfile.mkdtemp(prefix="kit-bench-server-"))
    root = bench_submit.copy_example(folder / "example")
    command = [str(bench_submit.BIN / "kit"), "server", "start"]
    seconds = bench_submit.run(root, command, bench_submit.plain_env())
    project = load_project(root)
    status = server.status(project)
    assert status is not None and status.answers, "the shared kit server does not answer"
    print(f"shared kit server: {status.api_url}, {seconds:.1f} s to start", file=sys.stderr)
    try:
        yield {
            SHARED_API: status.api_url,
            SHARED_PROJECT: str(root),
            START_SECONDS: f"{seconds:.1f}",
        }
    finally:
        server.stop(project)
        shutil.rmtree(folder, ignore_errors=True)
