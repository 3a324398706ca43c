"""Scale-out on Prefect's own machinery: `kit submit --deploy --pool POOL`, then two workers.

One real `prefect server start` on 127.0.0.1 (stopped by its PID), a process work pool, and two
workers started in the project root whose Python cannot import kit (a `kit` package earlier on
their PYTHONPATH refuses to load), so the flows they run import `flows/` and `modules/` alone.
Two runs triggered at once both complete, each on another worker, as the API records it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from test_submit import (  # the server, its client and the example project of the submit tests
    BIN,
    _server_env,
    _stop,
    in_project,
    prefect_server,
    server_client,
    submit_project,
)

__all__ = ["in_project", "prefect_server", "server_client", "submit_project"]

DEPLOY = ("--deploy", "--pool")
WORKER = ("worker", "start", "--pool")
NO_KIT = 'raise ImportError("kit is not installed where this worker runs")\n'


def _wait_until_final(client, run_ids: list, seconds: float = 240) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = [client.read_flow_run(run_id) for run_id in run_ids]
        if all(run.state is not None and run.state.is_final() for run in runs):
            return runs
        time.sleep(0.5)
    pytest.fail(f"flow runs not finished within {seconds} s: {[r.state for r in runs]}")


def test_two_runs_triggered_at_once_complete_on_two_workers_without_kit(
    in_project: Path, prefect_server: str, server_client, tmp_path: Path
) -> None:
    from prefect.deployments import run_deployment

    pool = "kit-scale-pool"
    env = _server_env(prefect_server)
    blocker = tmp_path / "no-kit"
    (blocker / "kit").mkdir(parents=True)
    (blocker / "kit" / "__init__.py").write_text(NO_KIT)
    worker_env = {**env, "PYTHONPATH": str(blocker), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    probe = subprocess.run(
        [str(BIN / "python"), "-c", "import kit"], env=worker_env, capture_output=True, text=True
    )
    assert "kit is not installed where this worker runs" in probe.stderr

    submitting = subprocess.Popen(
        [str(BIN / "kit"), "submit", "notebooks/totals.ipynb", *("-p", "rows", "7"), *DEPLOY, pool],
        cwd=in_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers, logs = [], []
    try:
        for name in ("worker-a", "worker-b"):
            log = (tmp_path / f"{name}.log").open("wb")
            logs.append(log)
            workers.append(
                subprocess.Popen(
                    [str(BIN / "prefect"), *WORKER, pool, "--name", name, "--limit", "1"],
                    cwd=in_project,
                    env=worker_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        out, _ = submitting.communicate(timeout=300)
        assert submitting.returncode == 0, out
        deployment = server_client.read_deployment_by_name("totals/totals")
        runs = [
            run_deployment(deployment.id, timeout=0, as_subflow=False, _sync=True) for _ in range(2)
        ]
        finished = _wait_until_final(server_client, [run.id for run in runs])
    finally:
        if submitting.poll() is None:
            _stop(submitting)
        for worker in workers:
            _stop(worker)
        for log in logs:
            log.close()
    worker_logs = "\n".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
    assert all(run.state.is_completed() for run in finished), worker_logs
    assert {run.labels.get("prefect.worker.name") for run in finished} == {"worker-a", "worker-b"}
    assert all(run.parameters["rows"] == 7 for run in finished), "the validated parameters"
