"""The panel's Promote and Submit buttons, pressed in a real JupyterLab."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import forget_project_modules

from kit import generated

from .conftest import Lab, node, open_notebook, run_all, write_notebook

SHOP_PREP = """\
    %%hamilton shop_prep
    def orders() -> list[int]:
        return [3, 4, 5]


    def revenue(orders: list[int], price: float = 2.5) -> float:
        return sum(orders) * price
    """
SHOP_REPORT = """\
    %%hamilton shop_report
    def summary(revenue: float) -> str:
        return f"revenue {revenue:.1f}"


    def unused() -> int:
        return 0
    """


def panel_tab(page, title: str):
    return page.locator(".kit-panel .lm-TabBar-tab", has_text=title)


@pytest.fixture
def flows_of(lab: Lab):
    """Load flows/NAME.py of the Lab project in this process: the flow function (modules forgotten after)."""
    sys.path.insert(0, str(lab.root))
    forget_project_modules()

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f"lab_flow_{name}", lab.root / "flows" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, name)

    yield load
    sys.path.remove(str(lab.root))
    forget_project_modules()


def test_promote_button_writes_a_flow_that_runs(page, lab: Lab, prefect_api, flows_of) -> None:
    write_notebook(
        lab.root / "notebooks" / "shop.ipynb",
        "%load_ext kit",
        SHOP_PREP,
        SHOP_REPORT,
        "%hamilton_dag",
    )
    open_notebook(page, lab, "notebooks/shop.ipynb")
    run_all(page, 4)
    node(page, "summary").click()
    node(page, "revenue").click()

    # Before pressing: the nodes are coloured by the task that will run them, the task graph beside.
    panel_tab(page, "Promote").click()
    page.locator('g.kit-node[data-task="shop_report"]').first.wait_for()
    tasks = page.locator("g.kit-node[data-task]").evaluate_all(
        "gs => gs.map(g => [g.dataset.name, g.dataset.task]).sort()"
    )
    assert tasks == [["orders", "shop_prep"], ["revenue", "shop_prep"], ["summary", "shop_report"]]
    task_graph = page.locator(".kit-panel svg g.kit-kind-task")
    assert task_graph.evaluate_all(
        "gs => gs.map(g => g.querySelector('text').textContent).sort()"
    ) == ["shop_prep", "shop_report"]

    page.locator(".kit-panel input[placeholder^='flow name']").fill("shop_flow")
    page.get_by_role("button", name="Promote to flow").click()
    result = page.locator(".kit-panel", has_text="Wrote")
    result.wait_for()

    flow_file = lab.root / "flows" / "shop_flow.py"
    header, _ = generated.read(flow_file)
    assert header.notebook == "notebooks/shop.ipynb"
    assert (
        header.recipe
        == "kit promote notebooks/shop.ipynb shop_flow --outputs summary revenue --tasks by-module"
    )
    assert (
        "%hamilton_promote shop_flow --outputs summary revenue --tasks by-module"
        in result.inner_text()
    )
    assert flows_of("shop_flow")() == {"summary": "revenue 30.0", "revenue": 30.0}
    assert page.page_errors == []


def test_submit_button_runs_kit_submit_on_the_saved_notebook(page, lab: Lab) -> None:
    write_notebook(
        lab.root / "notebooks" / "orders.ipynb",
        "%load_ext kit",
        """\
        %%hamilton order_steps
        def order_count() -> int:
            return 7


        def total(order_count: int) -> float:
            return order_count * 1.5
        """,
        "%hamilton_promote order_flow --outputs total",
        "%hamilton_dag",
    )
    open_notebook(page, lab, "notebooks/orders.ipynb")
    run_all(page, 4)
    node(page, "total").wait_for()

    panel_tab(page, "Submit").click()
    page.get_by_role("button", name="Submit").click()
    page.locator(".kit-panel", has_text="running").first.wait_for()
    outcome = page.locator(".kit-submit-done, .kit-submit-failed")
    outcome.wait_for(timeout=300_000)

    log = page.locator(".kit-submit-log").inner_text()
    assert outcome.get_attribute("class") == "kit-submit-done", log
    assert "1 of 1 flow run completed" in log
    assert "order_flow" in log
    assert page.page_errors == []
