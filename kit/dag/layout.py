"""Top-to-bottom layered layout of boxes: graphviz `dot` when it is on PATH, else igraph's Sugiyama.

The front end only draws: every box gets its centre here, every edge an SVG path, and with
dot every group (a module, as a dot cluster) its rectangle. Coordinates are pixels, y downwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from kit.errors import LayoutFailed

# Distances in pixels (dot works in points; one point is drawn as one pixel).
NODE_GAP = 22.0  # between boxes of one rank
RANK_GAP = 34.0  # between ranks
EDGE_GAP = 10.0  # between an edge passing through a rank and its neighbours
MARGIN = 12.0
GROUP_PAD = 10.0
DOT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Box:
    """One node to place: an id, its drawn size and the group it belongs to (if any)."""

    id: str
    width: float
    height: float
    group: str | None = None


@dataclass(frozen=True)
class Group:
    """A group of boxes drawn inside one rectangle, under its label."""

    name: str
    label: str


@dataclass(frozen=True)
class Route:
    """An edge as drawn: its ends and the SVG path data from the source box to the target box."""

    source: str
    target: str
    path: str


@dataclass
class Placement:
    """Where everything goes; `engine` says which layout made it, `note` why it fell back."""

    engine: str
    width: float
    height: float
    centres: dict[str, tuple[float, float]] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    groups: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # x, y, w, h
    note: str = ""


def dot_path() -> str | None:
    """The `dot` binary on PATH, if any."""
    return shutil.which("dot")


def layout(
    boxes: Sequence[Box],
    edges: Sequence[tuple[str, str]],
    groups: Sequence[Group] = (),
    *,
    engine: str | None = None,
) -> Placement:
    """Place `boxes` in ranks, top to bottom; `engine` is 'dot', 'igraph' or None (the best)."""
    if not boxes:
        return Placement(engine=engine or "none", width=0.0, height=0.0)
    dot = dot_path()
    if engine == "dot" or (engine is None and dot is not None):
        if dot is None:
            raise LayoutFailed("graphviz `dot` is not on PATH")
        try:
            return _dot_layout(dot, boxes, edges, groups)
        except LayoutFailed as error:
            if engine == "dot":
                raise
            placement = _igraph_layout(boxes, edges)
            placement.note = f"dot failed ({error.reason}); laid out with igraph"
            return placement
    return _igraph_layout(boxes, edges)


# -- graphviz dot -------------------------------------------------------------------------------


def _dot_source(
    boxes: Sequence[Box], edges: Sequence[tuple[str, str]], groups: Sequence[Group]
) -> str:
    """The graph in the DOT language; boxes are named n0, n1... so no node name needs quoting."""
    index = {box.id: i for i, box in enumerate(boxes)}
    lines = [
        "digraph kit {",
        f"  graph [rankdir=TB, newrank=true, nodesep={NODE_GAP / 72:.3f}, "
        f"ranksep={RANK_GAP / 72:.3f}, "
        'fontsize=11, fontname="DejaVu Sans Bold", margin=0];',
        '  node [shape=box, fixedsize=true, label=""];',
        "  edge [arrowsize=0.6];",
    ]

    def node_line(box: Box) -> str:
        return f"n{index[box.id]} [width={box.width / 72:.4f}, height={box.height / 72:.4f}];"

    members: dict[str | None, list[Box]] = {}
    for box in boxes:
        members.setdefault(box.group, []).append(box)
    for g, group in enumerate(groups):
        inside = members.pop(group.name, [])
        if not inside:
            continue
        lines.append(f"  subgraph cluster_{g} {{")
        lines.append(f"    label={json.dumps(group.label)}; labeljust=l; margin={GROUP_PAD:.0f};")
        lines.extend(f"    {node_line(box)}" for box in inside)
        lines.append("  }")
    for rest in members.values():
        lines.extend(f"  {node_line(box)}" for box in rest)
    lines.extend(f"  n{index[s]} -> n{index[t]};" for s, t in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_layout(
    dot: str, boxes: Sequence[Box], edges: Sequence[tuple[str, str]], groups: Sequence[Group]
) -> Placement:
    """Run `dot -Tjson0` (JSON without the xdot drawing operations) and read positions back."""
    try:
        done = subprocess.run(
            [dot, "-Tjson0"],
            input=_dot_source(boxes, edges, groups),
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LayoutFailed(f"dot took longer than {DOT_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise LayoutFailed(
            done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        )
    try:
        graph = json.loads(done.stdout)
        return _read_dot_json(graph, boxes, groups)
    except (ValueError, KeyError, IndexError) as error:
        raise LayoutFailed(f"unreadable dot output: {error}") from None


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def _read_dot_json(graph: dict, boxes: Sequence[Box], groups: Sequence[Group]) -> Placement:
    _, _, right, top = _floats(graph["bb"])
    width, height = right + 2 * MARGIN, top + 2 * MARGIN

    def point(x: float, y: float) -> tuple[float, float]:
        return round(x + MARGIN, 1), round(top - y + MARGIN, 1)

    placement = Placement(engine="dot", width=round(width, 1), height=round(height, 1))
    objects = graph.get("objects", [])
    by_gvid: dict[int, str] = {}
    for obj in objects:
        name = obj.get("name", "")
        if "pos" in obj and name.startswith("n") and name[1:].isdigit():
            box = boxes[int(name[1:])]
            by_gvid[obj["_gvid"]] = box.id
            placement.centres[box.id] = point(*_floats(obj["pos"]))
        elif name.startswith("cluster_") and "bb" in obj:
            x0, y0, x1, y1 = _floats(obj["bb"])
            left, upper = point(x0, y1)
            placement.groups[groups[int(name.removeprefix("cluster_"))].name] = (
                left,
                upper,
                round(x1 - x0, 1),
                round(y1 - y0, 1),
            )
    for edge in graph.get("edges", []):
        path = _spline_path(edge["pos"], MARGIN, top + MARGIN)
        placement.routes.append(Route(by_gvid[edge["tail"]], by_gvid[edge["head"]], path))
    missing = [box.id for box in boxes if box.id not in placement.centres]
    if missing:
        raise LayoutFailed(f"dot placed no position for {missing[:3]}")
    return placement


def _spline_path(pos: str, dx: float, flip: float) -> str:
    """dot's `pos` of an edge ("e,x,y x0,y0 x1,y1 ...", a B-spline) as SVG path data to its tip.

    Points move by `dx` and flip vertically about `flip` (dot's y grows upwards, SVG's downwards).
    """
    end = ""
    points = []
    for part in pos.split():
        marker = part[:2] if part[:2] in ("e,", "s,") else ""
        x, y = part[len(marker) :].split(",")
        text = f"{float(x) + dx:.1f},{flip - float(y):.1f}"
        if marker == "e,":
            end = "L" + text
        elif not marker:
            points.append(text)
    curves = "".join(
        f"C{points[i]} {points[i + 1]} {points[i + 2]}" for i in range(1, len(points) - 2, 3)
    )
    return f"M{points[0]}{curves}{end}"


# -- igraph's Sugiyama --------------------------------------------------------------------------


def _ranks(boxes: Sequence[Box], edges: Sequence[tuple[int, int]]) -> list[int] | None:
    """Longest-path ranks, each source pulled down to just above its first consumer (None: a cycle).

    A source (an external input, a function of no parameters) then sits beside the nodes it
    feeds, as dot places it, rather than on a crowded top rank with long edges down.
    """
    import graphlib

    predecessors: dict[int, list[int]] = {i: [] for i in range(len(boxes))}
    consumers: dict[int, list[int]] = {i: [] for i in range(len(boxes))}
    for s, t in edges:
        predecessors[t].append(s)
        consumers[s].append(t)
    try:
        order = list(graphlib.TopologicalSorter(predecessors).static_order())
    except graphlib.CycleError:
        return None
    rank = [0] * len(boxes)
    for i in order:
        rank[i] = max((rank[p] + 1 for p in predecessors[i]), default=0)
    for i in range(len(boxes)):
        if not predecessors[i] and consumers[i]:
            rank[i] = min(rank[c] for c in consumers[i]) - 1
    return rank


def _igraph_layout(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> Placement:
    """Sugiyama layering and ordering by igraph. igraph knows no clusters, so no group rectangles:
    a module shows by the colour of its boxes alone."""
    import igraph

    index = {box.id: i for i, box in enumerate(boxes)}
    pairs = [(index[s], index[t]) for s, t in edges]
    ranks = _ranks(boxes, pairs)
    if ranks is None:  # a cycle: igraph ranks it (breaking the cycle) and edges go straight
        sugiyama = igraph.Graph(n=len(boxes), edges=pairs, directed=True).layout_sugiyama(
            hgap=1, vgap=1
        )
        unit_x = [x for x, _ in sugiyama.coords[: len(boxes)]]
        rank_of = [round(y) for _, y in sugiyama.coords[: len(boxes)]]
        bends: list[list[tuple[float, int]]] = [[] for _ in pairs]
    else:
        # An edge that skips ranks runs through one bend vertex per skipped rank, so that igraph
        # orders bends and boxes together and every edge of its graph joins adjacent ranks.
        vertex_ranks = list(ranks)
        chains: list[list[int]] = []
        links: list[tuple[int, int]] = []
        for s, t in pairs:
            chain = []
            previous = s
            for rank in range(ranks[s] + 1, ranks[t]):
                vertex_ranks.append(rank)
                chain.append(len(vertex_ranks) - 1)
                links.append((previous, chain[-1]))
                previous = chain[-1]
            links.append((previous, t))
            chains.append(chain)
        graph = igraph.Graph(n=len(vertex_ranks), edges=links, directed=True)
        coords = graph.layout_sugiyama(layers=vertex_ranks, hgap=1, vgap=1, maxiter=100).coords
        unit_x = [x for x, _ in coords[: len(boxes)]]
        rank_of = ranks
        bends = [[(coords[v][0], vertex_ranks[v]) for v in chain] for chain in chains]

    # igraph spaces boxes and bends one unit apart. A unit of a quarter of a typical box keeps
    # the layout compact; a sweep along each rank then makes room for the real widths.
    row_height = max(box.height for box in boxes)
    typical = sorted(box.width for box in boxes)[len(boxes) // 2]
    scale = (typical + NODE_GAP) / 4
    x_of_box: list[float] = [0.0] * len(boxes)
    x_of_bend: dict[tuple[int, int], float] = {}
    per_rank: dict[int, list[tuple[float, float, tuple[str, int, int]]]] = {}
    for i, box in enumerate(boxes):
        per_rank.setdefault(rank_of[i], []).append((unit_x[i], box.width, ("box", i, 0)))
    for e, route in enumerate(bends):
        for k, (x, r) in enumerate(route):
            per_rank.setdefault(r, []).append((x, 0.0, ("bend", e, k)))
    for items in per_rank.values():
        items.sort(key=lambda item: item[0])
        right_edge = float("-inf")
        previous_is_box = False
        for unit, w, (kind, a, b) in items:
            gap = NODE_GAP if (kind == "box" and previous_is_box) else EDGE_GAP
            centre = max(unit * scale, right_edge + gap + w / 2)
            right_edge = centre + w / 2
            previous_is_box = kind == "box"
            if kind == "box":
                x_of_box[a] = centre
            else:
                x_of_bend[(a, b)] = centre

    shift = MARGIN - min(
        [x_of_box[i] - box.width / 2 for i, box in enumerate(boxes)] + list(x_of_bend.values())
    )

    def y_of(rank: int) -> float:
        return round(MARGIN + rank * (row_height + RANK_GAP) + row_height / 2, 1)

    placement = Placement(engine="igraph", width=0.0, height=0.0)
    for i, box in enumerate(boxes):
        placement.centres[box.id] = (round(x_of_box[i] + shift, 1), y_of(rank_of[i]))
    for e, (s, t) in enumerate(pairs):
        sx, sy = placement.centres[boxes[s].id]
        tx, ty = placement.centres[boxes[t].id]
        down = 1 if ty >= sy else -1
        points = [(sx, sy + down * boxes[s].height / 2)]
        points += [
            (round(x_of_bend[(e, k)] + shift, 1), y_of(r)) for k, (_, r) in enumerate(bends[e])
        ]
        points.append((tx, ty - down * boxes[t].height / 2))
        path = "M" + " L".join(f"{x},{y}" for x, y in points)
        placement.routes.append(Route(boxes[s].id, boxes[t].id, path))

    placement.width = round(
        max(placement.centres[b.id][0] + b.width / 2 for b in boxes) + MARGIN, 1
    )
    placement.height = round(
        max(placement.centres[b.id][1] + b.height / 2 for b in boxes) + MARGIN, 1
    )
    return placement
