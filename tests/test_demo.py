"""`kit demo`, the main job, on a copy of this repository's example project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from kit.prefect_env import DEFAULTS


def test_kit_demo_validates_submits_and_summarises(tmp_path: Path) -> None:
    project = tmp_path / "example"
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project)
    for folder in ("notebooks", "modules", "flows"):
        shutil.copytree(
            REPO / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__", ".*")
        )
    # as from a plain shell: none of kit's Prefect defaults (the Makefile's exports) set
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PREFECT_API_URL" and key not in DEFAULTS
    }

    done = subprocess.run(
        [sys.executable, "-m", "kit.cli", "demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("kit demo: summary", 1)[1]
    assert "notebook checks passed: notebooks/ml_pipeline.ipynb" in summary
    assert "of model_training: Completed" in summary
    assert "task prepare_data" in summary and "task train_and_evaluate" in summary
    assert "predictions (written): runs/predictions.csv" in summary
    assert "==> starting the local Prefect" in done.stdout, "no server runs: the embedded API"
    assert "kit server start  (its database is .kit/prefect/prefect.db" in summary
    assert "send_telemetry_heartbeat" not in done.stdout + done.stderr
    predictions = (project / "runs" / "predictions.csv").read_text().splitlines()
    assert predictions[0].endswith("label,prediction")
    assert len(predictions) - 1 == round(569 * 0.25), (
        "the flow ran on the full data set, not the sample"
    )
    assert (project / "runs" / "notebooks" / "ml_pipeline.ipynb").is_file()
