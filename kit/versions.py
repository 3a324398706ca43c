"""Hamilton code versions: what a generated file records of the code it was built from, and what
changed between two such records.

A module's header records each Hamilton function of its cell (`function=version:signature`): the
version is Hamilton's own (`HamiltonNode.version`: a hash of the source without docstring and
comments), cut to 8 hex digits; the signature hash (4 hex digits) covers the parameter names,
their annotations and the return annotation, so a renamed parameter shows as a change of
dependencies. Functions, not nodes, are recorded: the record does not depend on the config, so a
kernel and `kit export` write the same header whatever config they run under, and a
`@config.when` variant the config does not select is recorded too. A flow's header records, per
task, the code version of each node the task runs; a change reaches a task when one of its nodes
changed or a task it receives values from reruns.
"""

from __future__ import annotations

import ast
import contextlib
import enum
import hashlib
import inspect
import textwrap
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.generated import Header, TaskVersions, read

if TYPE_CHECKING:
    from types import ModuleType

    from kit.dag.graph import DagGraph
    from kit.promote.plan import FlowPlan
    from kit.workspace import Workspace

VERSION = 8  # hex digits of a code version kept in a header
SIGNATURE = 4  # hex digits of a signature hash
UNKNOWN = "?"  # a version Hamilton could not compute (no source)


# -- what a header records ----------------------------------------------------------------------


def _signature(definition: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A short hash of a function's parameter names, their annotations and its return annotation."""
    arguments = definition.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    parameters += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    text = ",".join(
        f"{a.arg}:{ast.unparse(a.annotation) if a.annotation else ''}" for a in parameters
    )
    text += "->" + (ast.unparse(definition.returns) if definition.returns else "")
    return hashlib.sha256(text.encode()).hexdigest()[:SIGNATURE]


# The token of each function object, made once: a function's source does not change (a re-run
# cell makes new function objects), and the widget asks again for every function at each redraw.
_TOKENS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def function_token(fn: Any) -> str:
    """`version:signature` of one Hamilton function, as a module's header records it."""
    try:
        return _TOKENS[fn]
    except (KeyError, TypeError):  # not made yet, or an object that takes no weak reference
        pass
    token = _function_token(fn)
    with contextlib.suppress(TypeError):
        _TOKENS[fn] = token
    return token


def _function_token(fn: Any) -> str:
    from hamilton.graph_types import hash_source_code

    try:
        source = inspect.getsource(fn)
        definition = ast.parse(textwrap.dedent(source)).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return UNKNOWN
    version = hash_source_code(source, strip=True)[:VERSION]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return version
    return f"{version}:{_signature(definition)}"


def _functions(module: ModuleType) -> list[tuple[str, Any]]:
    """The functions Hamilton makes nodes of, in source order."""
    from hamilton import graph_utils

    def line(item: tuple[str, Any]) -> int:
        code = getattr(item[1], "__code__", None)
        return code.co_firstlineno if code is not None else 0

    return sorted(graph_utils.find_functions(module), key=line)


def function_versions(module: ModuleType) -> dict[str, str]:
    """Each Hamilton function of `module` with its `version:signature`, in source order."""
    return {name: function_token(fn) for name, fn in _functions(module)}


def node_version(graph: DagGraph, name: str) -> str:
    """The code version of node `name`, as a flow's header records it."""
    return (graph.nodes[name].version or UNKNOWN)[:VERSION]


def task_versions(graph: DagGraph, plan: FlowPlan) -> tuple[TaskVersions, ...]:
    """Each task of `plan` with the code versions of the nodes it runs."""
    return tuple(
        TaskVersions(
            task.name,
            tuple(task.upstream),
            {n: node_version(graph, n) for n in task.nodes if not graph.nodes[n].is_input},
        )
        for task in plan.tasks
    )


# -- what the current DAG makes of each function -------------------------------------------------


@dataclass(frozen=True)
class FunctionFacts:
    """What one function of a cell module makes under the workspace config."""

    module: str
    nodes: tuple[str, ...]  # empty when the config selects none of its nodes
    when: str = ""  # for a `@config` function: the config keys it reads and their values


def _config_keys(fn: Any) -> list[str]:
    from hamilton.function_modifiers.configuration import config

    decorators = [d for d in getattr(fn, "resolve", []) if isinstance(d, config)]
    return sorted({key for d in decorators for key in (d.optional_config() or {})})


def function_facts(ws: Workspace) -> dict[str, FunctionFacts]:
    """Every function of the workspace's cell modules, with the nodes it makes now.

    Empty when the DAG does not build (the drift is then reported by file only).
    """
    try:
        graph = ws.graph()
    except KitError:
        return {}
    made: dict[int, list[str]] = {}
    for name, info in graph.nodes.items():
        if not info.is_input:
            for fn in graph.hamilton_node(name).originating_functions or ():
                made.setdefault(id(fn), []).append(name)
    facts = {}
    for module_name, entry in ws.entries.items():
        if not entry.is_cell:
            continue
        for name, fn in _functions(entry.module):
            keys = _config_keys(fn)
            when = ", ".join(
                f"{key}={ws.config[key]!r}" if key in ws.config else f"{key} unset" for key in keys
            )
            facts[name] = FunctionFacts(module_name, tuple(made.get(id(fn), ())), when)
    return facts


# -- comparing two records ----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What one side of a comparison records of a notebook's modules and flows."""

    functions: Mapping[str, tuple[str, str]]  # function -> (module, version:signature)
    flows: Mapping[str, tuple[TaskVersions, ...] | None]  # flow file -> tasks (None: unrecorded)
    unrecorded: tuple[str, ...] = ()  # module files whose header records no versions


def record(headers: Mapping[str, Header]) -> Record:
    """The record of generated files' headers, keyed by the files' paths as shown."""
    functions: dict[str, tuple[str, str]] = {}
    flows: dict[str, tuple[TaskVersions, ...] | None] = {}
    unrecorded = []
    for path, header in headers.items():
        if not header.recipe.startswith("%%hamilton"):
            flows[path] = header.tasks
        elif header.versions is None:
            unrecorded.append(path)
        else:
            module = Path(path).stem
            functions.update((name, (module, token)) for name, token in header.versions.items())
    return Record(functions, flows, tuple(unrecorded))


class Change(enum.Enum):
    """How a function differs between two records."""

    ADDED = "added"
    REMOVED = "removed"
    CODE = "changed (code)"
    INTERFACE = "changed (dependencies or type)"


@dataclass(frozen=True)
class FunctionChange:
    """One function that differs, with the nodes it makes under the config now."""

    function: str
    change: Change
    module: str
    nodes: tuple[str, ...]
    selected: bool = True  # False: the config selects none of its nodes
    when: str = ""

    def text(self) -> str:
        """One line, e.g. `changed (code): classifier (function classifier__forest) in train`."""
        if self.change is Change.REMOVED:
            return f"removed: {self.function} (was in {self.module})"
        if not self.selected:
            why = f" ({self.when})" if self.when else ""
            return (
                f"{self.change.value}: {self.function} in {self.module}, "
                f"a variant the config does not select{why}"
            )
        what = ", ".join(self.nodes)
        if self.nodes != (self.function,):
            what += f" (function {self.function})"
        return f"{self.change.value}: {what} in {self.module}"

    def as_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "change": self.change.name.lower(),
            "module": self.module,
            "nodes": list(self.nodes),
            "selected": self.selected,
            "when": self.when,
        }


@dataclass(frozen=True)
class TaskRerun:
    """A task of a flow that a change reaches."""

    flow: str
    task: str
    changed: tuple[str, ...]  # its own nodes that changed (or are new)
    upstream: tuple[str, ...]  # tasks it receives values from that rerun

    def text(self) -> str:
        """E.g. `flows/model_training.py: task train_and_evaluate reruns (classifier changed)`."""
        reasons = []
        if self.changed:
            shown = ", ".join(self.changed[:4]) + (", ..." if len(self.changed) > 4 else "")
            reasons.append(f"{shown} changed")
        if self.upstream:
            reasons.append(f"after {', '.join(self.upstream)}")
        return f"{self.flow}: task {self.task} reruns ({'; '.join(reasons)})"

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "task": self.task,
            "changed": list(self.changed),
            "upstream": list(self.upstream),
        }


@dataclass(frozen=True)
class DagChanges:
    """What changed in one notebook's DAG between two records, and the flow tasks it reaches."""

    notebook: str
    functions: tuple[FunctionChange, ...] = ()
    reruns: tuple[TaskRerun, ...] = ()
    notes: tuple[str, ...] = field(default=())  # new, removed and unrecorded flows and modules

    def __bool__(self) -> bool:
        return bool(self.functions or self.reruns or self.notes)

    def lines(self, since: str = "its last export") -> list[str]:
        """The changes as `kit check` and `kit diff` print them."""
        count = len(self.functions)
        head = f"{self.notebook}: {count} function{'s' if count != 1 else ''} changed since {since}"
        return [
            head,
            *(f"  {c.text()}" for c in self.functions),
            *(f"  {r.text()}" for r in self.reruns),
            *(f"  {note}" for note in self.notes),
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "functions": [c.as_json() for c in self.functions],
            "reruns": [r.as_json() for r in self.reruns],
            "notes": list(self.notes),
        }


def _function_changes(
    old: Record, new: Record, facts: Mapping[str, FunctionFacts]
) -> list[FunctionChange]:
    changes = []
    for name, (module, token) in new.functions.items():
        before = old.functions.get(name)
        if before is None:
            if module in {Path(path).stem for path in old.unrecorded}:
                continue  # its old header recorded nothing to compare with
            change = Change.ADDED
        elif before[1] == token:
            continue  # the same code, wherever it moved
        elif before[1].partition(":")[2] != token.partition(":")[2]:
            change = Change.INTERFACE
        else:
            change = Change.CODE
        fact = facts.get(name)
        if fact is None:  # the DAG did not build: name the function only
            changes.append(FunctionChange(name, change, module, (name,)))
        else:
            changes.append(
                FunctionChange(name, change, module, fact.nodes, bool(fact.nodes), fact.when)
            )
    changes += [
        FunctionChange(name, Change.REMOVED, module, ())
        for name, (module, _) in old.functions.items()
        if name not in new.functions
    ]
    return changes


def reruns(flow: str, old: Iterable[TaskVersions], new: Iterable[TaskVersions]) -> list[TaskRerun]:
    """The tasks of flow `new` that rerun against `old`: a node changed, or an upstream task reruns.

    A node is compared with the same node in any task of `old`, so a node moved between tasks
    with the same code is no change.
    """
    before = {node: version for task in old for node, version in task.versions.items()}
    rerunning: set[str] = set()
    found = []
    for task in new:  # tasks come in an order where a task follows those it receives from
        changed = tuple(n for n, v in task.versions.items() if before.get(n) != v)
        upstream = tuple(name for name in task.after if name in rerunning)
        if changed or upstream:
            rerunning.add(task.name)
            found.append(TaskRerun(flow, task.name, changed, upstream))
    return found


def compare(
    notebook: str, old: Record, new: Record, facts: Mapping[str, FunctionFacts]
) -> DagChanges:
    """What changed from `old` to `new` in one notebook's DAG and the flow tasks it reaches."""
    notes = [
        f"{path}: recorded no code versions (exported by an older kit)" for path in old.unrecorded
    ]
    found: list[TaskRerun] = []
    for flow, tasks in new.flows.items():
        if flow not in old.flows:
            notes.append(f"{flow}: a new flow; all its tasks run")
        elif old.flows[flow] is None:
            notes.append(f"{flow}: recorded no code versions (written by an older kit)")
        elif tasks is not None:
            found += reruns(flow, old.flows[flow] or (), tasks)
    notes += [f"{flow}: no longer promoted" for flow in old.flows if flow not in new.flows]
    return DagChanges(
        notebook, tuple(_function_changes(old, new, facts)), tuple(found), tuple(notes)
    )


# -- the widget: what changed since the last export ----------------------------------------------


def changed_nodes(ws: Workspace, graph: DagGraph) -> dict[str, str]:
    """Node -> how its function differs from the last export ("code", "interface" or "added").

    The last export is the header of each cell module's file in modules/; a module never exported
    (or exported by an older kit) marks nothing.
    """
    if ws.project is None:
        return {}
    exported: dict[str, str] = {}
    recorded: set[str] = set()
    now: dict[int, tuple[str, str]] = {}  # id(function) -> (its name, its token)
    for name, entry in ws.entries.items():
        if not entry.is_cell:
            continue
        header = read(ws.project.modules / f"{name}.py")
        if header is None or header[0].versions is None:
            continue  # never exported: nothing to compare with
        exported.update(header[0].versions)
        recorded.add(name)
        for function, fn in _functions(entry.module):
            now[id(fn)] = (function, function_token(fn))
    found = {}
    for node, info in graph.nodes.items():
        if info.is_input or info.module not in recorded:
            continue
        for fn in graph.hamilton_node(node).originating_functions or ():
            if id(fn) not in now:
                continue
            function, token = now[id(fn)]
            before = exported.get(function)
            if before is None:
                found[node] = Change.ADDED.name.lower()
            elif before != token:
                interface = before.partition(":")[2] != token.partition(":")[2]
                found[node] = "interface" if interface else "code"
            break
    return found
