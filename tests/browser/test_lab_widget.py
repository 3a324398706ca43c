"""The DAG widget in JupyterLab and Chromium: clicks reach the kernel, and the kernel the view."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Lab, cell, node, open_notebook, run_all, run_cell_again, write_notebook
from .test_lab_first_view import READABLE_PX

PREP = """\
    %%hamilton explore_prep
    def raw() -> int:
        \"\"\"The raw number.\"\"\"
        return 3


    def clean(raw: int) -> int:
        return raw * 2
    """
PREP_WITH_EXTRA = (
    PREP
    + """

    def extra(raw: int) -> int:
        return raw + 100
    """
)
MODEL = """\
    %%hamilton explore_model
    def features(clean: int) -> int:
        return clean + 1


    def score(features: int) -> float:
        return features / 2


    def report(score: float, clean: int) -> str:
        return f"{score} from {clean}"


    def unrelated() -> int:
        return 0
    """
# Every node name's size on screen, and the nodes not wholly inside the canvas.
ON_SCREEN = """() => {
    const canvas = document.querySelector('.kit-canvas').getBoundingClientRect();
    const names = [...document.querySelectorAll('g.kit-node text.kit-node-name')];
    const px = names.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    const outside = [...document.querySelectorAll('g.kit-node')].filter(g => {
        const box = g.getBoundingClientRect();
        return box.left < canvas.left || box.right > canvas.right
            || box.top < canvas.top || box.bottom > canvas.bottom;
    }).map(g => g.dataset.name);
    return {smallest: Math.min(...px), count: names.length, outside};
}"""
WRITE_SELECTION = """\
    import json
    from pathlib import Path

    import kit

    Path("selected.json").write_text(json.dumps(kit.workspace().widget().selected))
    """


def classes(page, name: str) -> set[str]:
    return set((node(page, name).get_attribute("class") or "").split())


def test_clicks_select_outputs_the_kernel_sees_and_the_view_follows_the_workspace(
    page, lab: Lab, tmp_path: Path
) -> None:
    write_notebook(
        lab.root / "notebooks" / "explore.ipynb",
        "%load_ext kit",
        PREP,
        MODEL,
        "%hamilton_dag",
        WRITE_SELECTION,
        "kit.workspace().widget().selected = ['report']",
    )
    open_notebook(page, lab, "notebooks/explore.ipynb")
    run_all(page, 6)
    selection_file = lab.root / "notebooks" / "selected.json"

    # Python selected `report` in the last cell: the view shows it.
    node(page, "report").wait_for()
    assert "kit-selected" in classes(page, "report")

    # The first view fits this small graph whole, with every name readable.
    page.wait_for_function(
        "() => document.querySelector('.kit-viewport').hasAttribute('transform')"
    )
    view = page.evaluate(ON_SCREEN)
    assert view["count"] == 6 and view["outside"] == [], view
    assert view["smallest"] >= READABLE_PX, view

    # Clear, then click two nodes: the kernel holds exactly those, in click order.
    page.get_by_role("button", name="Clear selection").click()
    node(page, "score").click()
    node(page, "clean").click()
    run_cell_again(page, 4)
    assert json.loads(selection_file.read_text()) == ["score", "clean"]

    # What runs for them is highlighted; the rest is dimmed.
    for name in ("score", "clean"):
        assert {"kit-selected", "kit-upstream"} <= classes(page, name)
    for name in ("features", "raw"):
        assert "kit-upstream" in classes(page, name) and "kit-selected" not in classes(page, name)
    for name in ("report", "unrelated"):
        assert "kit-upstream" not in classes(page, name)
    assert page.locator(".kit-dag.kit-has-selection").count() == 1
    upstream_edges = page.locator("path.kit-edge.kit-upstream")
    assert sorted(
        (
            upstream_edges.nth(i).get_attribute("data-source"),
            upstream_edges.nth(i).get_attribute("data-target"),
        )
        for i in range(upstream_edges.count())
    ) == [("clean", "features"), ("features", "score"), ("raw", "clean")]
    assert "score" in page.locator(".kit-panel").inner_text()

    # Hovering shows type, module, docstring and where the node is defined.
    node(page, "raw").hover()
    tooltip = page.locator(".kit-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert "int" in text and "explore_prep" in text and "The raw number." in text
    assert "notebooks/explore.ipynb: %%hamilton explore_prep cell, line 2" in text

    # Re-running the upstream cell with a new function: the node appears in place, the selection
    # stays.
    run_cell_again(page, 1, PREP_WITH_EXTRA)
    node(page, "extra").wait_for()
    assert "kit-selected" in classes(page, "score") and "kit-selected" in classes(page, "clean")
    run_cell_again(page, 4)
    assert json.loads(selection_file.read_text()) == ["score", "clean"]

    # Search dims what does not match.
    page.get_by_placeholder("Search nodes").fill("feat")
    assert "kit-match" in classes(page, "features") and "kit-match" not in classes(page, "score")
    page.get_by_placeholder("Search nodes").fill("")

    shot = tmp_path / "widget.png"  # docs/widget.png, in the README, is one of these screenshots
    cell(page, 3).locator(".jp-Cell-outputArea").screenshot(path=shot)
    assert shot.read_bytes().startswith(b"\x89PNG")

    # Collapsing a module (its legend button) lays the graph out again in the kernel: one box.
    page.locator(".kit-legend-module", has_text="explore_model").get_by_role(
        "button", name="collapse"
    ).click()
    module_box = page.locator('g.kit-node.kit-kind-module[data-name="module:explore_model"]')
    module_box.wait_for()
    assert node(page, "score").count() == 0
    assert "kit-upstream" in (module_box.get_attribute("class") or "")  # score, inside, is selected
    module_box.click()  # expands it again
    node(page, "score").wait_for()

    # A broken cell: its error over the last good graph.
    run_cell_again(page, 1, PREP_WITH_EXTRA.replace("return raw + 100", "return raw +"))
    error = page.locator(".kit-error")
    error.wait_for()
    assert "syntax error" in error.inner_text() and "explore_prep" in error.inner_text()
    assert node(page, "extra").count() == 1
    assert page.page_errors == []
