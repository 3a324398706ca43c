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
    """Load flows/NAME.py of the Lab project here: its flow function (modules forgotten after)."""
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
    line = page.locator(".kit-panel .kit-code pre")
    assert (
        line.inner_text()
        == "%hamilton_promote shop_flow --outputs summary revenue --tasks by-module"
    )
    assert line.evaluate("pre => getComputedStyle(pre).whiteSpace") == "pre"  # never wrapped
    page.locator(".kit-panel .kit-code button").click()
    page.locator(".kit-panel .kit-code button", has_text="Copied").or_(
        page.locator(".kit-panel .kit-code button", has_text="Ctrl+C")
    ).wait_for()
    assert flows_of("shop_flow")() == {"summary": "revenue 30.0", "revenue": 30.0}
    assert page.page_errors == []


# Every new list of phases the Submit tab shows, in the order they appear.
RECORD_PHASES = """() => {
    window.kitPhases = [];
    const record = () => {
        const phases = [...document.querySelectorAll('.kit-phases .kit-phase')]
            .map(p => p.textContent);
        const last = window.kitPhases[window.kitPhases.length - 1] || [];
        if (phases.join('\\n') !== last.join('\\n')) window.kitPhases.push(phases);
    };
    new MutationObserver(record).observe(document.querySelector('.kit-panel'),
                                         {childList: true, subtree: true, characterData: true});
}"""


def test_submit_button_runs_the_chosen_flow_showing_its_phases(page, lab: Lab) -> None:
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
        "%hamilton_promote count_flow --outputs order_count",
        "%hamilton_dag",
    )
    open_notebook(page, lab, "notebooks/orders.ipynb")
    run_all(page, 5)
    node(page, "total").wait_for()

    panel_tab(page, "Submit").click()
    flows = page.locator(".kit-panel .widget-checkbox")
    flows.nth(1).wait_for()
    assert sorted(flows.all_inner_texts()) == ["count_flow", "order_flow"]
    page.locator(".kit-panel .widget-checkbox", has_text="count_flow").locator("input").uncheck()
    page.evaluate(RECORD_PHASES)
    page.get_by_role("button", name="Submit").click()
    assert "--flow order_flow" in page.locator(".kit-panel", has_text="running").first.inner_text()
    outcome = page.locator(".kit-submit-done, .kit-submit-failed")
    outcome.wait_for(timeout=300_000)

    log = page.locator(".kit-submit-log").inner_text()
    assert outcome.get_attribute("class") == "kit-submit-done", log
    summary = page.locator(".kit-summary").inner_text()
    assert "flow order_flow" in summary and "1 of 1 flow run completed" in summary
    assert "count_flow" not in log  # the unticked flow did not run

    # The phases appeared one by one, in order: validating, Prefect, running the flow, done.
    seen = page.evaluate("() => window.kitPhases")
    final = seen[-1]
    assert final[0].startswith("validating notebooks/orders.ipynb"), seen
    assert final[-1].startswith("done: 1 of 1 flow run completed"), seen
    assert "running flow order_flow" in final and final.index("running flow order_flow") > 1
    assert [len(phases) for phases in seen] == list(range(1, len(final) + 1)), seen
    # The result comes before the log in the tab.
    summary_top = page.locator(".kit-summary").bounding_box()["y"]
    assert summary_top < page.locator(".kit-submit-log").bounding_box()["y"]
    assert page.page_errors == []
