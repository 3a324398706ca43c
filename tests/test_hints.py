"""Hints fit where they appear: on the command line, in a notebook without `ws`, in a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_notebook import write_notebook

from kit.cli import main
from kit.errors import UnknownNodeError

PREP = "%%hamilton prep\ndef base() -> int:\n    return 1\n"
MORE = "%%hamilton more\ndef doubled(base: int) -> int:\n    return base * 2\n"
PROMOTE = "%hamilton_promote doubling --outputs doubled"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_unknown_output_on_the_command_line_lists_the_dags_nodes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    code, out = run(capsys, "promote", "notebooks/a.ipynb", "f", "--outputs", "doubld")
    assert code == 1
    assert "unknown node: 'doubld' (did you mean 'doubled'?)" in out
    assert "request nodes the DAG defines: base, doubled" in out
    assert "ws." not in out  # no workspace on the command line


def test_the_hint_shows_a_dozen_names_and_counts_the_rest() -> None:
    error = UnknownNodeError(["x"], {}, known=[f"n{i:02d}" for i in range(20)])
    assert error.hint == (
        "request nodes the DAG defines: n00, n01, n02, n03, n04, n05, n06, n07, n08, n09, n10, n11"
        " and 8 more"
    )


def test_a_copied_notebook_is_told_to_give_its_modules_and_flows_names_of_their_own(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE, PROMOTE)
    assert run(capsys, "export")[0] == 0
    copy = project / "notebooks" / "a_copy.ipynb"
    shutil.copy(original, copy)
    before = {p: p.read_text() for p in (project / "modules").glob("*.py")}

    code, out = run(capsys, "export", "notebooks/a_copy.ipynb")
    assert code == 1
    assert "belongs to notebooks/a.ipynb" in out
    assert "a notebook copied from notebooks/a.ipynb needs names of its own" in out
    assert "`kit export notebooks/a_copy.ipynb`" in out
    assert {p: p.read_text() for p in (project / "modules").glob("*.py")} == before

    code, out = run(capsys, "submit", "notebooks/a_copy.ipynb")
    assert code == 1
    assert "owns no flow" in out and "a copy of another notebook owns nothing until" in out
