"""The layout: top-to-bottom ranks, no overlapping boxes, inputs apart, with dot and without it."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from kit.dag.layout import Box, Group, Placement, layout

ENGINES = ["dot", "igraph"]


def random_dag(
    n: int, *, seed: int = 7, modules: int = 8
) -> tuple[list[Box], list[tuple[str, str]], list[Group]]:
    """`n` boxes of varied widths: a tenth external inputs (in no group), the rest in modules."""
    rng = random.Random(seed)
    inputs = max(1, n // 10)
    boxes = [
        Box(
            f"v{i}",
            rng.uniform(60, 220),
            38,
            None if i < inputs else f"m{(i - inputs) * modules // (n - inputs)}",
        )
        for i in range(n)
    ]
    edges = {(f"v{rng.randint(max(inputs, i - 40), i - 1)}", f"v{i}") for i in range(inputs + 1, n)}
    edges |= {
        (f"v{rng.randint(max(inputs, i - 40), i - 1)}", f"v{i}")
        for i in range(inputs + 1, n)
        if rng.random() < 0.5
    }
    edges |= {
        (f"v{i}", f"v{rng.randint(inputs, n - 1)}") for i in range(inputs)
    }  # each input feeds a node
    groups = [Group(f"m{k}", f"m{k}") for k in range(modules)]
    return boxes, sorted(edges), groups


def rectangles(
    placement: Placement, boxes: list[Box]
) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for box in boxes:
        x, y = placement.centres[box.id]
        out[box.id] = (x - box.width / 2, y - box.height / 2, x + box.width / 2, y + box.height / 2)
    return out


def overlapping(rects: dict[str, tuple[float, float, float, float]]) -> list[tuple[str, str]]:
    ordered = sorted(rects.items(), key=lambda item: item[1][0])
    found = []
    for i, (a, ra) in enumerate(ordered):
        for b, rb in ordered[i + 1 :]:
            if rb[0] >= ra[2]:
                break
            if ra[1] < rb[3] and rb[1] < ra[3]:
                found.append((a, b))
    return found


def on_outline(
    point: tuple[float, float], rect: tuple[float, float, float, float], slack: float = 2.0
) -> bool:
    """`point` lies on the rectangle's border (dot may end an edge on a side, not only the top)."""
    x, y = point
    x0, y0, x1, y1 = rect
    inside_grown = x0 - slack <= x <= x1 + slack and y0 - slack <= y <= y1 + slack
    inside_shrunk = x0 + slack < x < x1 - slack and y0 + slack < y < y1 - slack
    return inside_grown and not inside_shrunk


def path_points(path: str) -> list[tuple[float, float]]:
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [30, 500])
def test_layered_top_to_bottom_without_overlaps(engine: str, n: int) -> None:
    boxes, edges, groups = random_dag(n)
    placement = layout(boxes, edges, groups, engine=engine)

    assert placement.engine == engine
    rects = rectangles(placement, boxes)
    assert overlapping(rects) == []
    for source, target in edges:
        assert rects[source][3] <= rects[target][1], f"{source} -> {target} does not point down"
    # The drawing holds every box.
    assert all(
        r[0] >= 0 and r[2] <= placement.width and r[1] >= 0 and r[3] <= placement.height
        for r in rects.values()
    )


def test_dot_groups_hold_their_boxes_and_nothing_else() -> None:
    boxes, edges, groups = random_dag(60)
    placement = layout(boxes, edges, groups, engine="dot")
    rects = rectangles(placement, boxes)

    assert set(placement.groups) == {g.name for g in groups}
    for box in boxes:
        x0, y0, x1, y1 = rects[box.id]
        for name, (gx, gy, gw, gh) in placement.groups.items():
            inside = gx <= x0 and x1 <= gx + gw and gy <= y0 and y1 <= gy + gh
            apart = x1 <= gx or gx + gw <= x0 or y1 <= gy or gy + gh <= y0
            assert inside if box.group == name else apart, f"{box.id} and group {name}"


def test_without_dot_a_source_sits_one_rank_above_its_first_consumer_and_groups_are_not_drawn() -> (
    None
):
    boxes, edges, groups = random_dag(120)
    placement = layout(boxes, edges, groups, engine="igraph")
    assert placement.groups == {}  # igraph knows no clusters; modules show by colour
    ranks = sorted({y for _, y in placement.centres.values()})
    step = ranks[1] - ranks[0]
    for source in {s for s, _ in edges} - {t for _, t in edges}:
        first = min(placement.centres[t][1] for s, t in edges if s == source)
        assert first - placement.centres[source][1] == step


@pytest.mark.parametrize("engine", ENGINES)
def test_edges_run_from_source_to_target(engine: str) -> None:
    boxes, edges, groups = random_dag(80, seed=3)
    placement = layout(boxes, edges, groups, engine=engine)
    rects = rectangles(placement, boxes)

    assert sorted((r.source, r.target) for r in placement.routes) == sorted(edges)
    for route in placement.routes:
        points = path_points(route.path)
        assert on_outline(points[0], rects[route.source]), route
        assert on_outline(points[-1], rects[route.target]), route


def test_without_dot_on_path_igraph_lays_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert shutil.which("dot"), (
        "graphviz dot is installed where the tests run (make system-packages)"
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    boxes, edges, groups = random_dag(40)

    placement = layout(boxes, edges, groups)

    assert placement.engine == "igraph"
    assert overlapping(rectangles(placement, boxes)) == []


def test_a_dot_that_fails_falls_back_to_igraph(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "dot"
    broken.write_text("#!/bin/sh\necho 'Error: trouble in init_rank' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    boxes, edges, groups = random_dag(20)

    placement = layout(boxes, edges, groups)

    assert placement.engine == "igraph"
    assert "trouble in init_rank" in placement.note


def test_a_cycle_still_lays_out_with_igraph() -> None:
    boxes = [Box(name, 80, 38) for name in "abc"]
    placement = layout(boxes, [("a", "b"), ("b", "a"), ("b", "c")], engine="igraph")
    assert overlapping(rectangles(placement, boxes)) == []


def test_no_boxes_no_layout() -> None:
    placement = layout([], [])
    assert placement.centres == {} and placement.width == 0
