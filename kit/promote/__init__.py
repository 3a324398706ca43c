"""Promote outputs of the workspace DAG to a Prefect flow, flows/FLOW.py.

`make_plan` (plan.py) splits the nodes into tasks, `render_flow` (codegen.py) writes the
source; this module checks everything first, exports the modules the flow imports, and
writes the flow through kit.generated (never over a hand edit).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit import generated, grammar
from kit.errors import PromoteError
from kit.export import module_text
from kit.grammar import DEFAULT_STRATEGY, RUNNERS, command_recipe, parse_promote_line
from kit.promote import runtime
from kit.promote.plan import FlowPlan, TaskPlan, check_name, make_plan
from kit.versions import task_versions

if TYPE_CHECKING:
    from kit.dag.graph import DagGraph
    from kit.promote.codegen import FlowSpec, Parameter
    from kit.workspace import Workspace

__all__ = [
    "FlowPlan",
    "Promotion",
    "TaskPlan",
    "flow_text",
    "make_plan",
    "promote",
]

TaskSplit = str | Mapping[str, Iterable[str] | str]


@dataclass(frozen=True)
class Promotion:
    """What a promote did: the flow file, the line that remakes it, the plan, the module files."""

    path: Path
    line: str
    plan: FlowPlan
    modules: tuple[Path, ...]
    root: Path | None = None

    def _shown(self, path: Path) -> str:
        if self.root is not None:
            try:
                return path.resolve().relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(path)

    def summary(self) -> str:
        """Plain text: the file, the tasks, the equivalent line, and any notes."""
        tasks = " -> ".join(task.name for task in self.plan.tasks)
        lines = [
            f"wrote {self._shown(self.path)}: flow {self.path.stem}, "
            f"{len(self.plan.tasks)} task{'s' if len(self.plan.tasks) > 1 else ''} ({tasks})",
            f"  {self.line}",
        ]
        lines += [f"  note: {note}" for note in self.plan.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        tasks = " &rarr; ".join(f"`{task.name}`" for task in self.plan.tasks)
        text = (
            f"wrote `{self._shown(self.path)}`: flow `{self.path.stem}`, "
            f"{len(self.plan.tasks)} task{'s' if len(self.plan.tasks) > 1 else ''} ({tasks})\n\n"
            f"```\n{self.line}\n```\n"
        )
        return text + "".join(f"\n**Note:** {note}\n" for note in self.plan.notes)


def promote(
    ws: Workspace,
    flow: str,
    outputs: Sequence[str],
    tasks: TaskSplit = DEFAULT_STRATEGY,
    *,
    retries: int = 0,
    retry_delay: float = 0,
    tags: Iterable[str] = (),
    cache: bool = False,
    result_storage: str | None = None,
    unsaved: Iterable[str] = (),
    runner: str = RUNNERS[0],
    promote_line: str | None = None,
) -> Promotion:
    """Write flows/FLOW.py computing `outputs` and export the modules it imports; what was done.

    `promote_line` is the notebook's `%hamilton_promote` line when one made this promotion.
    """
    options = _checked_options(retries, retry_delay, tags, cache, unsaved, runner, result_storage)
    line = promote_line or grammar.promote_line(flow, list(outputs), tasks, **options)
    path, text, spec = _flow_file(
        ws, flow, list(outputs), tasks, options, promote_line or _recipe(ws, line)
    )
    module_texts = [module_text(ws, m.name) for m in spec.modules if ws.entries[m.name].is_cell]
    project = ws.require_project()
    helper = (runtime.runtime_path(project), runtime.runtime_text())  # what the flow imports
    with generated.project_lock(project):  # every file is checked before any is written
        written = [*module_texts, (path, text), helper]
        plans = [generated.plan_write(*file) for file in written]
        generated.write_planned(plans)
    modules = tuple(module_path for module_path, _ in module_texts)
    return Promotion(path=path, line=line, plan=spec.plan, modules=modules, root=project.root)


def _recipe(ws: Workspace, line: str) -> str:
    """What the header of a flow made without a notebook line records (see `command_recipe`)."""
    notebook = ws.notebook_source()
    return line if notebook is None else command_recipe(notebook, line)


def flow_text(ws: Workspace, promote_line: str) -> tuple[Path, str]:
    """The path and full text that promoting `promote_line` would write; writes nothing."""
    flow, options = parse_promote_line(promote_line)
    outputs = options.pop("outputs")
    tasks = options.pop("tasks")
    path, text, _ = _flow_file(ws, flow, outputs, tasks, _checked_options(**options), promote_line)
    return path, text


# -- from the workspace to a flow spec ----------------------------------------------------------


def _checked_options(
    retries: int,
    retry_delay: float,
    tags: Iterable[str],
    cache: bool,
    unsaved: Iterable[str],
    runner: str = RUNNERS[0],
    result_storage: str | None = None,
) -> dict[str, Any]:
    lists = {"tags": tags, "unsaved": unsaved}
    for name, names in lists.items():
        lists[name] = () if isinstance(names, str) else tuple(names)
        if isinstance(names, str) or not all(
            isinstance(item, str) and item for item in lists[name]
        ):
            raise PromoteError(
                f"{name}={names!r} is not a list of names", hint=f"pass {name}=['NAME', ...]"
            )
    tags, unsaved = lists["tags"], lists["unsaved"]
    if not isinstance(retries, int) or retries < 0:
        raise PromoteError(f"retries={retries!r} is not a count", hint="pass a whole number >= 0")
    if not isinstance(retry_delay, (int, float)) or not 0 <= retry_delay < math.inf:
        raise PromoteError(
            f"retry_delay={retry_delay!r} is not a number of seconds",
            hint="pass a finite number >= 0",
        )
    if retry_delay and not retries:
        raise PromoteError(
            "a retry delay without retries does nothing",
            hint="add --retries N, or drop --retry-delay",
        )
    _check_runner(runner)
    _check_result_storage(result_storage, cache)
    return {
        "retries": retries,
        "retry_delay": float(retry_delay),
        "tags": tags,
        "cache": bool(cache),
        "unsaved": unsaved,
        "runner": runner,
        "result_storage": result_storage or None,
    }


def _check_result_storage(block: str | None, cache: bool) -> None:
    """Refuse a storage block without --cache, and a name that is no Prefect block slug."""
    if not block:
        return
    if not cache:
        raise PromoteError(
            f"--result-storage {block} without --cache: only cached flows persist results",
            hint="add --cache, or drop --result-storage",
        )
    kind, slash, name = block.partition("/")
    if not (slash and kind and name) or "/" in name:
        raise PromoteError(
            f"--result-storage {block!r} is not a Prefect block slug TYPE/NAME",
            hint="name a saved storage block, e.g. --result-storage s3-bucket/results",
        )


def _check_runner(runner: str) -> None:
    """Refuse an unknown runner, and the Dask runner where prefect-dask is not installed."""
    if runner not in RUNNERS:
        raise PromoteError(
            f"runner={runner!r} is not a task runner kit knows",
            hint=f"use one of {', '.join(RUNNERS)}",
        )
    if runner == "dask" and importlib.util.find_spec("prefect_dask") is None:
        raise PromoteError(
            "--runner dask runs the flow's tasks with prefect-dask, which is not installed here",
            hint="pip install 'hamilton-notebook-kit[dask]' (prefect-dask and distributed), "
            "then promote again",
        )


def _flow_file(
    ws: Workspace,
    flow: str,
    outputs: list[str],
    tasks: TaskSplit,
    options: Mapping[str, Any],
    line: str,
) -> tuple[Path, str, FlowSpec]:
    from kit.promote.codegen import render_flow

    spec, graph = _spec(ws, flow, outputs, tasks, options)
    path = ws.require_project().flows / f"{flow}.py"
    recorded = task_versions(graph, spec.plan)  # the header records each task's code versions
    return (
        path,
        generated.render(ws.notebook_source(), line, render_flow(spec), tasks=recorded),
        spec,
    )


def _spec(
    ws: Workspace, flow: str, outputs: list[str], tasks: TaskSplit, options: Mapping[str, Any]
) -> tuple[FlowSpec, DagGraph]:
    """The flow to render, and the graph (under the config the flow is written with) it runs."""
    from kit.promote.codegen import FlowSpec, ModuleImport, is_literal

    check_name(
        flow, "flow", flow=flow, hint="name the flow with an identifier such as 'training_flow'"
    )
    written = _written_config(ws)
    if written != ws.config:
        ws = ws.under_config(written)
    entries = ws.entries
    if flow in entries:
        raise PromoteError(
            f"flow name {flow!r} is also a module of the workspace; the flow file would shadow it",
            flow=flow,
            hint=f"call the flow e.g. {flow + '_flow'!r}",
        )
    if flow == runtime.NAME:
        raise PromoteError(
            f"flow name {flow!r} is the module of helpers that every flow imports",
            flow=flow,
            hint=f"call the flow e.g. {flow.strip('_') + '_flow'!r}",
        )
    graph = ws.graph()
    plan = make_plan(graph, outputs, tasks, unsaved=options["unsaved"])
    foreign = [module for module in plan.modules if module not in entries]
    if foreign:
        raise PromoteError(
            f"nodes of {', '.join(foreign)} do not come from a module of the workspace",
            flow=flow,
            hint="add the module that defines them with %hamilton_use",
        )
    config = ws.config
    unwritable = [key for key, value in config.items() if not is_literal(value)]
    if unwritable:
        raise PromoteError(
            f"config value{'s' if len(unwritable) > 1 else ''} {', '.join(unwritable)} "
            "cannot be written into the flow as literals",
            flow=flow,
            hint="use strings, numbers, booleans, lists and dicts of those in %hamilton_config",
        )
    used = [name for name in entries if name in plan.modules]
    spec = FlowSpec(
        name=flow,
        plan=plan,
        modules=tuple(ModuleImport(name, entries[name].module.__name__) for name in used),
        parameters=_parameters(ws, graph, plan),
        config=config,
        notebook=_notebook(ws),
        allow_module_overrides=any(entries[name].override for name in used),
        dynamic_execution=any(info.expands for info in graph.nodes.values()),
        retries=options["retries"],
        retry_delay=options["retry_delay"],
        tags=options["tags"],
        cache=options["cache"],
        result_storage=options["result_storage"],
        unversioned=tuple(name for name in plan.task_of if graph.nodes[name].version is None),
        runner=options["runner"],
        runtime=runtime.runtime_module(ws.require_project()),
    )
    return spec, graph


def _written_config(ws: Workspace) -> dict[str, Any]:
    """The config as the notebook writes it.

    `model=$model_type` takes the parameters cell's literal. A validation run injects other
    parameter values; the flow must not drift with them.
    """
    references = ws.config_references
    literals = _notebook_literals(ws) if references else {}
    return {
        key: literals[references[key]] if references.get(key) in literals else value
        for key, value in ws.config.items()
    }


def _notebook(ws: Workspace) -> str | None:
    return ws.notebook_source()


def _parameters(ws: Workspace, graph: DagGraph, plan: FlowPlan) -> tuple[Parameter, ...]:
    """The external inputs the config does not give.

    Their defaults come from the notebook or the function.
    Every flow of a notebook orders them alike: required ones first (Python wants them before
    those with defaults), each group in the parameters cell's order, then in the DAG's.
    """
    from kit.promote.codegen import NOT_GIVEN, Parameter, is_literal

    literals = _notebook_literals(ws)
    given = set(ws.config)
    needed = set(plan.task_of)
    parameters = []
    for name in plan.inputs:
        if name in given:
            continue
        users = [user for user in graph.consumers.get(name, []) if user in needed]
        defaults = [
            graph.nodes[user].defaults[name] for user in users if name in graph.nodes[user].defaults
        ]
        default, optional = NOT_GIVEN, False
        from_notebook = name in literals and is_literal(literals[name])
        if from_notebook:
            default = literals[name]
        elif users and len(defaults) == len(users):
            if is_literal(defaults[0]):
                default = defaults[0]
            else:
                optional = True
        node_type = graph.nodes[name].python_type
        parameters.append(
            Parameter(name, node_type, default, optional, tuple(users), from_notebook)
        )
    cell_order = {name: index for index, name in enumerate(literals)}
    dag_order = {name: index for index, name in enumerate(graph.nodes)}

    def position(parameter: Parameter) -> tuple[bool, int, int]:
        defaulted = parameter.default is not NOT_GIVEN or parameter.optional
        name = parameter.name
        return (defaulted, cell_order.get(name, len(cell_order)), dag_order[name])

    return tuple(sorted(parameters, key=position))


def _notebook_literals(ws: Workspace) -> dict[str, Any]:
    """The literals of the notebook's `parameters` cell.

    As written, never papermill's injected values.
    """
    path = ws.notebook_path()
    if path is None or not path.is_file():
        return {}
    from kit.notebook import parameter_literals

    return parameter_literals(path)
