"""`kit dag NOTEBOOK --out dag.html|dag.svg` in Chromium: every node drawn, offline, interactive."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_widget import MODEL, PREP, write_notebook

from kit.cli import main as kit_main


def payload_of(page_file: Path) -> dict:
    return json.loads(
        re.search(r'id="kit-dag-data">(.*?)</script>', page_file.read_text(), re.S).group(1)
    )


def test_the_standalone_page_draws_every_node_offline_and_highlights_a_selection(
    page, project: Path
) -> None:
    notebook = write_notebook(
        project / "notebooks" / "flow.ipynb",
        "%hamilton_config model=mean",
        "%%hamilton prep\n" + PREP,
        "%%hamilton model\n" + MODEL,
    )
    out = project / "dag.html"
    assert kit_main(["dag", str(notebook), "--out", str(out)]) == 0
    payload = payload_of(out)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(out.as_uri())
    page.locator("g.kit-node").first.wait_for()

    drawn = page.locator("g.kit-node").evaluate_all(
        """groups => groups.map(g => {
            const box = g.getBoundingClientRect();
            const name = g.querySelector('text.kit-node-name').textContent;
            return [name, box.width > 0 && box.height > 0];
        })"""
    )
    assert sorted(drawn) == sorted([name, True] for name in payload["deps"])
    assert page.locator("path.kit-edge").count() == len(payload["edges"])
    assert requested == [out.as_uri()], "the page loads nothing but itself"

    page.locator('g.kit-node:has(text.kit-node-name:text-is("score"))').click()
    upstream = page.locator("g.kit-node.kit-upstream").evaluate_all(
        "gs => gs.map(g => g.dataset.name).sort()"
    )
    assert upstream == ["clean", "fit", "limit", "path", "raw", "score"]
    assert page.locator("g.kit-node.kit-selected").evaluate_all(
        "gs => gs.map(g => g.dataset.name)"
    ) == ["score"]
    assert "1 selected" in page.locator(".kit-status").inner_text()
    assert page.page_errors == []


def test_the_static_svg_shows_every_node(page, project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "flow.ipynb", "%%hamilton prep\n" + PREP)
    out = project / "dag.svg"
    assert kit_main(["dag", str(notebook), "--out", str(out)]) == 0

    page.goto(out.as_uri())
    names = page.locator("g.kit-node").evaluate_all(
        "gs => gs.filter(g => g.getBoundingClientRect().width > 0)"
        ".map(g => g.querySelector('text').textContent).sort()"
    )
    assert names == ["clean", "limit", "path", "raw"]
