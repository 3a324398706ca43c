"""The example notebook's widget at its first view in JupyterLab: readable, and nothing clipped.

Measured on screen, not by screenshot: a node name's font size times the SVG's screen scale,
and bounding boxes: of the selected outputs against the canvas (the example's 20 nodes do not
fit beside the panel at a readable size, so the first view centres on what the selection
runs), and of the task boxes of the Promote preview against their frame. A graph that fits is
checked whole in test_lab_widget.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .conftest import KERNELSPEC, Lab, open_notebook, run_all

EXAMPLE = Path(__file__).resolve().parents[2] / "notebooks" / "ml_pipeline.ipynb"
READABLE_PX = 11


def example_up_to_the_widget(path: Path) -> int:
    """The example notebook's code cells up to its `%hamilton_dag` line; returns how many."""
    source = nbformat.read(EXAMPLE, as_version=4)
    cells = []
    for cell in source.cells:
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source))
            if cell.source.startswith("%hamilton_dag"):
                break
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return len(cells)


ON_SCREEN = """() => {
    const canvas = document.querySelector('.kit-canvas').getBoundingClientRect();
    const names = [...document.querySelectorAll('g.kit-node text.kit-node-name')];
    const px = names.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    const outside = [...document.querySelectorAll('g.kit-node.kit-selected')].filter(g => {
        const box = g.getBoundingClientRect();
        return box.left < canvas.left || box.right > canvas.right
            || box.top < canvas.top || box.bottom > canvas.bottom;
    }).map(g => g.dataset.name);
    return {smallest: Math.min(...px), count: names.length, outside,
            canvas: [canvas.width, canvas.height]};
}"""

TASKS_INSIDE = """() => {
    const frame = document.querySelector('.kit-task-graph').getBoundingClientRect();
    const boxes = [...document.querySelectorAll('.kit-task-graph g.kit-kind-task')];
    return boxes.map(g => {
        const box = g.getBoundingClientRect();
        return [g.querySelector('text').textContent,
                box.left >= frame.left && box.right <= frame.right
                && box.top >= frame.top && box.bottom <= frame.bottom];
    });
}"""


def test_the_example_reads_at_first_view_whole_and_unclipped(
    page, lab: Lab, tmp_path: Path
) -> None:
    count = example_up_to_the_widget(lab.root / "notebooks" / "example.ipynb")
    open_notebook(page, lab, "notebooks/example.ipynb")
    run_all(page, count)
    page.locator(".kit-dag g.kit-node").first.wait_for(state="attached")
    page.wait_for_function(
        "() => document.querySelector('.kit-viewport').hasAttribute('transform')"
    )

    view = page.evaluate(ON_SCREEN)
    assert view["count"] == 20
    assert view["smallest"] >= READABLE_PX, view  # the selected outputs, on screen, readable
    assert view["outside"] == [], view
    print(f"first view: names >= {view['smallest']:.1f} px, canvas {view['canvas']}")

    # The `%hamilton_dag` line selected two outputs: the Promote tab previews their tasks.
    page.locator(".kit-panel .lm-TabBar-tab", has_text="Promote").click()
    page.locator(".kit-task-graph g.kit-kind-task").first.wait_for()
    tasks = page.evaluate(TASKS_INSIDE)
    assert tasks and all(inside for _, inside in tasks), tasks

    page.locator(".kit-panel .lm-TabBar-tab", has_text="Run").click()
    shot = tmp_path / "widget.png"  # docs/widget.png, in the README, is one of these
    page.locator(".jp-Cell").nth(count - 1).locator(".jp-Cell-outputArea").screenshot(path=shot)
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert page.page_errors == []
