"""The Workspace: one kernel's cell modules, used modules and config, and ONE driver over them."""

from __future__ import annotations

import importlib
import json
import os
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kit import secrets
from kit.cells import build_cell_module, check_module_name, ensure_package
from kit.dag.graph import DagGraph, NodeInfo
from kit.errors import CellError, CycleError, DuplicateNodeError, GraphError, KitError
from kit.generated import resolve_notebook
from kit.node_cache import NodeCache
from kit.project import Project, find_project, require_project
from kit.pulled import PulledRun

if TYPE_CHECKING:
    from hamilton import driver as hamilton_driver


@dataclass(frozen=True)
class ModuleEntry:
    """One module of the workspace: a cell module (with its source and magic line) or a used one."""

    name: str
    module: types.ModuleType
    source: str | None = None
    magic_line: str | None = None
    override: bool = False

    @property
    def is_cell(self) -> bool:
        return self.source is not None


class FrontEnds(Protocol):
    """What the workspace's `.export()`, `.promote()` and `.widget()` call.

    The core imports no front end: the kit package plugs them in when it is imported
    (kit/__init__.py), so each layer imports only the layers below it.
    """

    def export(self, ws: Workspace, names: Iterable[str] | None, force: bool) -> list[Path]: ...

    def promote(
        self, ws: Workspace, flow: str, outputs: list[str], tasks: Any, options: dict[str, Any]
    ) -> Path: ...

    def widget(self, ws: Workspace) -> Any: ...


_front_ends: FrontEnds | None = None


def plug_front_ends(front_ends: FrontEnds) -> None:
    """Give the workspace its front ends (the kit package does, once, on import)."""
    global _front_ends
    _front_ends = front_ends


def _plugged() -> FrontEnds:
    assert _front_ends is not None, "importing kit plugs the front ends in"
    return _front_ends


class Workspace:
    """The state every front end reads: modules in order, the Hamilton config, one lazy driver."""

    def __init__(self, project: Project | None = None, notebook: str | None = None) -> None:
        self._project = project
        self.notebook = notebook
        self._entries: dict[str, ModuleEntry] = {}
        self._config: dict[str, Any] = {}
        self._config_references: dict[str, str] = {}
        self._driver: hamilton_driver.Driver | None = None
        self._graph: DagGraph | None = None
        # module -> config key -> its nodes and what each takes; weak, so a replaced module's
        # entry goes with it
        self._node_names: weakref.WeakKeyDictionary[
            types.ModuleType, dict[str, dict[str, frozenset[str]]]
        ] = weakref.WeakKeyDictionary()
        # function -> the nodes it resolved to: a build resolves only the functions that changed
        self._resolved = NodeCache()
        self._listeners: list[Callable[[Workspace], None]] = []
        self._widget: Any = None
        self._pulled: PulledRun | None = None
        self.version = 0

    # -- state ---------------------------------------------------------------------------------

    @property
    def project(self) -> Project | None:
        if self._project is None:
            self._project = find_project()
        return self._project

    @property
    def modules_package(self) -> str:
        return self.project.modules_package if self.project else "modules"

    @property
    def modules(self) -> dict[str, types.ModuleType]:
        """Module name -> module, in the order they were added."""
        return {name: entry.module for name, entry in self._entries.items()}

    @property
    def entries(self) -> dict[str, ModuleEntry]:
        return dict(self._entries)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @config.setter
    def config(self, value: Mapping[str, Any]) -> None:
        self.set_config(value)

    @property
    def config_references(self) -> dict[str, str]:
        """Config keys whose value came from a notebook variable: key -> name.

        For example `model=$model_type`.
        """
        return dict(self._config_references)

    def set_config(
        self, values: Mapping[str, Any], references: Mapping[str, str] | None = None
    ) -> None:
        """Replace the config (what `%hamilton_config` does), remembering `$name` references."""
        self._config = dict(values)
        self._config_references = dict(references or {})
        self._changed()

    def update_config(
        self, values: Mapping[str, Any], references: Mapping[str, str] | None = None
    ) -> None:
        """Merge `values` into the config (what `-c` on a cell does)."""
        if values:
            self._config.update(values)
            for key in values:
                self._config_references.pop(key, None)
            self._config_references.update(references or {})
            self._changed()

    def under_config(self, config: Mapping[str, Any]) -> Workspace:
        """A workspace with the same modules under another config (the current one is untouched)."""
        other = Workspace(self._project, self.notebook)
        other._entries = dict(self._entries)
        other._config = dict(config)
        other._node_names = self._node_names
        other._resolved = self._resolved
        return other

    @property
    def pulled(self) -> PulledRun | None:
        """The Prefect run pulled into the workspace (`%hamilton_pull RUN`), if any."""
        return self._pulled

    def set_pulled(self, run: PulledRun | None) -> None:
        """Take `run`'s inputs, config and values into `execute` (None forgets the pulled run)."""
        self._pulled = run
        self.version += 1
        for listener in list(self._listeners):
            listener(self)

    def on_change(self, listener: Callable[[Workspace], None]) -> None:
        """Call `listener(workspace)` after every change of modules or config."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        self._driver = None
        self._graph = None
        self.version += 1
        for listener in list(self._listeners):
            listener(self)

    # -- adding and removing modules -----------------------------------------------------------

    def add_cell(
        self, name: str, source: str, *, magic_line: str | None = None, override: bool = False
    ) -> types.ModuleType:
        """Run a cell body as module NAME (replacing an earlier one of that name) and return it."""
        package = self.modules_package
        if name not in self._entries or not self._entries[name].is_cell:
            check_module_name(name, modules_package=package)
        self._prepare_package(package)
        previous = self._entries.get(name)
        module = build_cell_module(name, source, package=package)
        entry = ModuleEntry(name, module, source=source, magic_line=magic_line, override=override)
        try:
            self._install(entry)
        except KitError:
            self._put_back(name, previous, module)
            raise
        return module

    def use(self, module: types.ModuleType | str) -> types.ModuleType:
        """Add an existing importable module (`modules.prepare_data`) next to the cell modules."""
        if isinstance(module, str):
            self._prepare_package(self.modules_package)
            try:
                module = importlib.import_module(module)
            except ImportError as error:
                raise KitError(
                    f"cannot import module {module!r}: {error}",
                    hint="check the dotted name; project modules live under "
                    f"{self.modules_package}/ (e.g. {self.modules_package}.NAME)",
                ) from None
        name = module.__name__.rsplit(".", 1)[-1]
        current = self._entries.get(name)
        if (
            current is not None
            and current.module is not module
            and current.module.__name__ != module.__name__
        ):
            raise KitError(
                f"the workspace already has a module named {name!r} ({current.module.__name__})",
                hint=f"remove it first with kit.workspace().remove({name!r})",
            )
        previous = self._entries.get(name)
        try:
            self._install(ModuleEntry(name, module))
        except KitError:
            self._put_back(name, previous, None)
            raise
        return module

    def remove(self, name: str) -> None:
        """Take module NAME out of the workspace."""
        if name not in self._entries:
            raise KitError(
                f"the workspace has no module {name!r}",
                hint=f"its modules are {list(self._entries)}",
            )
        del self._entries[name]
        self._changed()

    def _prepare_package(self, package: str) -> None:
        if self.project is not None:
            self.project.put_root_on_sys_path()
        ensure_package(package)

    def _install(self, entry: ModuleEntry) -> None:
        self._entries[entry.name] = entry
        self._check_duplicates()
        self._check_cycles()
        self._changed()

    def _put_back(
        self, name: str, previous: ModuleEntry | None, failed: types.ModuleType | None
    ) -> None:
        if previous is None:
            self._entries.pop(name, None)
        else:
            self._entries[name] = previous
        if failed is not None:  # the refused cell module leaves sys.modules as it found it
            if previous is not None and previous.module.__name__ == failed.__name__:
                sys.modules[failed.__name__] = previous.module
            else:
                sys.modules.pop(failed.__name__, None)

    # -- nodes and the driver ------------------------------------------------------------------

    def _config_key(self) -> str:
        return json.dumps(self._config, sort_keys=True, default=repr)

    def node_names(self, name: str) -> list[str]:
        """The nodes module NAME defines under the current config."""
        return list(self._nodes_of(name))

    def _nodes_of(self, name: str) -> dict[str, frozenset[str]]:
        """Module NAME's nodes under the current config, each with the nodes it takes (resolved
        once per module and config: a re-run cell resolves only its own functions)."""
        from hamilton import graph_utils

        entry = self._entries[name]
        by_config = self._node_names.setdefault(entry.module, {})
        key = self._config_key()
        if key not in by_config:
            nodes: dict[str, frozenset[str]] = {}
            try:
                for _, fn in graph_utils.find_functions(entry.module):
                    for n in self._resolved.nodes(fn, self._config):
                        if n.name not in self._config:
                            nodes[n.name] = frozenset(n.input_types) - set(self._config)
            except Exception as error:
                raise CellError(
                    f"Hamilton cannot build its nodes: {type(error).__name__}: {error}",
                    module=name,
                    hint="fix the decorators or config of that module",
                ) from error
            by_config[key] = nodes
        return by_config[key]

    def _check_duplicates(self) -> bool:
        """Raise if two modules define one node, unless the later says override.

        True if any does override.
        """
        owner: dict[str, str] = {}
        overridden = False
        for name, entry in self._entries.items():
            for node_name in self.node_names(name):
                first = owner.get(node_name)
                if first is not None and first != name:
                    if not entry.override:
                        raise DuplicateNodeError(node_name, (first, name))
                    overridden = True
                owner[node_name] = name
        return overridden

    def _check_cycles(self) -> None:
        """Raise if nodes depend on each other in a circle (Hamilton builds such a DAG)."""
        import graphlib

        owner: dict[str, str] = {}
        needs: dict[str, frozenset[str]] = {}
        for name in self._entries:
            for node_name, inputs in self._nodes_of(name).items():
                owner[node_name] = name
                needs[node_name] = inputs
        try:
            graphlib.TopologicalSorter(needs).prepare()
        except graphlib.CycleError as error:
            circle = list(reversed(error.args[1][1:]))
            raise CycleError([(node, owner[node]) for node in circle]) from None

    def driver(self) -> hamilton_driver.Driver:
        """One Hamilton driver over all modules and the config; rebuilt only after a change.

        A DAG with a Parallelizable node gets Hamilton's dynamic execution, run in-process and
        synchronously (what a notebook cell expects). The build is incremental: the functions
        resolved at an earlier build (or by a cell's duplicate check) are not resolved again
        (kit/node_cache.py); the rest of the build is Hamilton's.
        """
        if self._driver is None:
            from hamilton import driver as hamilton_driver
            from hamilton import htypes
            from hamilton.execution import executors

            overridden = self._check_duplicates()
            builder = (
                hamilton_driver.Builder()
                .with_modules(*self.modules.values())
                .with_config(self._config)
            )
            if overridden:
                builder = builder.allow_module_overrides()
            try:
                with self._resolved.building():
                    built = builder.build()
                    if any(htypes.is_parallelizable_type(n.type) for n in built.graph.get_nodes()):
                        built = (
                            builder.enable_dynamic_execution(allow_experimental_mode=True)
                            .with_local_executor(executors.SynchronousLocalTaskExecutor())
                            .with_remote_executor(executors.SynchronousLocalTaskExecutor())
                            .build()
                        )
            except KitError:
                raise
            except Exception as error:
                raise GraphError(
                    f"Hamilton cannot build the DAG of modules {list(self._entries)}: {error}",
                    modules=list(self._entries),
                    hint="fix the types or names that disagree between those modules",
                ) from error
            self._resolved.prune()  # what this build did not ask for is gone from the workspace
            self._driver = built
        return self._driver

    def graph(self) -> DagGraph:
        """The DAG as kit reads it (nodes with their modules, edges, lineage)."""
        if self._graph is None:
            module_names = {entry.module.__name__: name for name, entry in self._entries.items()}
            self._graph = DagGraph(self.driver().graph.get_nodes(), module_names)
        return self._graph

    def nodes(self) -> list[NodeInfo]:
        return list(self.graph().nodes.values())

    def execute(
        self,
        outputs: Iterable[str],
        inputs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Compute `outputs`; a dict by node name.

        After a pull, the run's config applies, its inputs fill in those not given, and its
        values stand in for the nodes upstream of `outputs` (never for `outputs` themselves)
        whose code and upstream code are still the versions the run recorded.
        """
        outputs = list(outputs)
        inputs = dict(inputs or {})
        overrides = dict(overrides or {})
        run = self._pulled
        if run is not None:
            if dict(run.config) != self._config:  # the DAG the run ran, under its config
                under = self.under_config(run.config)
                under._pulled = run
                return under.execute(outputs, inputs, overrides)
            overrides = {**self._pulled_values(run, outputs), **overrides}
            inputs = {**self._pulled_inputs(run), **inputs}
        graph = self.graph()
        graph.check_known(outputs)
        graph.check_not_per_item(outputs)
        graph.check_inputs(outputs, given=[*inputs, *overrides, *self._config])
        # `secret:NAME` values load now; config ones reach Hamilton as overrides of their input
        # nodes (the driver and the recorded config keep the reference)
        config_blocks = secrets.references(self._config, "config key")
        input_blocks = secrets.references(inputs, "input")
        secret_config = secrets.resolve(config_blocks, "config key")
        secret_inputs = secrets.resolve(input_blocks, "input")
        inputs = {**inputs, **secret_inputs}
        used = {k: v for k, v in secret_config.items() if k in graph.nodes and k not in overrides}
        graph.check_input_types(outputs, {**self._config, **secret_config, **inputs})
        graph.check_synchronous(graph.upstream(outputs, stop_at=overrides) - set(overrides))
        try:
            return self.driver().execute(outputs, inputs=inputs, overrides={**used, **overrides})
        except BaseException as error:  # a secret's value in the message shows as its reference
            secrets.mask(
                error, {**secret_config, **secret_inputs}, {**config_blocks, **input_blocks}
            )
            raise

    def _pulled_inputs(self, run: PulledRun) -> dict[str, Any]:
        """The run's flow inputs that are inputs of this DAG."""
        nodes = self.graph().nodes
        return {name: value for name, value in run.inputs.items() if name in nodes}

    def _pulled_values(self, run: PulledRun, outputs: list[str]) -> dict[str, Any]:
        """The pulled values usable as overrides for `outputs`: upstream of them, not requested,
        and computed by the code the notebook has now (the node's and its upstream's)."""
        graph = self.graph()
        changed = {
            name
            for name, info in graph.nodes.items()
            if not info.is_input and run.versions.get(name) != info.version
        }
        usable = {}
        for name in graph.upstream(outputs) - set(outputs):
            if name in run.values and not graph.upstream([name]) & changed:
                usable[name] = run.values[name]
        return usable

    # -- where it came from ----------------------------------------------------------------------

    def require_project(self) -> Project:
        """The workspace's project; outside one, the error that says how to make one."""
        return self.project or require_project()

    def notebook_path(self) -> Path | None:
        """The notebook file this workspace came from, if a kernel or a replay said which."""
        return resolve_notebook(self.notebook, self.project)

    def notebook_source(self) -> str | None:
        """The notebook as generated file headers name it: relative to the project root."""
        path = self.notebook_path()
        return None if path is None else self.require_project().relative(path)

    # -- front ends built on the workspace (plugged in by the kit package) ---------------------

    def export(self, names: Iterable[str] | None = None, *, force: bool = False) -> list[Path]:
        """Write modules/NAME.py for the named cell modules (all when None)."""
        return _plugged().export(self, names, force)

    def promote(
        self, flow: str, outputs: Iterable[str] | str, tasks: Any = "by-module", **options: Any
    ) -> Path:
        """Write flows/FLOW.py computing `outputs`, split into Prefect tasks by `tasks`."""
        wanted = [outputs] if isinstance(outputs, str) else list(outputs)
        return _plugged().promote(self, flow, wanted, tasks, options)

    def widget(self) -> Any:
        """The one DAG widget of this workspace (created on first use)."""
        if self._widget is None:
            self._widget = _plugged().widget(self)
        return self._widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<kit.Workspace modules={list(self._entries)} config={self._config}>"


_current: Workspace | None = None


def workspace() -> Workspace:
    """The workspace of this kernel (created on first use)."""
    global _current
    if _current is None:
        _current = Workspace(notebook=notebook_from_environment())
    return _current


def reset_workspace() -> Workspace:
    """Start a fresh workspace (tests, `%reset`-like flows)."""
    global _current
    _current = None
    return workspace()


def notebook_from_environment() -> str | None:
    """The notebook this kernel runs, as Jupyter Server (or `kit validate`) tells it."""
    return os.environ.get("JPY_SESSION_NAME") or None
