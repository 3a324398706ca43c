"""The offline DAG page in Chromium: a node docstring and name holding markup render as text."""

from __future__ import annotations

from pathlib import Path

from test_widget import write_notebook

from kit.cli import main as kit_main

HOSTILE_DOC = (
    "<script>window.kitPwned = 'script'</script>"
    "<img src=x onerror=\"window.kitPwned = 'img'\">"
    "</div><b id=kit-injected>bold</b>"
)
CELL = f'''%%hamilton prep
def payload() -> int:
    """{HOSTILE_DOC}"""
    return 1


def shown(payload: int) -> int:
    """Depends on it: </script><script>window.kitPwned = 'payload'</script>"""
    return payload
'''


def test_a_script_in_a_docstring_renders_as_text_and_never_runs(page, project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "hostile.ipynb", CELL)
    out = project / "dag.html"
    assert kit_main(["dag", str(notebook), "--out", str(out)]) == 0

    page.goto(out.as_uri())
    node = page.locator('g.kit-node:has(text.kit-node-name:text-is("payload"))')
    node.hover()
    tip = page.locator(".kit-tip-doc")
    tip.wait_for()

    assert tip.inner_text() == HOSTILE_DOC
    assert page.evaluate("() => window.kitPwned") is None, "a script from a docstring ran"
    assert page.locator("#kit-injected").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script").count() == 2  # the page's data and its code, nothing injected
    page.locator('g.kit-node:has(text.kit-node-name:text-is("shown"))').hover()
    assert "</script><script>" in page.locator(".kit-tip-doc").inner_text()
    assert page.evaluate("() => window.kitPwned") is None
    assert page.page_errors == []
