"""`kit demo`: the example notebook validated on a sample, its flow run on the full data,
a summary."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kit.errors import DemoError
from kit.prefect_env import PREFECT_HOME
from kit.project import Project, require_project

if TYPE_CHECKING:
    from kit.submit import SubmissionReport

NOTEBOOK = "ml_pipeline.ipynb"
FLOW = "model_training"
SAMPLE = {"sample_fraction": 0.3}
FULL_DATA = {"sample_fraction": 1.0}


def run_demo() -> int:
    """Validate the example notebook on a sample, run its flow on the full data, summarise."""
    from kit.notebook import parameter_literals
    from kit.submit import prefect_target, submit

    project = require_project()
    notebook = project.notebooks / NOTEBOOK
    if not notebook.is_file():
        raise DemoError(
            f"the demo notebook {notebook} is missing", hint="run kit demo in the kit repository"
        )
    started = time.perf_counter()
    _step(
        f"1/2 validating {project.relative(notebook)} with papermill on a sample "
        f"({_pairs(SAMPLE)}), then checking modules/ and flows/ against it"
    )
    target = prefect_target(project)
    where = "an embedded local Prefect" if target.api_url is None else target.api_url
    _step(f"2/2 then running flows/{FLOW}.py on {where} with the full data ({_pairs(FULL_DATA)})")
    report = submit(notebook, parameters=SAMPLE, flow=FLOW, flow_parameters=FULL_DATA)
    predictions = project.root / parameter_literals(notebook)["predictions_path"]
    print(
        _summary(project, report, predictions, time.perf_counter() - started),
        flush=True,
    )
    return 0 if report.completed else 1


def _step(text: str) -> None:
    print(f"kit demo: {text}", flush=True)


def _pairs(values: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


def _summary(project: Project, report: SubmissionReport, predictions: Path, seconds: float) -> str:
    """What ran, what it wrote, where to look next."""
    validation = report.validation.notebooks[0]
    lines = [
        "",
        "kit demo: summary",
        f"  notebook checks passed: {project.relative(validation.notebook)} ran clean "
        f"under papermill in {validation.duration:.1f} s and modules/ and flows/ match it",
        f"  executed notebook: {project.relative(validation.executed)}",
    ]
    for run in report.runs:
        lines.append(f"  flow run {run.name!r} of {run.flow}: {run.state}")
        lines += [
            f"    task {task.name}: {task.state} in {task.duration:.2f} s" for task in run.task_runs
        ]
        if run.url:
            lines.append(f"    in the Prefect UI: {run.url}")
    state = "written" if predictions.is_file() else "NOT written"
    lines.append(f"  predictions ({state}): {project.relative(predictions)}")
    if any(run.url for run in report.runs):
        ui = "  Prefect UI:                  the run's page above"
    else:
        ui = (
            "  Prefect UI on the demo's run: kit server start  (its database is "
            f"{project.relative(project.root / PREFECT_HOME)}/prefect.db; then open the URL it "
            "prints; kit submit runs on it from then on)"
        )
    lines += [
        f"  took {seconds:.0f} s",
        "",
        "Look around:",
        ui,
        "  JupyterLab on the notebooks: make lab",
    ]
    return "\n".join(lines)
