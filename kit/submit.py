"""`kit submit`: validate a notebook, then run (or deploy) the flows it owns on Prefect.

What was validated is what runs: each flow gets the validated parameters it declares, and the
`hamilton_config` keys that the notebook's config takes from them
(`%hamilton_config model=$model_type`), then the `--flow-param` overrides. The Prefect side runs
in one child process (`child_main`) whose working directory is the project root, started while
the notebook runs, against the server of PREFECT_API_URL, else the project's kit server
(`kit server start`), else an embedded ephemeral Prefect API whose home and SQLite database live
in the project's .kit/prefect.

Faults are reported, not left to Prefect's tracebacks: the child records each flow run as it
starts; while it runs on a server the parent asks that server for its health, and when nothing
listens there any more it ends the child and names the run in flight (PrefectServerError); when the
child dies while a flow runs (killed, not a Python exception), a fresh child marks the runs it had
not finished Crashed on the API, and they are reported so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import generated, server
from kit.deferred_imports import defer_iri_grammar
from kit.errors import PrefectServerError, SubmitError, ValidationFailedError
from kit.parameters import collect_parameters, notebook_parameters, typed_flow_parameter
from kit.prefect_env import (
    PREFECT_HOME,
    configured_api_url,
    local_prefect_environment,
    prefect_environment,
)
from kit.project import Project, require_project
from kit.validate import ValidationReport, validate

ARTIFACT_KEY = "kit-validation"
PHASE = "==> "  # the prefix of a phase line on stdout
CHILD_EXIT_SECONDS = 30.0
EMBEDDED_POLL_SECONDS = 0.1  # how often the child asks the starting embedded API for its health
HEALTH_SECONDS = 1.0  # how often the parent asks the server for its health while the flows run
GONE_CHECKS = 2  # refused health checks in a row that mean the server stopped
RECOVER_SECONDS = 180.0  # the bound on reading back (and marking Crashed) the runs of a dead child
STARTED = "started.jsonl"  # one line per flow run as it starts: flow, id, name, pid
ERROR_LOG = Path(".kit") / "submit-error.log"  # the traceback of the Prefect side's last failure


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
        return "\n".join(
            [f"Prefect: {self.api}", *(run.text() for run in self.runs), _completed(self.runs)]
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
    """A config value a notebook parameter gives (`model=$model_type`; `key`: of a dict one)."""

    name: str
    key: str | None = None


def config_from_parameters(notebook: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The Hamilton config keys the notebook takes from `parameters`, with the values given there.

    The notebook's config is followed in order as a kernel builds it (`-c` of a cell merges,
    `%hamilton_config` replaces), with each given parameter standing for itself.
    """
    from kit.grammar import parse_config
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
    flow: str | Sequence[str] | None = None,
    flow_parameters: Mapping[str, Any] | None = None,
    deploy: bool = False,
    pool: str | None = None,
    *,
    parameters_file: str | Path | None = None,
    timeout: float | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> SubmissionReport:
    """Validate `notebook` with `parameters`, then run the flows it owns (or those `flow` names).

    Raises ValidationFailedError (nothing submitted) when validation fails. The runs go to the
    PREFECT_API_URL the user set, else the project's kit server (`kit server start`), else an
    embedded Prefect API; the Prefect side loads (and an embedded API starts) while the notebook
    runs. With `deploy`, each flow becomes a deployment on that server for the process work pool
    `pool` (created when missing) and a run of it is triggered; a worker of that pool runs it.
    With `progress`, `==> ` phase lines, the validation report and the Prefect side's output are
    printed as they come.
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
    target = prefect_target(project)
    if deploy and target.api_url is None:
        raise SubmitError(
            "--deploy needs a Prefect server: PREFECT_API_URL is not set and no kit server runs",
            hint="start the project's server with `kit server start`, "
            "or submit without --deploy to run on the embedded Prefect",
        )
    values = collect_parameters(file=parameters_file) if parameters_file else {}
    values.update(parameters or {})
    values = notebook_parameters(path).conform(values)
    _check_json("parameter", values)
    _check_json("flow parameter", flow_parameters or {})
    _phase(progress, f"validating {project.relative(path)}")
    with contextlib.ExitStack() as stack:  # the API starts, Prefect loads, while the notebook runs
        embedded = None if target.api_url else stack.enter_context(server.embedded_api(project))
        child = stack.enter_context(_Child(project, target, flows, embedded))
        bar = progress and sys.stderr.isatty()  # a progress bar only where it redraws in place
        report = validate(
            [path], values, timeout=timeout, out=out, progress=bar, kernel_env=target.kernel_env
        )
        if progress:
            print(report.text(), flush=True)
        if not report.passed:
            raise ValidationFailedError(report)
        _phase(progress, target.phase)
        runs = child.run(
            {
                "notebook": project.relative(path),
                "parameters": values,
                "hamilton_config": config_from_parameters(path, values),
                "flow_parameters": dict(flow_parameters or {}),
                "deploy": deploy,
                "pool": pool,
                "deployment": path.stem,
                "artifact": report.markdown(),
                "progress": progress,
            }
        )
    _phase(progress, f"done: {_completed(runs)}")
    return SubmissionReport(notebook=path, validation=report, api=target.description, runs=runs)


def _completed(runs: Sequence[FlowRunReport]) -> str:
    done = sum(run.completed for run in runs)
    return f"{done} of {len(runs)} flow run{'s' if len(runs) != 1 else ''} completed"


def _phase(progress: bool, text: str) -> None:
    """A `==> ` phase line (the widget's Submit tab shows them as they come)."""
    if progress:
        print(f"{PHASE}{text}", flush=True)


@dataclass(frozen=True)
class PrefectTarget:
    """Where a submission's runs go: a server's API URL, or None for an embedded API."""

    api_url: str | None
    source: str  # "PREFECT_API_URL", "kit server" or "embedded"
    home: Path | None = None  # the embedded API's home (its database is prefect.db there)

    @property
    def description(self) -> str:
        if self.api_url is None:
            return f"embedded (database in {self.home})"
        return f"{self.api_url} ({self.source})"

    @property
    def kernel_env(self) -> dict[str, str]:
        """What the validation kernel is told of this Prefect (`secret:NAME` values load there)."""
        if self.api_url is not None:
            return {"PREFECT_API_URL": self.api_url}
        assert self.home is not None
        return {"PREFECT_HOME": str(self.home), "PREFECT_SERVER_EPHEMERAL_ENABLED": "true"}

    @property
    def phase(self) -> str:
        if self.api_url is None:
            return "starting the local Prefect (embedded; `kit server start` keeps one running)"
        return f"using the Prefect server at {self.api_url.removesuffix('/api')} ({self.source})"


def prefect_target(project: Project) -> PrefectTarget:
    """PREFECT_API_URL when the user set it (it must answer), else the project's running kit
    server, else the embedded API."""
    url = configured_api_url()
    if url:
        if not server.answers(url):
            raise PrefectServerError(
                f"PREFECT_API_URL is {url}, and no Prefect API answers there",
                url=url,
                hint="start that server, or unset PREFECT_API_URL to run on the project's own "
                "server (`kit server start`) or an embedded Prefect",
            )
        return PrefectTarget(api_url=url, source="PREFECT_API_URL")
    running = server.status(project)
    if running is not None:  # one that is starting or busy is waited for: it owns the database
        found = running if running.answers else server.wait_until_answering(running)
        return PrefectTarget(api_url=found.api_url, source="kit server")
    return PrefectTarget(api_url=None, source="embedded", home=project.root / PREFECT_HOME)


def _selected_flows(
    project: Project, notebook: Path, flow: str | Sequence[str] | None
) -> dict[str, Path]:
    owned = owned_flows(project, notebook)
    name = project.relative(notebook)
    if not owned:
        raise SubmitError(
            f"{name} owns no flow (no file in {project.relative(project.flows)}/ names it in its "
            "header)",
            notebook=name,
            hint="promote outputs to a flow first: %hamilton_promote FLOW --outputs ... in the "
            "notebook, then `kit export`; a copy of another notebook owns nothing until its "
            f"modules and flows have names of their own and `kit export {name}` wrote them",
        )
    if flow is None:
        return owned
    wanted = [flow] if isinstance(flow, str) else list(dict.fromkeys(flow))
    for one in wanted:
        if one not in owned:
            raise SubmitError(
                f"{name} owns no flow {one!r}; it owns {', '.join(sorted(owned))}",
                notebook=name,
                flow=one,
                hint="name its flows with --flow (repeat it for several), "
                "or leave --flow out to submit them all",
            )
    return {one: owned[one] for one in wanted}


def declared_parameters(path: Path) -> list[str] | None:
    """The parameter names of the flow function of flows/FLOW.py (named like the file), read
    without importing it."""
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
                f"flow {name} has no parameter {', '.join(unknown)}; "
                f"its parameters are {', '.join(declared or []) or 'none'}",
                flow=name,
                hint="pass --flow-param only for parameters the flow declares",
            )


def _check_json(kind: str, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise SubmitError(
                f"{kind} {name}={value!r} cannot be sent to Prefect "
                "(flow parameters are stored as JSON)",
                hint="give numbers, strings, booleans, lists or dicts of them",
            ) from None


class _Child:
    """The child process that runs the Prefect side in the project root: started before validation
    so that it imports Prefect and the flows (and waits for the embedded API to answer) meanwhile;
    it runs the flows when given the job, and exits without running anything when its input
    closes."""

    def __init__(
        self,
        project: Project,
        target: PrefectTarget,
        flows: Mapping[str, Path],
        embedded: server.EmbeddedAPI | None = None,
    ) -> None:
        self.project = project
        self.target = target
        self.embedded = embedded
        self.flows = {name: project.relative(file) for name, file in flows.items()}
        self.folder = tempfile.TemporaryDirectory(prefix="kit-submit-")
        self.result_file = Path(self.folder.name) / "result.json"
        self.started_file = self.result_file.with_name(STARTED)  # the child writes it as runs start
        self.env: dict[str, str] = {}
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> _Child:
        if self.embedded is not None:
            env = local_prefect_environment(self.project.root)
            env["PREFECT_API_URL"] = self.embedded.api_url
        else:
            assert self.target.api_url is not None
            env = prefect_environment()
            env["PREFECT_API_URL"] = self.target.api_url
        self.env = env
        prepare = {
            "flows": self.flows,
            "embedded_started": self.embedded.started if self.embedded else None,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(prepare), str(self.result_file)],
            cwd=self.project.root,
            env=env,
            stdin=subprocess.PIPE,
            text=True,
        )
        return self

    def run(self, job: Mapping[str, Any]) -> tuple[FlowRunReport, ...]:
        """Hand the job to the child, wait for it, and read back the flow runs it reports."""
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.close()
        except BrokenPipeError:  # it stopped early; its result or exit status says why
            pass
        status = self._wait()
        if not self.result_file.exists():
            started = read_started(self.started_file)
            if started:  # killed while a flow ran (a crash, not a Python exception)
                return self._recover(started, status)
            raise SubmitError(
                f"the Prefect side of the submission stopped ({_exit_text(status)}) before it "
                f"ran flow {', '.join(self.flows)}",
                hint="its output above says why",
            )
        result = json.loads(self.result_file.read_text())
        if "error" in result:
            error = result["error"]
            if error.get("embedded_timeout"):
                raise PrefectServerError(
                    error["message"], hint=error["hint"], url=None, log=None, pid=None
                )
            raise SubmitError(error["message"], flow=error.get("flow"), hint=error["hint"])
        return _run_reports(result["runs"])

    def _wait(self) -> int:
        """The child's exit status once it ends. While it runs on a server, ask the server for its
        health every HEALTH_SECONDS: when nothing listens there any more (refused GONE_CHECKS times
        in a row), end the child, whose Prefect client would retry for minutes and then print
        tracebacks, and raise PrefectServerError naming the run in flight. On the embedded API,
        whose process is this one's, see that the process still runs."""
        assert self.process is not None
        url = self.target.api_url
        if url is None:
            return self._wait_embedded()
        refused = 0
        while refused < GONE_CHECKS:
            try:
                return self.process.wait(timeout=HEALTH_SECONDS)
            except subprocess.TimeoutExpired:
                refused = refused + 1 if server.gone(url) else 0
        self.process.kill()
        self.process.wait()
        started = read_started(self.started_file)
        if started:
            last = started[-1]
            what = f"flow {last['flow']} ran (run {last['name']!r} {last['id']})"
            after = "; that server still shows the run Running"
        else:
            what, after = f"flow {', '.join(self.flows)} was starting", ""
        where = url.removesuffix("/api")
        again = (
            "start it again with `kit server start`"
            if self.target.source == "kit server"
            else f"start the server at {where} again (or unset PREFECT_API_URL)"
        )
        raise PrefectServerError(
            f"the Prefect server at {where} ({self.target.source}) stopped answering while {what}"
            f"; kit submit stopped the run{after}",
            url=url,
            hint=f"{again}, then submit again (a flow promoted with --cache reruns only the tasks "
            "that had not completed)",
        )

    def _wait_embedded(self) -> int:
        assert self.process is not None and self.embedded is not None
        while True:
            try:
                return self.process.wait(timeout=HEALTH_SECONDS)
            except subprocess.TimeoutExpired:
                failure = self.embedded.exited()
                if failure is not None:
                    self.process.kill()
                    self.process.wait()
                    raise failure from None

    def _recover(self, started: list[dict[str, Any]], status: int) -> tuple[FlowRunReport, ...]:
        """The runs a dead child had started, read back from the API in a fresh child, which marks
        those that had not finished Crashed (nothing else would: no worker watched them); when it
        cannot, the runs as the child recorded them, Crashed."""
        pid = started[-1]["pid"]
        message = (
            f"the process that ran the flow (PID {pid}) was {_exit_text(status)} before the run "
            "finished; kit submit marked the run Crashed"
        )
        recovered = self.result_file.with_name("recovered.json")
        with contextlib.suppress(subprocess.TimeoutExpired):  # then: the runs as recorded
            subprocess.run(
                [sys.executable, "-c", RECOVER, str(self.started_file), str(recovered), message],
                cwd=self.project.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                timeout=RECOVER_SECONDS,
            )
        if recovered.exists():
            return _run_reports(json.loads(recovered.read_text())["runs"])
        return tuple(  # a deployment's run is a worker's: its state is not known here
            FlowRunReport(
                flow=run["flow"],
                id=run["id"],
                name=run["name"],
                state="Unknown" if run.get("deployment") else "Crashed",
                message=f"{message} here (the Prefect API could not be told)",
                parameters=run.get("parameters", {}),
                task_runs=(),
                url=None,
                deployment=run.get("deployment"),
            )
            for run in started
        )

    def __exit__(self, *exc: object) -> None:
        """End the child when it did not run the job (validation failed), and wait for it."""
        if self.process is not None:
            if self.process.poll() is None:  # nothing to run: it may still be loading
                self.process.terminate()  # its handler exits cleanly
            try:
                self.process.wait(timeout=CHILD_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.folder.cleanup()


CHILD = "import sys; from kit.submit import child_main; sys.exit(child_main(sys.argv[1:]))"
RECOVER = "import sys; from kit.submit import recover_main; sys.exit(recover_main(sys.argv[1:]))"


def _run_reports(runs: Sequence[Mapping[str, Any]]) -> tuple[FlowRunReport, ...]:
    return tuple(
        FlowRunReport(
            **{**run, "task_runs": tuple(TaskRunReport(**task) for task in run["task_runs"])}
        )
        for run in runs
    )


def read_started(path: Path) -> list[dict[str, Any]]:
    """The flow runs a child recorded as they started (a line cut short by a kill is skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    runs = []
    for line in lines:
        try:
            runs.append(json.loads(line))
        except ValueError:
            continue
    return runs


def _exit_text(status: int) -> str:
    """How a process ended, from its exit status (negative: the signal that killed it)."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"ended with exit status {status}"


def submit_command(args: argparse.Namespace) -> int:
    """`kit submit NOTEBOOK [-p NAME VALUE] [--flow NAME ...] [--flow-param NAME VALUE]
    [--deploy --pool POOL]`."""
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
    print(report.runs_text(), flush=True)
    return 0 if report.completed else 1


# -- the child process: everything that talks to Prefect -------------------------------------------


def child_main(argv: list[str]) -> int:
    """The child process (PREPARE_JSON RESULT_FILE): load Prefect, the flows and the API, then read
    the job from stdin (none: exit) and run or deploy each flow; the runs go to RESULT_FILE."""
    defer_iri_grammar()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit cleanly
    prepare, result_file = json.loads(argv[0]), Path(argv[1])
    started = result_file.with_name(STARTED)
    project = require_project(Path.cwd())
    project.put_root_on_sys_path()
    loaded: dict[str, Any] = {}
    failure: Exception | None = None
    try:
        loaded = {name: _load_flow(project, name, file) for name, file in prepare["flows"].items()}
        _connect(embedded_started=prepare["embedded_started"])
    except Exception as error:  # reported only if the notebook passes, when the job comes
        failure = error
    line = sys.stdin.readline()
    if not line:  # validation failed or was interrupted: nothing runs
        return 0
    job = json.loads(line)
    try:
        if failure is not None:
            raise failure
        planned = {name: _flow_parameters(flow, job) for name, flow in loaded.items()}
        runs = []
        if job["deploy"]:
            _ensure_process_pool(job["pool"])
        for name in loaded:
            if job["progress"]:
                print(f"{PHASE}running flow {name}", flush=True)
            if job["deploy"]:
                runs.append(
                    _deploy(project, name, prepare["flows"][name], planned[name], job, started)
                )
            else:
                runs.append(_run(name, loaded[name], planned[name], job, started))
    except SubmitError as error:
        result_file.write_text(json.dumps({"error": _error_record(error)}))
        return 1
    except Exception as error:  # Prefect's own failure (a server gone mid-run...): one line
        import traceback

        log = project.root / ERROR_LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        unexpected = SubmitError(
            f"the Prefect side failed: {type(error).__name__}: {error}",
            hint=f"the traceback is in {ERROR_LOG}; check the server (`kit server status`) "
            "and submit again",
        )
        result_file.write_text(json.dumps({"error": _error_record(unexpected)}))
        return 1
    result_file.write_text(json.dumps({"runs": runs}, default=str))
    return 0


def recover_main(argv: list[str]) -> int:
    """The child that reads back the runs of a child that died (STARTED_FILE RESULT_FILE MESSAGE):
    each run it ran itself that had not finished becomes Crashed with MESSAGE, with its task runs
    that had not finished (a deployment's run is a worker's, and left alone)."""
    defer_iri_grammar()
    started, result_file, message = Path(argv[0]), Path(argv[1]), argv[2]
    records = read_started(started)
    try:
        _connect()  # a server, or the embedded API, which still runs
        for record in records:
            if record.get("deployment") is None:
                _mark_crashed(record["id"], message)
        runs = [_describe(r["flow"], r["id"], deployment=r.get("deployment")) for r in records]
    except Exception as error:  # the parent reports the runs as recorded, Crashed
        print(f"kit submit: the runs could not be read back: {error}", file=sys.stderr)
        return 1
    result_file.write_text(json.dumps({"runs": runs}, default=str))
    return 0


def _mark_crashed(flow_run_id: str, message: str) -> None:
    """Set the flow run, and its task runs, that are not in a final state to Crashed."""
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        if run.state is not None and run.state.is_final():
            return
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
        for task in tasks:
            if task.state is None or not task.state.is_final():
                client.set_task_run_state(task.id, Crashed(message=message), force=True)


def _error_record(error: SubmitError) -> dict[str, Any]:
    return {
        "message": error.message,
        "hint": error.hint,
        "flow": error.flow,
        "embedded_timeout": isinstance(error, _EmbeddedTimeout),
    }


class _EmbeddedTimeout(SubmitError):
    """The embedded API did not start in time (the parent raises PrefectServerError for it)."""


def _connect(embedded_started: float | None = None) -> None:
    """Ask the API at PREFECT_API_URL for its health: a server must answer now; an embedded API
    (whose process the parent started at time `embedded_started`) is given the startup timeout."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if embedded_started is not None:
        limit = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        while not server.answers(PREFECT_API_URL.value(), timeout=1.0):
            if time.time() > embedded_started + limit:
                raise _EmbeddedTimeout(
                    f"the embedded Prefect API did not start within {limit} s (a busy machine)",
                    hint="start the project's own server once with `kit server start`; "
                    "kit submit then runs on it",
                )
            time.sleep(EMBEDDED_POLL_SECONDS)
    with get_client(sync_client=True) as client:
        failed = client.api_healthcheck()
    if failed is not None:
        where = "the embedded Prefect API" if embedded_started else PREFECT_API_URL.value()
        raise SubmitError(
            f"{where} did not answer: {type(failed).__name__}: {failed}",
            hint="see `kit server status`; `kit server start` starts the project's server",
        )


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
            hint="run `kit check` to see whether it drifted from its notebook, "
            "and `kit export` to rewrite it",
        ) from None
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise SubmitError(
            f"{module_name} has no Prefect flow named {name}",
            flow=name,
            hint=f"a generated flow is the function {name} decorated with @flow; "
            "`kit export` rewrites it",
        )
    return flow


def _flow_parameters(flow: Any, job: Mapping[str, Any]) -> dict[str, Any]:
    """The validated parameters the flow declares, its hamilton_config with the notebook's,
    then the overrides."""
    import inspect

    declared = inspect.signature(flow.fn).parameters
    values = {key: value for key, value in job["parameters"].items() if key in declared}
    if job["hamilton_config"] and "hamilton_config" in declared:
        default = declared["hamilton_config"].default
        base = dict(default) if isinstance(default, Mapping) else {}
        values["hamilton_config"] = {**base, **job["hamilton_config"]}
    values.update(job["flow_parameters"])  # their names were checked before validation
    return values


def _record_start(started: Path, flow: str, run: Any, deployment: str | None = None) -> None:
    """Append the run that starts to STARTED, so the parent can name it if this process dies."""
    record = {
        "flow": flow,
        "id": str(run.id),
        "name": run.name,
        "pid": os.getpid(),
        "parameters": run.parameters,
        "deployment": deployment,
    }
    with started.open("a") as stream:
        stream.write(json.dumps(record, default=str) + "\n")


def _run(
    name: str, flow: Any, parameters: dict[str, Any], job: Mapping[str, Any], started: Path
) -> dict[str, Any]:
    def record(_flow: Any, flow_run: Any, _state: Any) -> None:  # runs before the flow's body
        _record_start(started, name, flow_run)

    recorded = flow.with_options(on_running=[*flow.on_running_hooks, record])
    state = recorded(**parameters, return_state=True)
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
    project: Project,
    name: str,
    file: str,
    parameters: dict[str, Any],
    job: Mapping[str, Any],
    started: Path,
) -> dict[str, Any]:
    """Create or update the deployment NAME/NOTEBOOK of the project folder, trigger a run, wait
    for it."""
    import asyncio

    from prefect import Flow
    from prefect.deployments import run_deployment
    from prefect.flow_runs import wait_for_flow_run

    source: Any = Flow.from_source(source=project.root, entrypoint=f"{file}:{name}")
    deployment_id: Any = source.deploy(
        name=job["deployment"],
        work_pool_name=job["pool"],
        parameters=parameters,
        build=False,
        push=False,
        print_next_steps=False,
    )
    run: Any = run_deployment(deployment_id, parameters=parameters, timeout=0, as_subflow=False)
    _record_start(started, name, run, deployment=f"{source.name}/{job['deployment']}")
    _attach_report(run.id, job)
    print(
        f"deployment {source.name}/{job['deployment']}: run {run.name!r} scheduled on work pool "
        f"{job['pool']!r}; "
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
