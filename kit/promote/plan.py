"""The plan of a promoted flow: which Prefect task computes each node, and what it receives.

Every needed node goes to exactly one task. The unit of assignment is one call: the nodes one
call of a decorated function makes together (extracted columns, a loader's outputs, a saver,
the steps of a pipe) stay together, while separate calls of one function (each @parameterize
variant, each @subdag or @parameterized_subdag instance) are separate units. A Parallelizable
node, what runs per item and its Collect form one unit too: Hamilton runs that block in one
driver. A strategy pins some units to tasks; every other unit runs in the earliest task
that needs it, tasks being ordered by their dependencies and then by the order in which the
outputs were given. A task receives, from the tasks before it, exactly the values its nodes
consume (the frontier) and passes them to Hamilton as overrides, so each node runs once.
"""

from __future__ import annotations

import builtins
import difflib
import heapq
import importlib.util
import keyword
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kit.errors import PromoteError
from kit.grammar import STRATEGIES

if TYPE_CHECKING:
    from kit.dag.graph import DagGraph, NodeInfo

TAG = "prefect_task"
SINGLE_TASK = "compute"
DEFAULT_TAG_TASK = "default"
RESERVED_NAMES = frozenset(
    {"flow", "task", "modules", "flows", "hamilton", "prefect", "pandas", "driver"}
)

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class TaskPlan:
    """One Prefect task of the flow."""

    name: str
    nodes: tuple[str, ...]  # in an order Hamilton could run them
    outputs: tuple[str, ...]  # requested outputs it computes, in request order
    receives: tuple[str, ...]  # values it takes from earlier tasks (Hamilton overrides)
    shares: tuple[str, ...]  # values of its own that later tasks receive
    upstream: tuple[str, ...]  # the tasks it receives from
    modules: tuple[str, ...]  # the modules its nodes come from
    parallel: bool = False  # it holds a Parallelizable/Collect block (Hamilton's executor runs it)
    checks: tuple[str, ...] = ()  # its @check_output validator nodes, whose results it publishes

    @property
    def returns(self) -> tuple[str, ...]:
        """What the task returns: its outputs, then the values later tasks receive."""
        return self.outputs + tuple(name for name in self.shares if name not in self.outputs)


@dataclass(frozen=True)
class FlowPlan:
    """Outputs split into ordered tasks; `task_of` maps every node that runs to its task."""

    strategy: str  # one of STRATEGIES, or "explicit"
    outputs: tuple[str, ...]
    tasks: tuple[TaskPlan, ...]
    task_of: Mapping[str, str]
    inputs: tuple[str, ...]  # external inputs the outputs need (the config may give some)
    notes: tuple[str, ...] = field(default=())  # what the split did that the user did not ask for

    def task(self, name: str) -> TaskPlan:
        return next(task for task in self.tasks if task.name == name)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(upstream task, downstream task) pairs: the task graph."""
        return [(up, task.name) for task in self.tasks for up in task.upstream]

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules whose nodes the flow runs, in the order the tasks first use them."""
        return tuple(dict.fromkeys(module for task in self.tasks for module in task.modules))


def is_importable_top_level(name: str) -> bool:
    """True for a name `import NAME` would find (stdlib, installed, or already imported)."""
    if name in sys.builtin_module_names or name in sys.stdlib_module_names or name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


MAX_NAME_BYTES = 100  # a flow or module name is a file name (NAME.py) of at most 255 bytes


def check_name(name: str, what: str, *, hint: str, flow: str | None = None) -> None:
    """Refuse a flow or task name that is no identifier or would shadow an import."""
    reason = None
    if not isinstance(name, str) or not name.isidentifier():
        reason = "is not a Python identifier"
    elif len(name.encode()) > MAX_NAME_BYTES:
        reason = f"is longer than {MAX_NAME_BYTES} bytes, too long for a file name"
    elif keyword.iskeyword(name) or keyword.issoftkeyword(name):
        reason = "is a Python keyword"
    elif name in RESERVED_NAMES or is_importable_top_level(name):
        reason = "would shadow an import of that name"
    elif what == "flow" and hasattr(builtins, name):
        reason = "would shadow the Python builtin of that name"
    if reason:
        raise PromoteError(
            f"{what} name {name!r} {reason}",
            flow=flow,
            tasks=[name] if what == "task" else [],
            hint=hint,
        )


# -- the plan ----------------------------------------------------------------------------------


def make_plan(
    graph: DagGraph,
    outputs: Sequence[str],
    tasks: str | Mapping[str, Iterable[str] | str] = "by-module",
    *,
    unsaved: Iterable[str] = (),
) -> FlowPlan:
    """Split the nodes `outputs` need into Prefect tasks (see the module docstring)."""
    mapping = _explicit_mapping(tasks) if not isinstance(tasks, str) else None
    if mapping is None and tasks not in STRATEGIES:
        close = difflib.get_close_matches(str(tasks), STRATEGIES, n=1)
        raise PromoteError(
            f"unknown task strategy {tasks!r}"
            + (f" (did you mean {close[0]!r}?)" if close else ""),
            hint=f"use one of {', '.join(STRATEGIES)}, or a mapping of task names to outputs",
        )
    outputs = _check_outputs(graph, outputs, mapping, set(unsaved))
    return _Planner(graph, outputs).plan("explicit" if mapping is not None else str(tasks), mapping)


def _explicit_mapping(tasks: Mapping[str, Iterable[str] | str]) -> dict[str, list[str]]:
    mapping = {
        name: [outs] if isinstance(outs, str) else list(outs) for name, outs in tasks.items()
    }
    if not mapping or not all(mapping.values()):
        raise PromoteError(
            "an explicit task split needs at least one task, each with at least one output",
            tasks=list(mapping),
            hint="write --task NAME=OUT,OUT (repeated), or {'NAME': ['OUT', ...]} in Python",
        )
    for name in mapping:
        check_name(
            name,
            "task",
            hint="name each task of --task NAME=... with an identifier such as 'train'",
        )
    return mapping


def _check_outputs(
    graph: DagGraph,
    outputs: Sequence[str],
    mapping: Mapping[str, list[str]] | None,
    unsaved: set[str],
) -> tuple[str, ...]:
    """The outputs, checked: known, computed, saved when they have a saver, matching the mapping."""
    outputs = list(dict.fromkeys(outputs))
    if mapping is not None:
        mapped = [output for outs in mapping.values() for output in outs]
        twice = sorted({output for output in mapped if mapped.count(output) > 1})
        if twice:
            raise PromoteError(
                f"output{'s' if len(twice) > 1 else ''} {', '.join(twice)} "
                "in more than one task of the split",
                nodes=twice,
                hint="put each output in exactly one --task NAME=OUT,OUT",
            )
        if outputs and set(outputs) != set(mapped):
            missing = [output for output in outputs if output not in mapped]
            extra = [output for output in mapped if output not in outputs]
            detail = "; ".join(
                part
                for part in (
                    f"outputs in no task: {', '.join(missing)}" if missing else "",
                    f"tasks name outputs not in --outputs: {', '.join(extra)}" if extra else "",
                )
                if part
            )
            raise PromoteError(
                f"the task split does not match the outputs ({detail})",
                nodes=missing + extra,
                hint="list every output in exactly one --task, or leave --outputs out",
            )
        outputs = outputs or list(dict.fromkeys(mapped))
    if not outputs:
        raise PromoteError(
            "no outputs to promote", hint="name the nodes the flow computes: --outputs OUT ..."
        )
    graph.check_known(outputs)
    graph.check_not_per_item(outputs)
    graph.check_synchronous(graph.upstream(outputs))
    inputs = [output for output in outputs if graph.nodes[output].is_input]
    if inputs:
        raise PromoteError(
            f"{', '.join(map(repr, inputs))} "
            f"{'is an input' if len(inputs) == 1 else 'are inputs'} of the DAG, "
            "not computed by any node",
            nodes=inputs,
            hint="request the nodes that use them; inputs become parameters of the flow",
        )
    not_outputs = sorted(unsaved - set(outputs))
    if not_outputs:
        raise PromoteError(
            f"--unsaved names {', '.join(map(repr, not_outputs))}, "
            f"which {'is' if len(not_outputs) == 1 else 'are'} "
            "not among the outputs",
            nodes=not_outputs,
            hint="--unsaved lists requested outputs of @save_to functions "
            "that should be returned unsaved",
        )
    for output in outputs:
        savers = _savers_of(graph, output)
        if savers and output not in unsaved and not set(savers) & set(outputs):
            info = graph.nodes[output]
            raise PromoteError(
                f"{output!r} is a @save_to function of module {info.module!r}: "
                "requesting it computes the value "
                f"but never saves it; its saver node is {' or '.join(map(repr, savers))}",
                nodes=[output, *savers],
                hint=f"request {savers[0]!r} to save it "
                f"(add {output!r} as well to also return it), "
                f"or pass --unsaved {output} (unsaved=[{output!r}]) to return it without saving",
            )
    return tuple(outputs)


def _savers_of(graph: DagGraph, name: str) -> list[str]:
    """The @save_to saver nodes made from the same function as node `name`."""
    info = graph.nodes[name]
    return [
        consumer
        for consumer in graph.consumers.get(name, [])
        if graph.hamilton_node(consumer).tags.get("hamilton.data_saver")
        and (graph.nodes[consumer].module, graph.nodes[consumer].function)
        == (info.module, info.function)
    ]


def _function(name: str, nodes: Mapping[str, NodeInfo]) -> tuple[str | None, str]:
    """The decorated function whose call made node `name`: (module, function)."""
    return nodes[name].module, nodes[name].function or name


def _call_owner(name: str, nodes: Mapping[str, NodeInfo]) -> str:
    """The node whose call made `name`: `a` for the subdag or pipe node `a.doubled`."""
    prefix = name.split(".", 1)[0]
    return prefix if prefix != name and prefix in nodes else name


def _words(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class _Planner:
    """One planning pass over the nodes that the outputs need."""

    def __init__(self, graph: DagGraph, outputs: tuple[str, ...]) -> None:
        self.graph = graph
        self.outputs = outputs
        self.order, inputs = self._run_order()
        self.position = {name: index for index, name in enumerate(self.order)}
        self.inputs = tuple(inputs)
        self.notes: list[str] = []
        self._make_units()

    def _run_order(self) -> tuple[list[str], list[str]]:
        """Computed nodes the outputs need, dependencies first, outputs taken in the order given;
        and the external inputs they need, in the order they are first used."""
        order: list[str] = []
        inputs: list[str] = []
        seen: set[str] = set()
        for output in self.outputs:
            if output in seen:
                continue
            stack = [(output, iter(self.graph.nodes[output].dependencies))]
            seen.add(output)
            while stack:
                name, dependencies = stack[-1]
                for dependency in dependencies:
                    if dependency not in seen:
                        seen.add(dependency)
                        stack.append((dependency, iter(self.graph.nodes[dependency].dependencies)))
                        break
                else:
                    stack.pop()
                    (inputs if self.graph.nodes[name].is_input else order).append(name)
        return order, inputs

    def _make_units(self) -> None:
        """Group the nodes into calls, and calls that feed each other (or share a
        Parallelizable/Collect block) into one unit, with the reason each unit is one."""
        nodes = self.graph.nodes
        needed = set(self.order)
        group = {name: name for name in self.order}

        def find(name: str) -> str:
            while group[name] != name:
                group[name] = group[group[name]]
                name = group[name]
            return name

        def join(first: str, other: str) -> None:
            group[find(other)] = find(first)

        for name in self.order:
            owner = _call_owner(name, nodes)
            if owner != name and owner in needed:
                join(owner, name)  # a subdag's or a pipe's inner node belongs to its call
            for dependency in nodes[name].dependencies:
                if dependency in needed and _function(dependency, nodes) == _function(name, nodes):
                    join(dependency, name)  # one call: a function's nodes that feed each other
        blocks = self._blocks()
        for block in blocks:
            for name in block[1:]:
                join(block[0], name)
        calls = list(dict.fromkeys(find(name) for name in self.order))
        call_edges = {
            (find(dependency), find(name))
            for name in self.order
            for dependency in nodes[name].dependencies
            if dependency in needed and find(dependency) != find(name)
        }
        components = strongly_connected(calls, call_edges)
        unit_of_call = {call: index for index, members in enumerate(components) for call in members}
        members: dict[int, list[str]] = {}
        for name in self.order:
            members.setdefault(unit_of_call[find(name)], []).append(name)
        # units numbered by where their first node runs, so every later choice is deterministic
        renumber = {
            old: new
            for new, old in enumerate(
                sorted(members, key=lambda unit: self.position[members[unit][0]])
            )
        }
        self.unit_nodes = {renumber[unit]: tuple(names) for unit, names in members.items()}
        self.unit_of = {name: unit for unit, names in self.unit_nodes.items() for name in names}
        self.unit_deps: dict[int, list[int]] = {unit: [] for unit in self.unit_nodes}
        for unit, names in self.unit_nodes.items():
            deps = {
                self.unit_of[d]
                for name in names
                for d in nodes[name].dependencies
                if d in self.unit_of
            }
            self.unit_deps[unit] = sorted(deps - {unit})
        self.unit_reason = {
            unit: self._reason(names, blocks) for unit, names in self.unit_nodes.items()
        }
        for block in blocks:
            self.notes.append(
                f"nodes {_words(block)} form a Parallelizable/Collect block, "
                "which runs in one task with Hamilton's executor"
            )

    def _blocks(self) -> list[list[str]]:
        """Each Parallelizable node with what runs per item and its Collect, in run order."""
        nodes = self.graph.nodes
        needed = set(self.order)
        blocks = []
        for start in (name for name in self.order if nodes[name].expands):
            block = {start}
            pending = [start]
            while pending:
                for consumer in self.graph.consumers.get(pending.pop(), []):
                    if consumer in needed and consumer not in block:
                        block.add(consumer)
                        if not nodes[consumer].collects:
                            pending.append(consumer)
            blocks.append(sorted(block, key=self.position.__getitem__))
        return blocks

    def _reason(self, names: Sequence[str], blocks: Sequence[Sequence[str]]) -> str:
        """Why these nodes are one unit, as a refusal to split them says it."""
        if any(set(block) <= set(names) for block in blocks if len(block) > 1):
            return "one Parallelizable/Collect block, which Hamilton runs in one driver"
        functions = list(dict.fromkeys(_function(name, self.graph.nodes)[1] for name in names))
        if len(functions) == 1:
            return f"one call of function {functions[0]}"
        return f"functions {_words(functions)}, which feed each other"

    def unit_modules(self, unit: int) -> list[str]:
        return list(
            dict.fromkeys(self.graph.nodes[name].module or "" for name in self.unit_nodes[unit])
        )

    # -- pins: what each strategy decides ------------------------------------------------------

    def plan(self, strategy: str, mapping: Mapping[str, list[str]] | None) -> FlowPlan:
        if strategy == "single":
            pins = {unit: SINGLE_TASK for unit in self.unit_nodes}
        elif strategy == "by-module":
            pins = self._module_pins()
        elif strategy == "per-output":
            pins = self._output_pins({output: [output] for output in self.outputs}, explicit=False)
        elif strategy == "by-tag":
            pins = self._tag_pins()
        else:
            assert mapping is not None
            pins = self._output_pins(mapping, explicit=True)
        return self._finish(strategy, pins, self._task_order(pins, strategy))

    def _module_pins(self) -> dict[int, str]:
        """A task per module; modules that feed each other in a cycle merge into one task."""
        modules = list(
            dict.fromkeys(module for unit in self.unit_nodes for module in self.unit_modules(unit))
        )
        group = {module: module for module in modules}

        def find(module: str) -> str:
            while group[module] != module:
                module = group[module]
            return module

        for unit in self.unit_nodes:
            first, *rest = self.unit_modules(unit)
            for other in rest:
                group[find(other)] = find(first)
        edges = {
            (find(self.unit_modules(dep)[0]), find(self.unit_modules(unit)[0]))
            for unit, deps in self.unit_deps.items()
            for dep in deps
        }
        roots = list(dict.fromkeys(find(module) for module in modules))
        for component in strongly_connected(roots, edges):
            for other in component[1:]:
                group[find(other)] = find(component[0])
        members: dict[str, list[str]] = {}
        for module in modules:
            members.setdefault(find(module), []).append(module)
        names = {root: "_and_".join(group_modules) for root, group_modules in members.items()}
        for group_modules in members.values():
            if len(group_modules) > 1:
                self.notes.append(self._cycle_note(group_modules, "_and_".join(group_modules)))
        return {unit: names[find(self.unit_modules(unit)[0])] for unit in self.unit_nodes}

    def _cycle_note(self, modules: list[str], task: str) -> str:
        nodes = self.graph.nodes
        crossings = [
            f"{nodes[dep].module}.{dep} -> {nodes[name].module}.{name}"
            for name in self.order
            for dep in nodes[name].dependencies
            if dep in self.unit_of
            and nodes[dep].module in modules
            and nodes[name].module in modules
            and nodes[dep].module != nodes[name].module
        ]
        return (
            f"modules {', '.join(modules)} feed each other ({'; '.join(crossings[:4])}), "
            f"so by-module runs them as one task, {task}"
        )

    def _output_pins(self, mapping: Mapping[str, list[str]], *, explicit: bool) -> dict[int, str]:
        """Each output's unit goes to its task; one function's outputs cannot be split up."""
        pins: dict[int, str] = {}
        pinned_by: dict[int, str] = {}
        for task, outputs in mapping.items():
            for output in outputs:
                unit = self.unit_of[output]
                if unit not in pins:
                    pins[unit], pinned_by[unit] = task, output
                elif pins[unit] != task:
                    first = pinned_by[unit]
                    if explicit:
                        raise PromoteError(
                            f"outputs {first!r} (task {pins[unit]!r}) and {output!r} "
                            f"(task {task!r}) {self._together(unit, output)}, which runs in one "
                            "task",
                            nodes=[first, output],
                            tasks=[pins[unit], task],
                            hint=f"put {first!r} and {output!r} in the same --task",
                        )
                    self.notes.append(
                        f"output {output} {self._together(unit, output, first)}, "
                        f"so task {pins[unit]} computes it"
                    )
        if not explicit:
            for task in dict.fromkeys(pins.values()):
                check_name(
                    task,
                    "task",
                    hint="per-output names each task after its output; "
                    "use an explicit split (--task NAME=OUT) to choose another name",
                )
        return pins

    def _together(self, unit: int, output: str, first: str | None = None) -> str:
        """Why `output` cannot leave the task of `unit` (beside `first` in a note), as a phrase."""
        reason = self.unit_reason[unit]
        function = self.graph.nodes[output].function
        if reason.startswith("one call of function"):
            if first is None:
                return f"are made by the same function ({function})"
            return f"is made by the same function as {first} ({function})"
        return f"belong to {reason}" if first is None else f"belongs with {first} to {reason}"

    def _tag_pins(self) -> dict[int, str]:
        """Units tagged prefect_task=NAME go to NAME.

        Untagged outputs that no tagged task needs go to 'default'.
        """
        pins: dict[int, str] = {}
        for unit, names in self.unit_nodes.items():
            tagged = {
                name: self.graph.nodes[name].tags[TAG]
                for name in names
                if TAG in self.graph.nodes[name].tags
            }
            values = set(map(str, tagged.values()))
            if len(values) > 1:
                raise PromoteError(
                    f"nodes {', '.join(tagged)} come from one function "
                    "but are tagged for different tasks "
                    f"({', '.join(sorted(values))})",
                    nodes=list(tagged),
                    tasks=sorted(values),
                    hint=f"give them the same @tag({TAG}=...)",
                )
            if tagged:
                (node, task), *_ = tagged.items()
                if not isinstance(task, str):
                    raise PromoteError(
                        f"node {node!r} has @tag({TAG}={task!r}); a task name is one string",
                        nodes=[node],
                        hint=f"write @tag({TAG}='NAME')",
                    )
                check_name(
                    task,
                    "task",
                    hint=f"change @tag({TAG}=...) of node {node!r} "
                    "to an identifier such as 'train'",
                )
                pins[unit] = task
        needed = self._needed_by(pins)[0]
        for output in self.outputs:
            unit = self.unit_of[output]
            if unit not in pins and not needed.get(unit):
                pins[unit] = DEFAULT_TAG_TASK
        return pins

    # -- from pins to tasks -------------------------------------------------------------------

    def _needed_by(
        self, pins: Mapping[int, str]
    ) -> tuple[dict[int, set[str]], dict[tuple[str, str], tuple[int, int]]]:
        """For each unpinned unit, the tasks that need it; and the task edges the pins imply,
        each with one (upstream unit, downstream unit) pair that makes it."""
        needers: dict[int, set[str]] = {}
        edges: dict[tuple[str, str], tuple[int, int]] = {}
        for start, task in sorted(pins.items()):
            stack = [start]
            seen = {start}
            while stack:
                for dep in self.unit_deps[stack.pop()]:
                    if dep in pins:
                        if pins[dep] != task:
                            edges.setdefault((pins[dep], task), (dep, start))
                    elif dep not in seen:
                        seen.add(dep)
                        needers.setdefault(dep, set()).add(task)
                        stack.append(dep)
        return needers, edges

    def _task_order(self, pins: dict[int, str], strategy: str) -> list[str]:
        """Tasks in dependency order; among ready tasks, the one the earliest output needs first."""
        tasks = list(dict.fromkeys(pins[unit] for unit in sorted(pins)))
        _, edges = self._needed_by(pins)
        cycles = [component for component in strongly_connected(tasks, edges) if len(component) > 1]
        if cycles:
            cycle = cycles[0]
            how = "tag" if strategy == "by-tag" else "task"
            crossings = [
                f"{after} needs {self.unit_nodes[dep][-1]} from {before}"
                for (before, after), (dep, _) in sorted(edges.items())
                if before in cycle and after in cycle
            ]
            raise PromoteError(
                f"the {how} split makes tasks {', '.join(cycle)} depend on each other in a cycle "
                f"({'; '.join(crossings)})",
                tasks=cycle,
                hint="move the nodes that feed back "
                "(see the task graph of the plan) into one task, "
                "or put those outputs in one task",
            )
        upstream_of_output = [self.graph.upstream([output]) for output in self.outputs]
        key: dict[str, tuple[int, int]] = {}
        for unit in sorted(pins):
            first_output = min(
                (
                    index
                    for index, names in enumerate(upstream_of_output)
                    if self.unit_nodes[unit][0] in names
                ),
                default=len(self.outputs),
            )
            task = pins[unit]
            key[task] = min(key.get(task, (first_output, unit)), (first_output, unit))
        incoming = {task: 0 for task in tasks}
        for _, after in edges:
            incoming[after] += 1
        ready = [(key[task], task) for task in tasks if incoming[task] == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, task = heapq.heappop(ready)
            order.append(task)
            for before, after in sorted(edges):
                if before == task:
                    incoming[after] -= 1
                    if incoming[after] == 0:
                        heapq.heappush(ready, (key[after], after))
        return order

    def _finish(self, strategy: str, pins: dict[int, str], order: list[str]) -> FlowPlan:
        rank = {task: index for index, task in enumerate(order)}
        needers, _ = self._needed_by(pins)
        unit_task = dict(pins)
        for unit in self.unit_nodes:
            if unit not in unit_task:
                unit_task[unit] = min(needers[unit], key=rank.__getitem__)
        task_of = {name: unit_task[self.unit_of[name]] for name in self.order}
        nodes = self.graph.nodes
        receives: dict[str, set[str]] = {task: set() for task in order}
        receivers: dict[str, set[str]] = {name: set() for name in self.order}
        for name in self.order:
            for dependency in nodes[name].dependencies:
                if dependency in task_of and task_of[dependency] != task_of[name]:
                    receives[task_of[name]].add(dependency)
                    receivers[dependency].add(task_of[name])
        in_order = self.position.__getitem__
        plans = []
        for task in order:
            own = [name for name in self.order if task_of[name] == task]
            plans.append(
                TaskPlan(
                    name=task,
                    nodes=tuple(own),
                    outputs=tuple(output for output in self.outputs if task_of[output] == task),
                    receives=tuple(sorted(receives[task], key=in_order)),
                    shares=tuple(name for name in own if receivers[name]),
                    upstream=tuple(
                        sorted({task_of[name] for name in receives[task]}, key=rank.__getitem__)
                    ),
                    modules=tuple(dict.fromkeys(nodes[name].module or "" for name in own)),
                    parallel=any(nodes[name].expands for name in own),
                    checks=tuple(name for name in own if nodes[name].checks),
                )
            )
        return FlowPlan(
            strategy=strategy,
            outputs=self.outputs,
            tasks=tuple(plans),
            task_of=task_of,
            inputs=self.inputs,
            notes=tuple(self.notes),
        )


def strongly_connected(items: Sequence[T], edges: Iterable[tuple[T, T]]) -> list[list[T]]:
    """Strongly connected components (Tarjan), each in `items` order.

    They are ordered by their first item.
    """
    successors: dict[T, list[T]] = {item: [] for item in items}
    for before, after in edges:
        successors[before].append(after)
    index: dict[T, int] = {}
    low: dict[T, int] = {}
    stack: list[T] = []
    on_stack: set[T] = set()
    components: list[list[T]] = []
    for root in items:
        if root in index:
            continue
        work: list[tuple[T, Iterable[T]]] = [(root, iter(successors[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            item, pending = work[-1]
            for successor in pending:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(successors[successor])))
                    break
                if successor in on_stack:
                    low[item] = min(low[item], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[item])
                if low[item] == index[item]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == item:
                            break
                    components.append(component)
    position = {item: i for i, item in enumerate(items)}
    for component in components:
        component.sort(key=position.__getitem__)
    return sorted(components, key=lambda component: position[component[0]])
