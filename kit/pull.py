"""Pull a Prefect run of a promoted flow back into the workspace (`%hamilton_pull`, `kit pull`).

Through the Prefect API (PREFECT_API_URL, else the project's kit server) it reads the run, its
parameters, the run record its flow published (notebook, Hamilton config, code versions) and the
persisted result of every task that completed, and returns them as a `PulledRun`. Prefect is
imported only here, when a pull runs.
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit import generated
from kit.errors import (
    ForeignRunError,
    NoPrefectApiError,
    ResultUnreachableError,
    RunNotFoundError,
    UnpersistedRunError,
)
from kit.prefect_env import configured_api_url
from kit.project import Project
from kit.promote.runtime import runtime_module
from kit.pulled import PulledNode, PulledRun

if TYPE_CHECKING:
    from kit.workspace import Workspace

RUN_RECORD = "run-record"  # the key suffix of the run record artifact (flows/_runtime.py)
FLOW_PARAMETERS = ("hamilton_config", "hamilton_config_variable")  # not inputs of the DAG


@dataclass(frozen=True)
class RunRecord:
    """What the flow recorded when the run started."""

    notebook: str | None
    config: dict[str, Any]
    versions: dict[str, str]


def api_url(project: Project, run: str) -> str:
    """The Prefect API to read runs from: PREFECT_API_URL if it answers, else the kit server."""
    from kit import server

    url = configured_api_url()
    if url:
        if not server.answers(url):
            raise NoPrefectApiError(run, url=url)
        return url
    running = server.running_api_url(project)
    if running is None:
        raise NoPrefectApiError(run)
    return running


@contextmanager
def _client(url: str) -> Iterator[Any]:
    """A synchronous Prefect client of the API at `url` (results read under the same setting)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        yield client


def pull(ws: Workspace, run: str) -> PulledRun:
    """Read run `run` (an id or a name) and load it into `ws`; what was pulled."""
    pulled = read_run(ws, run)
    ws.set_pulled(pulled)
    return pulled


def read_run(ws: Workspace, run: str) -> PulledRun:
    """The run `run` of a flow `ws`'s notebook owns, with every persisted task value."""
    project = ws.require_project()
    url = api_url(project, run)
    with _client(url) as client:
        flow_run = _find_run(client, run, url)
        flow = client.read_flow(flow_run.flow_id).name
        check_owned(ws, project, flow, run)
        task_runs = _task_runs(client, flow_run.id)
        record = _run_record(client, flow_run.id)
        values, nodes = _task_values(project, flow_run.name, flow, task_runs)
        page = _ui_url(flow_run)
    state = flow_run.state
    config = record.config if record else dict(flow_run.parameters.get("hamilton_config") or {})
    pulled = PulledRun(
        flow=flow,
        id=str(flow_run.id),
        name=flow_run.name,
        state=state.name if state else "Unknown",
        message=state.message if state else None,
        notebook=record.notebook if record else None,
        inputs={k: v for k, v in flow_run.parameters.items() if k not in FLOW_PARAMETERS},
        config=config,
        versions=record.versions if record else {},
        nodes=nodes,
        values=values,
        failed_tasks=tuple(
            _task_name(t) for t in task_runs if t.state and t.state.type.value == "FAILED"
        ),
        url=page,
    )
    return replace(pulled, changed=changed_nodes(ws, pulled))


def changed_nodes(ws: Workspace, run: PulledRun) -> tuple[str, ...]:
    """The nodes of the run whose code in the workspace differs from the version it recorded
    (or that the workspace no longer has)."""
    under = ws if dict(run.config) == ws.config else ws.under_config(run.config)
    nodes = under.graph().nodes
    return tuple(
        name
        for name, version in run.versions.items()
        if name not in nodes or nodes[name].version != version
    )


def check_owned(ws: Workspace, project: Project, flow: str, run: str) -> None:
    """Refuse a run of a flow without a generated file here, or one another notebook owns."""
    header = generated.read(project.flows / f"{flow}.py")
    notebook = ws.notebook_source()
    if header is None:
        raise ForeignRunError(run, flow, notebook=notebook, owner=None)
    owner = header[0].notebook
    if notebook is not None and owner != notebook:
        raise ForeignRunError(run, flow, notebook=notebook, owner=owner)


def _find_run(client: Any, run: str, url: str) -> Any:
    """The flow run whose id or name is `run` (the latest of that name)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    try:
        run_id = uuid.UUID(run)
    except ValueError:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        if not runs:
            raise RunNotFoundError(run, api=url) from None
        return runs[0]
    try:
        return client.read_flow_run(run_id)
    except ObjectNotFound:
        raise RunNotFoundError(run, api=url) from None


def _task_runs(client: Any, flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    )
    return sorted(runs, key=lambda t: (t.start_time or t.expected_start_time or 0, t.name))


def _task_name(task_run: Any) -> str:
    """Prefect names a task run TASK-xyz; the task's name."""
    return str(task_run.name).rsplit("-", 1)[0]


def _run_record(client: Any, flow_run_id: Any) -> RunRecord | None:
    """The run record artifact the flow published when the run started, parsed."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    for artifact in artifacts:
        if artifact.key and artifact.key.endswith(f"-{RUN_RECORD}"):
            return parse_run_record(str(artifact.data))
    return None


def parse_run_record(markdown: str) -> RunRecord:
    """The notebook, config and code versions of a run record's markdown."""
    import json

    notebook = re.search(r"^Notebook: `(.*)`$", markdown, re.M)
    config = re.search(r"^Hamilton config: `(.*)`$", markdown, re.M)
    versions = dict(re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|$", markdown, re.M))
    name = notebook[1] if notebook else None
    return RunRecord(
        notebook=None if name == generated.INTERACTIVE else name,
        config=json.loads(config[1]) if config else {},
        versions=versions,
    )


def _task_values(
    project: Project, run: str, flow: str, task_runs: list[Any]
) -> tuple[dict[str, Any], dict[str, PulledNode]]:
    """The persisted values of the completed task runs, by node, and where each came from."""
    values: dict[str, Any] = {}
    nodes: dict[str, PulledNode] = {}
    unpersisted = []
    for task_run in task_runs:
        state = task_run.state
        if state is None or not state.is_completed():
            continue
        task = _task_name(task_run)
        if state.data is None:
            unpersisted.append(task)
            continue
        result = _read_result(project, run, flow, task, state)
        for name, value in result.items():
            values[name] = value
            kind = type(value)
            nodes[name] = PulledNode(name, f"{kind.__module__}.{kind.__qualname__}", task)
    if unpersisted:
        raise UnpersistedRunError(run, flow, unpersisted)
    return values, nodes


def _read_result(project: Project, run: str, flow: str, task: str, state: Any) -> dict[str, Any]:
    """A completed task's persisted result (a dict by node name), read with the serializer the
    project's flows/_runtime.py defines."""
    location = str(getattr(state.data, "storage_key", None) or "its result storage")
    block = getattr(state.data, "storage_block_id", None)
    if block is None and Path(location).is_absolute() and not Path(location).exists():
        raise ResultUnreachableError(run, flow, task, location, "no such file here")
    try:
        project.put_root_on_sys_path()
        importlib.import_module(runtime_module(project))
        result = state.result(raise_on_failure=False)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        raise ResultUnreachableError(run, flow, task, location, reason) from error
    return dict(result)


def _ui_url(flow_run: Any) -> str | None:
    """The run's page in the Prefect UI (the API's address without /api)."""
    from prefect.settings import PREFECT_UI_URL
    from prefect.utilities.urls import url_for

    return url_for(flow_run) if PREFECT_UI_URL.value() else None


def pull_command(run: str, notebook: str | None = None) -> PulledRun:
    """`kit pull RUN`: the run, checked against NOTEBOOK or the notebook its run record names."""
    from kit.project import require_project
    from kit.steps import workspace_from_notebook
    from kit.workspace import Workspace

    project = require_project()
    path = Path(notebook) if notebook is not None else None
    if path is None:
        url = api_url(project, run)
        with _client(url) as client:
            record = _run_record(client, _find_run(client, run, url).id)
        if record is not None and record.notebook is not None:
            path = project.root / record.notebook
    ws = workspace_from_notebook(path) if path is not None else Workspace(project)
    return read_run(ws, run)
