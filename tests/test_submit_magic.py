"""`%hamilton_submit`: the widget's Submit tab from a cell, on the saved notebook.

It runs the real `kit submit` against a real `prefect server start` (the submit tests' server):
the phases print in order as they start, the result comes as HTML with the run's status, and a
failed submission is a kit error in the cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cell
from test_submit import in_project, prefect_server, submit_project

from kit.errors import SubmitError
from kit.workspace import reset_workspace

__all__ = ["in_project", "prefect_server", "submit_project"]


@pytest.fixture
def notebook_shell(in_project: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch):
    """An IPython shell that runs notebooks/totals.ipynb (as Jupyter tells a kernel)."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/totals.ipynb")
    monkeypatch.delenv("KIT_VALIDATE", raising=False)
    reset_workspace()
    ip = InteractiveShell.instance()
    ip.reset(new_session=True)
    ip.run_line_magic("load_ext", "kit")
    yield ip
    ip.reset(new_session=True)
    reset_workspace()


def test_the_magic_submits_the_saved_notebook_with_phases_in_order(
    notebook_shell, capfd: pytest.CaptureFixture[str]
) -> None:
    result = run_cell(notebook_shell, "%hamilton_submit --flow totals -p rows 5")
    assert result.error_in_exec is None, result.error_in_exec
    printed = capfd.readouterr().out
    phases = [line for line in printed.splitlines() if line.startswith("==> ")]
    assert phases[0].startswith("==> validating") and phases[-1].startswith("==> done")
    assert any(line.startswith("==> running flow totals") for line in phases)


def test_a_failed_submission_is_a_kit_error_in_the_cell(notebook_shell) -> None:
    result = run_cell(notebook_shell, "%hamilton_submit --flow no_such_flow")
    assert isinstance(result.error_in_exec, SubmitError)
    assert "kit submit totals.ipynb failed" in str(result.error_in_exec)
    assert "owns no flow 'no_such_flow'" in str(result.error_in_exec)


def test_under_validation_the_magic_submits_nothing(
    notebook_shell, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIT_VALIDATE", "1")
    result = run_cell(notebook_shell, "%hamilton_submit")
    assert result.error_in_exec is None
    assert "==> " not in capfd.readouterr().out  # no `kit submit` ran
