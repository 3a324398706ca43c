"""What the front end draws: the workspace DAG as nodes, edges, module groups and a layout, in JSON.

One payload serves the widget, the standalone page and the static SVG of `kit dag`. It holds
every node's facts (type, module, docstring, tags, where it is defined, which `@config.when`
implementation the config chose, how its code changed since the last export), the full
dependency map (so the front end can highlight the upstream of a selection without asking the
kernel), and the positions computed by kit.dag.layout.
"""

from __future__ import annotations

import ast
import graphlib
import inspect
import json
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from kit.dag.graph import DagGraph, NodeInfo
from kit.dag.layout import Box, Group, Placement, layout
from kit.errors import GraphError
from kit.pulled import PulledRun
from kit.versions import changed_nodes

if TYPE_CHECKING:
    from kit.workspace import Workspace

# -- the payload's shape (kit/widget/dag.js declares the same in JSDoc typedefs of these names) --


class Variant(TypedDict):
    """One `@config.when` implementation of a node."""

    function: str
    when: str
    chosen: bool


class _DrawnBox(TypedDict):
    """What every box of the DAG has."""

    id: str
    name: str
    kind: Literal["function", "input", "config", "module"]
    sub: str
    type: str
    module: str | None
    doc: str
    tags: dict[str, Any]
    source: str
    variants: list[Variant]
    changed: str  # since the last export: "code", "interface", "added", or "" for no change
    pulled: str  # the task of the pulled run whose value it has (`%hamilton_pull`), or ""
    color: str
    x: float
    y: float
    w: float
    h: float


class DagNode(_DrawnBox, total=False):
    """A box of the DAG: a node, or a collapsed module (which alone has `members`)."""

    members: list[str]


class DagEdge(TypedDict):
    """An edge between displayed boxes, as SVG path data."""

    source: str
    target: str
    path: str


class GroupBox(TypedDict):
    """The rectangle of a module's group."""

    name: str
    kind: Literal["module"]
    color: str
    x: float
    y: float
    w: float
    h: float


class Unchosen(TypedDict):
    """A node of a module that no implementation the config chose defines."""

    node: str
    variants: list[Variant]


class ModuleEntry(TypedDict):
    """A module as the legend lists it."""

    name: str
    color: str
    collapsed: bool
    count: int
    cell: bool
    unchosen: list[Unchosen]


class DagPayload(TypedDict):
    """Everything the front end draws; `deps` and `shown` cover every node, collapsed or not."""

    engine: str
    note: str
    width: float
    height: float
    nodes: list[DagNode]
    edges: list[DagEdge]
    groups: list[GroupBox]
    modules: list[ModuleEntry]
    deps: dict[str, list[str]]
    shown: dict[str, str]
    run: str  # the pulled run, e.g. "run 'crafty-otter' of counted: Failed", or ""


class TaskEntry(TypedDict):
    """A task of a promotion preview, with its colour."""

    name: str
    color: str
    outputs: list[str]


class TaskColouring(TypedDict):
    """The widget's `plan`: which task runs each node."""

    task_of: dict[str, str]
    tasks: list[TaskEntry]


# Colour-blind friendly (Okabe-Ito and Tableau tones), light enough to read black text on.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#8cd17d",
)
NO_MODULE = "#9aa0a6"  # the colour of a node in no module (an external input)
MODULE_PREFIX = "module:"  # id of the box that stands for a collapsed module
NODE_HEIGHT = 38.0
NAME_CHAR = 7.3  # px per character of a node name (12px monospace)
SUB_CHAR = 6.1  # px per character of the second line (10px monospace)
BOX_PAD = 20.0
MIN_WIDTH = 64.0
SUB_MAX = 34  # characters of the second line before it is cut with an ellipsis


def module_colours(modules: Iterable[str]) -> dict[str, str]:
    """A stable colour per module, in the order the modules joined the workspace."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(modules)}


def check_acyclic(graph: DagGraph) -> None:
    """Raise GraphError naming the nodes of a cycle, if the graph has one."""
    try:
        graphlib.TopologicalSorter(
            {n: info.dependencies for n, info in graph.nodes.items()}
        ).prepare()
    except graphlib.CycleError as error:
        cycle = list(error.args[1])
        modules = sorted({module for n in cycle if (module := graph.nodes[n].module)})
        raise GraphError(
            f"the DAG has a cycle: {' -> '.join(cycle)}",
            modules=modules,
            hint="a node cannot depend on itself through other nodes; rename a parameter or a "
            f"function of module{'s' if len(modules) > 1 else ''} {', '.join(map(repr, modules))}",
        ) from None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _jsonable(value: Any) -> Any:
    """`value` if JSON can carry it, else its repr (tags may hold anything)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _box_width(name: str, sub: str) -> float:
    return round(max(MIN_WIDTH, len(name) * NAME_CHAR, len(sub) * SUB_CHAR) + BOX_PAD, 1)


# -- @config.when implementations --------------------------------------------------------------


def _config_decorators(fn: Any) -> list[Any]:
    from hamilton.function_modifiers.configuration import config

    return [d for d in getattr(fn, "resolve", []) if isinstance(d, config)]


def _decorator_text(fn: Any, decorators: Sequence[Any]) -> str:
    """The `@config...` lines as written in the source, or the config keys they read."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        definition = tree.body[0]
        lines = [
            "@" + ast.unparse(d)
            for d in getattr(definition, "decorator_list", [])
            if ast.unparse(d).startswith("config")
        ]
        if lines:
            return " ".join(lines)
    except (OSError, TypeError, SyntaxError, IndexError):
        pass
    keys = sorted({key for d in decorators for key in (d.optional_config() or {})})
    return f"@config on {', '.join(keys)}" if keys else "@config"


def implementations(module: Any, config: Mapping[str, Any]) -> dict[str, list[Variant]]:
    """Node name -> the `@config`-decorated functions of `module` that would define it.

    Hamilton names the node of `name__variant` after `name` (or after `@config.when(name=...)`),
    and keeps the function whose condition the config meets. Each entry says which it chose.
    """
    from hamilton import graph_utils
    from hamilton.function_modifiers import base

    found: dict[str, list[Variant]] = {}
    for attribute, fn in graph_utils.find_functions(module):
        decorators = _config_decorators(fn)
        if not decorators:
            continue
        target = next((d.target_name for d in decorators if d.target_name), None)
        target = target or base.sanitize_function_name(attribute)
        chosen = all(d.does_resolve(base.filter_config(dict(config), d)) for d in decorators)
        found.setdefault(target, []).append(
            {"function": attribute, "when": _decorator_text(fn, decorators), "chosen": chosen}
        )
    return found


# -- nodes --------------------------------------------------------------------------------------


def _source_text(info: NodeInfo, ws: Workspace) -> str:
    """Where a node is defined, as a person would look for it."""
    if info.is_input or info.source_line is None:
        return ""
    entry = ws.entries.get(info.module or "")
    if entry is not None and entry.is_cell:
        # Counted as the notebook shows the cell: its first line is the `%%hamilton` line.
        where = f"%%hamilton {entry.name} cell, line {info.source_line + 1}"
        return f"{_relative(ws, ws.notebook)}: {where}" if ws.notebook else where
    return f"{_relative(ws, info.source_file or '')}:{info.source_line}"


def _relative(ws: Workspace, path: str) -> str:
    """`path` relative to the project root, when it is a file in the project."""
    if ws.project is None or not path or path.startswith("<"):
        return path
    return ws.project.relative(Path(path))


def _node(
    info: NodeInfo, ws: Workspace, variants: list[Variant], config: Mapping[str, Any], colour: str
) -> DagNode:
    kind: Literal["function", "input", "config"] = (
        "config"
        if info.is_input and info.name in config
        else "input"
        if info.is_input
        else "function"
    )
    if kind == "config":
        sub = f"config = {_cut(repr(config[info.name]), 24)}"
    elif kind == "input":
        sub = f"input: {info.type}"
    else:
        sub = info.type
        chosen = [v["function"] for v in variants if v["chosen"]]
        if len(variants) > 1 and chosen:
            sub = f"{info.type} \u00b7 {chosen[0]} +{len(variants) - 1}"
    sub = _cut(sub, SUB_MAX)
    return {
        "id": info.name,
        "name": info.name,
        "kind": kind,
        "sub": sub,
        "type": info.type,
        "module": info.module,
        "doc": _cut(info.doc, 800),
        "tags": {
            str(k): _jsonable(v) for k, v in info.tags.items() if k != "module"
        },  # Hamilton's own tag
        "source": _source_text(info, ws),
        "variants": variants,
        "changed": "",  # until compared with the last export
        "pulled": "",  # until compared with the pulled run
        "color": colour,
        "x": 0.0,  # until laid out
        "y": 0.0,
        "w": _box_width(info.name, sub),
        "h": NODE_HEIGHT,
    }


def _group_of(node: Mapping[str, Any]) -> str | None:
    """A node is drawn in its module's group; external inputs and collapsed modules in none."""
    return node["module"] if node["kind"] == "function" else None


def _module_box(name: str, members: Sequence[str], colour: str) -> DagNode:
    sub = f"{len(members)} node{'s' if len(members) != 1 else ''}, collapsed"
    return {
        "id": MODULE_PREFIX + name,
        "name": name,
        "kind": "module",
        "sub": sub,
        "type": "",
        "module": name,
        "doc": "",
        "tags": {},
        "source": "",
        "variants": [],
        "changed": "",
        "pulled": "",
        "members": list(members),
        "color": colour,
        "x": 0.0,  # until laid out
        "y": 0.0,
        "w": _box_width(name, sub),
        "h": NODE_HEIGHT,
    }


# -- the payload --------------------------------------------------------------------------------


def _run_label(pulled: PulledRun | None) -> str:
    """How the legend names the pulled run: `run 'NAME' of FLOW: STATE`, or ""."""
    return "" if pulled is None else f"run {pulled.name!r} of {pulled.flow}: {pulled.state}"


def empty_payload() -> DagPayload:
    """The payload of a workspace without nodes."""
    return {
        "engine": "none",
        "note": "",
        "width": 0,
        "height": 0,
        "nodes": [],
        "edges": [],
        "groups": [],
        "modules": [],
        "deps": {},
        "shown": {},
        "run": "",
    }


def dag_payload(
    ws: Workspace, *, collapsed: Iterable[str] = (), engine: str | None = None
) -> DagPayload:
    """The whole workspace DAG, laid out, with the modules in `collapsed` drawn as one box each.

    Raises the workspace's KitError when its DAG cannot be built, and GraphError on a cycle.
    """
    if not ws.entries:
        return empty_payload()
    graph = ws.graph()
    check_acyclic(graph)
    config = ws.config
    colours = module_colours(ws.entries)
    collapsed = [name for name in collapsed if name in colours]

    variants: dict[str, list[Variant]] = {}
    unchosen: dict[str, list[Unchosen]] = {}
    for name, module in ws.modules.items():
        for node_name, found in implementations(module, config).items():
            info = graph.nodes.get(node_name)
            if info is not None and info.module == name:
                variants[node_name] = found
            else:
                unchosen.setdefault(name, []).append({"node": node_name, "variants": found})

    members: dict[str, list[str]] = {name: [] for name in colours}
    shown: dict[str, str] = {}
    for info in (graph.nodes[name] for name in graph.topological_order()):
        if info.module in collapsed:
            members[info.module].append(info.name)
            shown[info.name] = MODULE_PREFIX + info.module
        else:
            shown[info.name] = info.name

    nodes = [
        _node(
            info, ws, variants.get(info.name, []), config, colours.get(info.module or "", NO_MODULE)
        )
        for info in graph.nodes.values()
        if info.module not in collapsed
    ]
    changed = changed_nodes(ws, graph)
    pulled = ws.pulled
    for node in nodes:
        node["changed"] = changed.get(node["id"], "")
        if pulled is not None and node["id"] in pulled.nodes:
            node["pulled"] = pulled.nodes[node["id"]].task
    nodes.extend(
        _module_box(name, members[name], colours[name]) for name in collapsed if members[name]
    )

    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for source, target in graph.edges:
        pair = (shown[source], shown[target])
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            edges.append(pair)

    # A group's label as the front end draws it (a collapse toggle, then the name), with slack.
    groups = [Group(name, f"\u25be {name}  ") for name in colours if name not in collapsed]
    boxes = [Box(n["id"], n["w"], n["h"], _group_of(n)) for n in nodes]
    placement = layout(boxes, edges, groups, engine=engine)
    return _assemble(ws, graph, nodes, placement, colours, collapsed, unchosen, shown)


def _assemble(
    ws: Workspace,
    graph: DagGraph,
    nodes: list[DagNode],
    placement: Placement,
    colours: Mapping[str, str],
    collapsed: Sequence[str],
    unchosen: Mapping[str, list[Unchosen]],
    shown: Mapping[str, str],
) -> DagPayload:
    for node in nodes:
        node["x"], node["y"] = placement.centres[node["id"]]
    group_boxes: list[GroupBox] = [
        {"name": name, "kind": "module", "color": colours[name], "x": x, "y": y, "w": w, "h": h}
        for name, (x, y, w, h) in placement.groups.items()
    ]
    counts = Counter(info.module for info in graph.nodes.values())
    modules: list[ModuleEntry] = [
        {
            "name": name,
            "color": colour,
            "collapsed": name in collapsed,
            "count": counts[name],
            "cell": ws.entries[name].is_cell,
            "unchosen": unchosen.get(name, []),
        }
        for name, colour in colours.items()
    ]
    return {
        "engine": placement.engine,
        "note": placement.note,
        "width": placement.width,
        "height": placement.height,
        "nodes": nodes,
        "edges": [
            {"source": r.source, "target": r.target, "path": r.path} for r in placement.routes
        ],
        "groups": group_boxes,
        "modules": modules,
        "deps": {name: list(info.dependencies) for name, info in graph.nodes.items()},
        "shown": dict(shown),
        "run": _run_label(ws.pulled),
    }


# -- the task plan of a promotion ---------------------------------------------------------------


def plan_payload(plan: Any) -> dict[str, Any]:
    """A kit.promote.plan.FlowPlan as the front end colours it: node -> task, tasks with colours.

    Also a laid-out task graph (tasks as boxes, an edge where a task receives another's values),
    drawn beside the DAG before the flow is written.
    """
    colours = {task.name: PALETTE[i % len(PALETTE)] for i, task in enumerate(plan.tasks)}
    producer = dict(plan.task_of)
    nodes = []
    for task in plan.tasks:
        sub = f"{len(task.nodes)} node{'s' if len(task.nodes) != 1 else ''}"
        sub = _cut(f"{sub} \u2192 {', '.join(task.outputs)}" if task.outputs else sub, SUB_MAX)
        nodes.append(
            {
                "id": task.name,
                "name": task.name,
                "kind": "task",
                "sub": sub,
                "color": colours[task.name],
                "w": _box_width(task.name, sub),
                "h": NODE_HEIGHT,
                "outputs": list(task.outputs),
                "nodes": list(task.nodes),
            }
        )
    edges: list[tuple[str, str]] = []
    for task in plan.tasks:
        for received in task.receives:
            source = producer.get(received)
            if source and source != task.name and (source, task.name) not in edges:
                edges.append((source, task.name))
    placement = layout([Box(n["id"], n["w"], n["h"]) for n in nodes], edges)
    for node in nodes:
        node["x"], node["y"] = placement.centres[node["id"]]
    return {
        "task_of": producer,
        "tasks": [{"name": n["name"], "color": n["color"], "outputs": n["outputs"]} for n in nodes],
        "graph": {
            "engine": placement.engine,
            "width": placement.width,
            "height": placement.height,
            "nodes": nodes,
            "edges": [
                {"source": r.source, "target": r.target, "path": r.path} for r in placement.routes
            ],
            "groups": [],
        },
    }
