"""`kit submit`: validate a notebook, then run (or deploy) the flows it owns on Prefect.

What was validated is what runs: each flow gets the validated parameters it declares, and the
`hamilton_config` keys that the notebook's config takes from them (`%hamilton_config model=$model_type`),
then the `--flow-param` overrides. The Prefect side runs in one child process (`child_main`)
whose working directory is the project root, against the server of PREFECT_API_URL or else an
embedded ephemeral Prefect API whose home and SQLite database live in the project's .kit/prefect.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import generated
from kit.errors import SubmitError, ValidationFailedError
from kit.parameters import collect_parameters, notebook_parameters, typed_flow_parameter
from kit.project import Project, require_project
from kit.validate import ValidationReport, validate

EMBEDDED_HOME = Path(".kit") / "prefect"
ARTIFACT_KEY = "kit-validation"


@dataclass(frozen=True)
class TaskRunReport:
    name: str
    state: str
    duration: float  # seconds the task ran


@dataclass(frozen=True)
class FlowRunReport:
    """A flow run as the Prefect API tells it after it finished."""

    flow: str
    id: str
    name: str
    state: str
    message: str | None
    parameters: dict[str, Any]
    task_runs: tuple[TaskRunReport, ...]
    url: str | None  # the run's page, when a Prefect UI answers there
    deployment: str | None = None

    @property
    def completed(self) -> bool:
        return self.state == "Completed"

    def text(self) -> str:
        via = f" (deployment {self.deployment})" if self.deployment else ""
        lines = [f"flow {self.flow}{via}: run {self.name!r} {self.id}: {self.state}"]
        if self.message and not self.completed:
            lines.append(f"  {self.message}")
        lines.append(
            "  parameters: "
            + (", ".join(f"{k}={v!r}" for k, v in self.parameters.items()) or "the defaults")
        )
        lines += [
            f"  task {task.name}: {task.state} in {task.duration:.2f} s" for task in self.task_runs
        ]
        if self.url:
            lines.append(f"  {self.url}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SubmissionReport:
    """The validation of the notebook and the flow runs submitted after it."""

    notebook: Path
    validation: ValidationReport
    api: str  # the server's URL, or where the embedded API keeps its database
    runs: tuple[FlowRunReport, ...]

    @property
    def completed(self) -> bool:
        return all(run.completed for run in self.runs)

    def runs_text(self) -> str:
        """Where the runs went, each run, and how many completed."""
        done = sum(run.completed for run in self.runs)
        return "\n".join(
            [
                f"Prefect: {self.api}",
                *(run.text() for run in self.runs),
                f"{done} of {len(self.runs)} flow run{'s' if len(self.runs) != 1 else ''} completed",
            ]
        )

    def text(self) -> str:
        return f"{self.validation.text()}\n{self.runs_text()}"

    def __str__(self) -> str:
        return self.text()


def owned_flows(project: Project, notebook: Path) -> dict[str, Path]:
    """The flows whose generated header names `notebook`, by flow name."""
    owner = project.relative(notebook)
    flows = {}
    for path in sorted(project.flows.glob("*.py")):
        parsed = generated.read(path)
        if parsed is not None and parsed[0].notebook == owner:
            flows[path.stem] = path
    return flows


@dataclass(frozen=True)
class _FromParameter:
    """A config value that a notebook parameter gives (`model=$model_type`; `key` for a dict parameter)."""

    name: str
    key: str | None = None


def config_from_parameters(notebook: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The Hamilton config keys the notebook takes from `parameters`, with the values given there.

    The notebook's config is followed in order as a kernel builds it (`-c` of a cell merges,
    `%hamilton_config` replaces), with each given parameter standing for itself.
    """
    from kit.config import parse_config
    from kit.notebook import HamiltonCell, read_notebook

    source = read_notebook(notebook)
    namespace = {**source.parameters, **{name: _FromParameter(name) for name in parameters}}

    def parse(text: str) -> dict[str, Any]:
        variable = text.strip().removeprefix("$")
        if variable in parameters and isinstance(
            parameters[variable], Mapping
        ):  # `%hamilton_config PARAM`
            return {key: _FromParameter(variable, key) for key in parameters[variable]}
        return parse_config(text, namespace)

    config: dict[str, Any] = {}
    for step in source.steps:
        if isinstance(step, HamiltonCell):
            for text in step.config:
                config.update(parse(text))
        elif step.magic == "hamilton_config":
            config = parse(step.argument)
    taken = {}
    for key, value in config.items():
        if isinstance(value, _FromParameter):
            given = parameters[value.name]
            taken[key] = given if value.key is None else given[value.key]
    return taken


def submit(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    flow: str | None = None,
    flow_parameters: Mapping[str, Any] | None = None,
    deploy: bool = False,
    pool: str | None = None,
    *,
    parameters_file: str | Path | None = None,
    timeout: float | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> SubmissionReport:
    """Validate `notebook` with `parameters`, then run the flows it owns (or `flow`) on Prefect.

    Raises ValidationFailedError (nothing submitted) when validation fails. With `deploy`, each flow
    becomes a deployment on the PREFECT_API_URL server for the process work pool `pool` (created
    when missing) and a run of it is triggered; a worker of that pool runs it. With `progress`, the
    validation report is printed as soon as it is known, and the Prefect side's output as it comes.
    """
    path = Path(notebook)
    if not path.is_file():
        raise SubmitError(f"no notebook at {path}", notebook=str(path), hint="check the path")
    path = path.resolve()
    project = require_project(path.parent)
    if deploy and not pool:
        raise SubmitError(
            "--deploy needs --pool POOL, the process work pool its runs go to",
            hint="add --pool NAME",
        )
    if pool and not deploy:
        raise SubmitError(
            "--pool goes with --deploy", hint="add --deploy, or drop --pool to run the flows now"
        )
    flows = _selected_flows(project, path, flow)
    _check_flow_parameters(flows, flow_parameters or {})
    api_url = _prefect_api_url()
    if deploy and api_url is None:
        raise SubmitError(
            "--deploy needs a Prefect server: PREFECT_API_URL is not set",
            hint="start one (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api, "
            "or submit without --deploy to run on the embedded Prefect",
        )
    values = collect_parameters(file=parameters_file) if parameters_file else {}
    values.update(parameters or {})
    values = notebook_parameters(path).conform(values)
    _check_json("parameter", values)
    _check_json("flow parameter", flow_parameters or {})
    report = validate([path], values, timeout=timeout, out=out, progress=progress)
    if progress:
        print(report.text(), flush=True)
    if not report.passed:
        raise ValidationFailedError(report)
    job = {
        "notebook": project.relative(path),
        "flows": {name: project.relative(file) for name, file in flows.items()},
        "parameters": values,
        "hamilton_config": config_from_parameters(path, values),
        "flow_parameters": dict(flow_parameters or {}),
        "deploy": deploy,
        "pool": pool,
        "deployment": path.stem,
        "artifact": report.markdown(),
    }
    runs = _run_child(project, job, api_url)
    api = api_url or f"embedded (database in {project.root / EMBEDDED_HOME})"
    return SubmissionReport(notebook=path, validation=report, api=api, runs=runs)


def _selected_flows(project: Project, notebook: Path, flow: str | None) -> dict[str, Path]:
    owned = owned_flows(project, notebook)
    name = project.relative(notebook)
    if not owned:
        raise SubmitError(
            f"{name} owns no flow (no file in {project.relative(project.flows)}/ names it in its header)",
            notebook=name,
            hint="promote outputs to a flow first: %hamilton_promote FLOW --outputs ... in the notebook, "
            "then `kit export`",
        )
    if flow is None:
        return owned
    if flow not in owned:
        raise SubmitError(
            f"{name} owns no flow {flow!r}; it owns {', '.join(sorted(owned))}",
            notebook=name,
            flow=flow,
            hint="name one of its flows with --flow, or leave --flow out to submit them all",
        )
    return {flow: owned[flow]}


def declared_parameters(path: Path) -> list[str] | None:
    """The parameter names of the flow function in flows/FLOW.py (named like the file), read without importing it."""
    import ast

    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.FunctionDef) and statement.name == path.stem:
            arguments = statement.args
            return [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    return None


def _check_flow_parameters(flows: Mapping[str, Path], overrides: Mapping[str, Any]) -> None:
    """Refuse `--flow-param` names a flow does not declare before anything runs."""
    for name, path in flows.items():
        declared = declared_parameters(path)
        unknown = sorted(set(overrides) - set(declared)) if declared is not None else []
        if unknown:
            raise SubmitError(
                f"flow {name} has no parameter {', '.join(unknown)}; its parameters are {', '.join(declared) or 'none'}",
                flow=name,
                hint="pass --flow-param only for parameters the flow declares",
            )


def _prefect_api_url() -> str | None:
    """The API URL Prefect's settings give (environment, profile, or a test harness), if any."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def _check_json(kind: str, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise SubmitError(
                f"{kind} {name}={value!r} cannot be sent to Prefect (flow parameters are stored as JSON)",
                hint="give numbers, strings, booleans, lists or dicts of them",
            ) from None


def _run_child(
    project: Project, job: dict[str, Any], api_url: str | None
) -> tuple[FlowRunReport, ...]:
    """Run the Prefect side in a child process in the project root; the flow runs it reports."""
    env = dict(os.environ)
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    else:
        home = project.root / EMBEDDED_HOME
        home.mkdir(parents=True, exist_ok=True)
        for name in (
            "PREFECT_API_URL",
            "PREFECT_API_DATABASE_CONNECTION_URL",
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
        ):
            env.pop(name, None)
        env["PREFECT_HOME"] = str(home)  # the database defaults to PREFECT_HOME/prefect.db
        env["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "true"
    with tempfile.TemporaryDirectory(prefix="kit-submit-") as folder:
        job_file, result_file = Path(folder) / "job.json", Path(folder) / "result.json"
        job_file.write_text(json.dumps(job))
        child = "import sys; from kit.submit import child_main; sys.exit(child_main(sys.argv[1:]))"
        completed = subprocess.run(
            [sys.executable, "-c", child, str(job_file), str(result_file)],
            cwd=project.root,
            env=env,
        )
        if not result_file.exists():
            raise SubmitError(
                f"the Prefect side of the submission stopped (exit status {completed.returncode}) before it "
                "reported any flow run",
                hint="its output above says why",
            )
        result = json.loads(result_file.read_text())
    if "error" in result:
        raise SubmitError(
            result["error"]["message"],
            flow=result["error"].get("flow"),
            hint=result["error"]["hint"],
        )
    return tuple(
        FlowRunReport(
            **{**run, "task_runs": tuple(TaskRunReport(**task) for task in run["task_runs"])}
        )
        for run in result["runs"]
    )


def submit_command(args: argparse.Namespace) -> int:
    """`kit submit NOTEBOOK [-p NAME VALUE] [--flow NAME] [--flow-param NAME VALUE] [--deploy --pool POOL]`."""
    try:
        report = submit(
            args.notebook,
            collect_parameters(args.parameters),
            flow=args.flow,
            flow_parameters={
                name: typed_flow_parameter(value) for name, value in args.flow_parameters
            },
            deploy=args.deploy,
            pool=args.pool,
        )
    except ValidationFailedError:
        print(
            f"kit submit: validation of {args.notebook} failed; nothing was submitted",
            file=sys.stderr,
        )
        return 1
    print(report.runs_text())
    return 0 if report.completed else 1


# -- the child process: everything that talks to Prefect -------------------------------------------


def child_main(argv: list[str]) -> int:
    """The child process (JOB_FILE RESULT_FILE): load every flow and its parameters, then run or deploy each."""
    job_file, result_file = Path(argv[0]), Path(argv[1])
    job = json.loads(job_file.read_text())
    project = require_project(Path.cwd())
    project.put_root_on_sys_path()
    try:
        loaded = {name: _load_flow(project, name, file) for name, file in job["flows"].items()}
        planned = {name: _flow_parameters(flow, job) for name, flow in loaded.items()}
        if job["deploy"]:
            _ensure_process_pool(job["pool"])
            runs = [
                _deploy(project, name, job["flows"][name], planned[name], job) for name in loaded
            ]
        else:
            runs = [_run(name, loaded[name], planned[name], job) for name in loaded]
    except SubmitError as error:
        result_file.write_text(
            json.dumps(
                {"error": {"message": error.message, "hint": error.hint, "flow": error.flow}}
            )
        )
        return 1
    result_file.write_text(json.dumps({"runs": runs}, default=str))
    return 0


def _load_flow(project: Project, name: str, file: str) -> Any:
    """The Prefect flow NAME defined in `file`, imported as the module flows.NAME."""
    import importlib

    from prefect import Flow

    module_name = f"{project.flows_package}.{name}"
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # anything the flow file raises on import
        raise SubmitError(
            f"{file} cannot be imported: {type(error).__name__}: {error}",
            flow=name,
            hint="run `kit check` to see whether it drifted from its notebook, and `kit export` to rewrite it",
        ) from None
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise SubmitError(
            f"{module_name} has no Prefect flow named {name}",
            flow=name,
            hint=f"a generated flow is the function {name} decorated with @flow; `kit export` rewrites it",
        )
    return flow


def _flow_parameters(flow: Any, job: Mapping[str, Any]) -> dict[str, Any]:
    """The validated parameters the flow declares, its hamilton_config with the notebook's, the overrides."""
    import inspect

    declared = inspect.signature(flow.fn).parameters
    values = {key: value for key, value in job["parameters"].items() if key in declared}
    if job["hamilton_config"] and "hamilton_config" in declared:
        default = declared["hamilton_config"].default
        base = dict(default) if isinstance(default, Mapping) else {}
        values["hamilton_config"] = {**base, **job["hamilton_config"]}
    values.update(job["flow_parameters"])  # their names were checked before validation
    return values


def _run(
    name: str, flow: Any, parameters: dict[str, Any], job: Mapping[str, Any]
) -> dict[str, Any]:
    state = flow(**parameters, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    _attach_report(flow_run_id, job)
    return _describe(name, flow_run_id)


def _ensure_process_pool(pool: str) -> None:
    """Create the process work pool when the server has none of that name; refuse another type."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            print(f"created process work pool {pool!r}", flush=True)
            return
    if existing.type != "process":
        raise SubmitError(
            f"work pool {pool!r} is a {existing.type!r} pool, not a process pool",
            hint="name a process pool with --pool (kit creates one when the name is free)",
        )


def _deploy(
    project: Project, name: str, file: str, parameters: dict[str, Any], job: Mapping[str, Any]
) -> dict[str, Any]:
    """Create or update the deployment NAME/NOTEBOOK of the project folder, trigger a run, wait for it."""
    import asyncio

    from prefect import Flow
    from prefect.deployments import run_deployment
    from prefect.flow_runs import wait_for_flow_run

    source = Flow.from_source(source=project.root, entrypoint=f"{file}:{name}")
    deployment_id = source.deploy(
        name=job["deployment"],
        work_pool_name=job["pool"],
        parameters=parameters,
        build=False,
        push=False,
        print_next_steps=False,
    )
    run = run_deployment(deployment_id, parameters=parameters, timeout=0, as_subflow=False)
    _attach_report(run.id, job)
    print(
        f"deployment {source.name}/{job['deployment']}: run {run.name!r} scheduled on work pool {job['pool']!r}; "
        f"waiting for a worker (`prefect worker start --pool {job['pool']}`)",
        flush=True,
    )
    asyncio.run(wait_for_flow_run(run.id, timeout=None))
    return _describe(name, run.id, deployment=f"{source.name}/{job['deployment']}")


def _attach_report(flow_run_id: Any, job: Mapping[str, Any]) -> None:
    """The validation report and the executed notebook's path, as a markdown artifact of the run."""
    from prefect import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    with get_client(sync_client=True) as client:
        client.create_artifact(
            ArtifactCreate(
                key=ARTIFACT_KEY,
                type="markdown",
                description=f"kit validation of {job['notebook']}",
                data=job["artifact"],
                flow_run_id=flow_run_id,
            )
        )


def _describe(name: str, flow_run_id: Any, deployment: str | None = None) -> dict[str, Any]:
    """The finished flow run and its task runs, read back from the API."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    tasks = sorted(
        tasks,
        key=lambda task: (task.start_time or task.expected_start_time or run.created, task.name),
    )
    return {
        "flow": name,
        "id": str(run.id),
        "name": run.name,
        "state": run.state.name if run.state else "Unknown",
        "message": run.state.message if run.state else None,
        "parameters": run.parameters,
        "task_runs": [
            {
                "name": task.name,
                "state": task.state.name if task.state else "Unknown",
                "duration": task.total_run_time.total_seconds(),
            }
            for task in tasks
        ],
        "url": _reachable_url(run),
        "deployment": deployment,
    }


def _reachable_url(run: Any) -> str | None:
    """The run's page in the Prefect UI, if a UI answers (an embedded API has none)."""
    import httpx
    from prefect.settings import PREFECT_UI_URL
    from prefect.utilities.urls import url_for

    base = PREFECT_UI_URL.value()
    if not base:
        return None
    try:
        answered = httpx.get(base, timeout=2, headers={"Accept": "text/html"}).status_code < 400
    except httpx.HTTPError:
        return None
    return url_for(run) if answered else None
