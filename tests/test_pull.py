"""Pulling a Prefect run back into the workspace: `%hamilton_pull RUN` in a real IPython shell and
`kit pull RUN`, against a real `prefect server start` on 127.0.0.1 (stopped by PID).

The run's task values come from the results --cache persists; `ws.execute` takes them as
overrides upstream of what it is asked for, so a failed run's error happens again in the shell.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cell
from loop_examples import (
    FAILING_REPORT,
    MODULES,
    PROMOTE,
    REPORT,
    SCALED_DATA,
    SOURCE_DATA,
    export,
    loop_project,
    run_flow,
    write_loop_notebook,
)

import kit
from kit.cli import main
from kit.errors import (
    ForeignRunError,
    NoPrefectApiError,
    ResultUnreachableError,
    RunNotFoundError,
    UnpersistedRunError,
)
from kit.pull import pull

BODIES = {"source_data": SOURCE_DATA, "scaled_data": SCALED_DATA}


def notebook_in_shell(shell: Any, project: Path, report: str) -> kit.Workspace:
    """Run the loop notebook's cells in the shell, as Jupyter would for notebooks/loop.ipynb."""
    ws = kit.workspace()
    ws.notebook = str(project / "notebooks" / "loop.ipynb")  # what JPY_SESSION_NAME tells a kernel
    run_cell(shell, 'rows = 5\nfactor = 2\nprefix = "total"\n')
    for name in MODULES:
        body = report if name == "report" else BODIES[name]
        assert run_cell(shell, f"%%hamilton {name}\n{body}").success
    return ws


def calls(shell: Any) -> dict[str, list[str]]:
    """What each cell module of the shell computed."""
    return {name: list(shell.user_ns[name].CALLS) for name in MODULES}


def forget_calls(shell: Any) -> None:
    for name in MODULES:
        shell.user_ns[name].CALLS.clear()


def test_a_failed_run_pulled_into_a_shell_fails_the_same_way_and_the_fix_gives_the_rerun(
    loop_api: str, shell: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    loop_project(project, report=FAILING_REPORT)
    failed, _, states = run_flow()
    assert failed.is_failed() and states["report"] == "Failed"
    run_id = str(failed.state_details.flow_run_id)

    ws = notebook_in_shell(shell, project, FAILING_REPORT)
    assert run_cell(shell, f"%hamilton_pull {run_id}").success
    pulled = ws.pulled
    assert pulled is not None
    assert (pulled.flow, pulled.id, pulled.state) == ("counted", run_id, "Failed")
    assert pulled.failed_tasks == ("report",)
    assert {name: (node.task, node.type) for name, node in pulled.nodes.items()} == {
        "base": ("source_data", "builtins.list"),
        "scaled": ("scaled_data", "builtins.list"),
    }
    assert pulled.inputs == {"rows": 5, "factor": 2, "prefix": "total"}
    assert pulled.changed == ()
    assert "no label for 20" in (pulled.message or "")

    forget_calls(shell)
    with pytest.raises(ValueError, match="no label for 20"):
        ws.execute(["label"])
    assert calls(shell) == {"source_data": [], "scaled_data": [], "report": ["total", "label"]}

    assert run_cell(shell, f"%%hamilton report\n{REPORT}").success  # the fix, in its cell
    forget_calls(shell)
    fixed_here = ws.execute(["label"])
    assert calls(shell)["source_data"] == calls(shell)["scaled_data"] == []

    write_loop_notebook(project, report=REPORT)
    export(project)
    rerun, _, _ = run_flow()
    assert fixed_here == {"label": rerun.result()["label"]} == {"label": "total=20"}

    assert run_cell(shell, "%hamilton_pull --clear").success
    assert ws.pulled is None


def test_pulled_values_stand_in_upstream_only_while_their_code_is_what_ran(
    loop_api: str, shell: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    loop_project(project)
    done, _, _ = run_flow(rows=4)
    ws = notebook_in_shell(shell, project, REPORT)
    edited = REPORT.replace('return f"{prefix}={total}"', 'return f"{prefix}: {total}"')
    assert run_cell(shell, f"%%hamilton report\n{edited}").success
    pulled = pull(ws, done.state_details.flow_run_id.hex)
    assert pulled.changed == ("label",)  # the notebook's label is not the code that ran
    assert "code changed since the run (not the version it recorded): label" in pulled.text()

    forget_calls(shell)  # a task returns its outputs and shares: base and scaled were pulled
    assert ws.execute(["label"]) == {"label": "total: 12"}
    assert calls(shell) == {"source_data": [], "scaled_data": [], "report": ["total", "label"]}
    forget_calls(shell)  # a requested node is computed, from the pulled values upstream of it
    assert ws.execute(["scaled"]) == {"scaled": [0, 2, 4, 6]}
    assert calls(shell) == {"source_data": [], "scaled_data": ["scaled"], "report": []}

    changed = SCALED_DATA.replace("value * factor", "value * factor + 1")
    assert run_cell(shell, f"%%hamilton scaled_data\n{changed}").success
    forget_calls(shell)  # the pulled scaled is not what this code makes: computed again
    assert ws.execute(["label"]) == {"label": "total: 16"}
    assert calls(shell) == {
        "source_data": [],
        "scaled_data": ["scaled"],
        "report": ["total", "label"],
    }


def test_kit_pull_prints_the_run_from_a_shell(
    loop_api: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.syspath_prepend(str(project))
    loop_project(project)
    done, _, _ = run_flow()
    capsys.readouterr()
    assert main(["pull", str(done.state_details.flow_run_id)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pulled flow counted: run '")
    assert f"{done.state_details.flow_run_id}: Completed" in out
    assert "inputs: rows=5, factor=2, prefix='total'" in out
    assert "task source_data: base (builtins.list)" in out
    assert "task report: label (builtins.str)" in out
    assert "code changed" not in out


def test_each_run_that_cannot_be_pulled_says_why_and_what_to_do(
    loop_api: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.syspath_prepend(str(project))
    loop_project(project, promote=PROMOTE.replace(" --cache", ""))
    uncached, _, _ = run_flow()
    ws = kit.workspace()
    ws.notebook = str(project / "notebooks" / "loop.ipynb")
    with pytest.raises(UnpersistedRunError, match="promote the flow with --cache") as unpersisted:
        pull(ws, str(uncached.state_details.flow_run_id))
    assert unpersisted.value.flow == "counted"

    for unknown in (str(uuid.uuid4()), "no-such-run"):
        with pytest.raises(RunNotFoundError, match=repr(unknown)):
            pull(ws, unknown)

    write_loop_notebook(project)
    export(project)
    done, _, _ = run_flow()
    run_id = str(done.state_details.flow_run_id)
    other = project / "notebooks" / "other.ipynb"
    other.write_text((project / "notebooks" / "loop.ipynb").read_text())
    ws.notebook = str(other)
    with pytest.raises(ForeignRunError, match=r"owned by notebooks/loop\.ipynb") as foreign:
        pull(ws, run_id)
    assert (foreign.value.owner, foreign.value.notebook) == (
        "notebooks/loop.ipynb",
        "notebooks/other.ipynb",
    )

    ws.notebook = str(project / "notebooks" / "loop.ipynb")
    for result in (project / ".kit" / "results").iterdir():
        result.unlink()
    with pytest.raises(ResultUnreachableError, match="cannot be read from here") as unreachable:
        pull(ws, run_id)
    assert unreachable.value.location.startswith(str(project / ".kit" / "results"))
    assert ws.pulled is None

    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(NoPrefectApiError, match="kit server start"),
    ):
        pull(ws, run_id)


def test_the_widget_marks_pulled_nodes_and_offers_to_pull_a_submitted_run(project: Path) -> None:
    from kit.dag.payload import dag_payload
    from kit.pulled import PulledNode, PulledRun
    from kit.widget._panel import RUN_LINE

    ws = kit.workspace()
    for name in MODULES:
        ws.add_cell(name, REPORT if name == "report" else BODIES[name])
    ws.set_pulled(
        PulledRun(
            flow="counted",
            id=str(uuid.uuid4()),
            name="crafty-otter",
            state="Failed",
            message=None,
            notebook=None,
            inputs={},
            config={},
            versions={},
            nodes={"base": PulledNode("base", "builtins.list", "source_data")},
            values={"base": [0, 1]},
        )
    )
    payload = dag_payload(ws)
    assert {n["id"]: n["pulled"] for n in payload["nodes"] if n["pulled"]} == {
        "base": "source_data"
    }
    assert payload["run"] == "run 'crafty-otter' of counted: Failed"
    run_id = str(uuid.uuid4())
    found = RUN_LINE.match(f"flow counted: run 'crafty-otter' {run_id}: Failed")
    assert found is not None and found.groups() == ("counted", "crafty-otter", run_id, "Failed")
