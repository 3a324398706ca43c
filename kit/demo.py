"""`kit demo`: the example notebook validated on a sample, its flow run on the full data, a summary."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from kit.errors import DemoError
from kit.project import Project, require_project

NOTEBOOK = "ml_pipeline.ipynb"
FLOW = "model_training"
SAMPLE = {"sample_fraction": 0.3}
FULL_DATA = {"sample_fraction": 1.0}


def demo_command(args: argparse.Namespace) -> int:
    from kit.notebook import parameter_literals
    from kit.submit import EMBEDDED_HOME, submit

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
    _step(
        f"2/2 then running flows/{FLOW}.py on the embedded local Prefect with the full data ({_pairs(FULL_DATA)})"
    )
    report = submit(notebook, parameters=SAMPLE, flow=FLOW, flow_parameters=FULL_DATA)
    predictions = project.root / parameter_literals(notebook)["predictions_path"]
    print(
        _summary(project, report, predictions, time.perf_counter() - started, EMBEDDED_HOME),
        flush=True,
    )
    return 0 if report.completed else 1


def _step(text: str) -> None:
    print(f"kit demo: {text}", flush=True)


def _pairs(values: dict[str, object]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


def _summary(
    project: Project, report, predictions: Path, seconds: float, embedded_home: Path
) -> str:  # type: ignore[no-untyped-def]
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
    state = "written" if predictions.is_file() else "NOT written"
    lines.append(f"  predictions ({state}): {project.relative(predictions)}")
    home = project.root / embedded_home
    lines += [
        f"  took {seconds:.0f} s",
        "",
        "Look around:",
        f"  Prefect UI on the demo's database:  PREFECT_HOME={shlex.quote(str(home))} "
        ".venv/bin/prefect server start  (then open http://127.0.0.1:4200)",
        "  JupyterLab on the notebooks:        make lab",
    ]
    return "\n".join(lines)
