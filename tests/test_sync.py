"""`kit export` and `kit check` on notebook files: drift states, hand edits, ownership, pruning."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, forget_project_modules
from nbformat.v4 import new_code_cell
from test_export import dag_signature, exported_dag_signature
from test_notebook import DATA, fixture_project, tree, write_notebook

from kit import generated
from kit.cli import main
from kit.notebook import read_notebook
from kit.steps import workspace_from_notebook
from kit.sync import DriftState, drift


@pytest.fixture
def kit_cli(capsys: pytest.CaptureFixture[str]):
    """Run `kit ARGS...` in this process; (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


PREP = "%%hamilton prep\ndef base() -> int:\n    return 1\n"
MORE = "%%hamilton more\ndef doubled(base: int) -> int:\n    return base * 2\n"


def _states(notebook: Path) -> dict[str, str]:
    return {item.path.name: item.state.value for item in drift(notebook)}


def test_check_reports_missing_then_clean_then_stale_with_a_diff(project: Path, kit_cli) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    code, out, err = kit_cli("check")
    assert code == 1 and "modules/prep.py: missing, from notebooks/a.ipynb" in out
    assert "fix: kit export notebooks/a.ipynb" in out and "+def base() -> int:" in out
    assert "2 files drifted" in err

    code, out, _ = kit_cli("export")
    assert code == 0 and "wrote modules/prep.py" in out and "wrote modules/more.py" in out
    assert kit_cli("check")[:2] == (0, "kit check: modules and flows agree with 1 notebook\n")
    before = tree(project)
    assert kit_cli("export")[1].endswith("0 written, 2 unchanged, 0 removed\n")
    assert tree(project) == before

    write_notebook(notebook, PREP.replace("return 1", "return 5"), MORE)
    before = tree(project)
    code, out, _ = kit_cli("export", "--check")
    assert code == 1 and "modules/prep.py: stale, from notebooks/a.ipynb" in out
    assert tree(project) == before
    assert "-    return 1" in out and "+    return 5" in out
    assert _states(notebook) == {"prep.py": "stale"}


def test_a_changed_magic_line_alone_is_stale_and_export_rewrites_the_header(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP)
    kit_cli("export")
    write_notebook(notebook, PREP.replace("%%hamilton prep", "%%hamilton prep -x base"))
    assert _states(notebook) == {"prep.py": "stale"}
    assert kit_cli("export")[0] == 0
    assert generated.read(project / "modules" / "prep.py")[0].recipe == "%%hamilton prep -x base"


def test_a_hand_edited_module_is_refused_by_export_and_reported_by_check(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    kit_cli("export")
    path = project / "modules" / "prep.py"
    path.write_text(path.read_text().replace("return 1", "return 42"))
    write_notebook(notebook, PREP, MORE.replace("* 2", "* 3"))
    before = tree(project)
    code, _, err = kit_cli("export")
    assert code == 1 and "modules/prep.py was edited by hand; kit will not overwrite it" in err
    assert "-    return 42" in err and "%hamilton_load" in err and "--force" in err
    assert tree(project) == before, "nothing is written, not even the module that could be"

    code, out, _ = kit_cli("check")
    assert (
        code == 1
        and "modules/prep.py: hand-edited" in out
        and "kit export --force notebooks/a.ipynb" in out
    )
    assert kit_cli("export", "--force")[0] == 0
    assert "return 1" in path.read_text() and "* 3" in (project / "modules" / "more.py").read_text()


def test_an_orphaned_module_is_reported_and_pruned_but_never_when_edited(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(
        project / "notebooks" / "a.ipynb",
        PREP,
        MORE,
        "%%hamilton extra\ndef e() -> int:\n    return 0\n",
    )
    kit_cli("export")
    write_notebook(notebook, PREP)
    extra = project / "modules" / "extra.py"
    extra.write_text(extra.read_text().replace("return 0", "return 9"))
    code, out, _ = kit_cli("check")
    assert code == 1
    assert "modules/more.py: orphaned (its %%hamilton cell is gone)" in out
    assert "fix: kit export --prune notebooks/a.ipynb" in out
    assert "modules/extra.py: orphaned" in out and "delete modules/extra.py by hand" in out

    code, out, _ = kit_cli("export")
    assert code == 0 and (project / "modules" / "more.py").exists()
    assert "kept modules/more.py: orphaned" in out
    code, out, _ = kit_cli("export", "--prune")
    assert code == 0 and "removed modules/more.py" in out
    assert not (project / "modules" / "more.py").exists() and "return 9" in extra.read_text()


def test_files_of_a_deleted_notebook_are_orphaned_and_a_renamed_notebook_takes_them_over(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    kit_cli("export")
    write_notebook(project / "notebooks" / "b.ipynb", PREP)
    notebook.unlink()
    code, out, _ = kit_cli("check")
    assert (
        code == 1
        and "modules/more.py: orphaned (its notebook is gone), from notebooks/a.ipynb" in out
    )
    code, out, _ = kit_cli("export", "--prune")
    assert code == 0 and "removed modules/more.py" in out and "wrote modules/prep.py" in out
    assert generated.read(project / "modules" / "prep.py")[0].source == "notebooks/b.ipynb"
    assert kit_cli("check")[0] == 0


def test_a_module_owned_by_another_notebook_is_refused_naming_both(project: Path, kit_cli) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP)
    write_notebook(project / "notebooks" / "b.ipynb", PREP.replace("return 1", "return 2"))
    code, _, err = kit_cli("export")
    assert code == 1 and "notebooks/a.ipynb" in err and "notebooks/b.ipynb" in err
    assert tree(project / "modules") == {"__init__.py": b""}

    assert kit_cli("export", "notebooks/a.ipynb")[0] == 0
    before = tree(project)
    code, _, err = kit_cli("export", "notebooks/b.ipynb")
    assert code == 1
    assert "modules/prep.py belongs to notebooks/a.ipynb; notebooks/b.ipynb cannot write" in err
    assert tree(project) == before
    assert _states(project / "notebooks" / "b.ipynb") == {"prep.py": "owned by another notebook"}


def test_a_hand_written_file_in_the_way_is_refused(project: Path, kit_cli) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP)
    (project / "modules" / "prep.py").write_text("def mine() -> int:\n    return 3\n")
    before = tree(project)
    code, _, err = kit_cli("export")
    assert code == 1 and "was not written by kit" in err
    assert tree(project) == before
    assert "modules/prep.py: not generated by kit" in kit_cli("check")[1]


def test_a_modules_path_that_is_a_file_is_refused(project: Path, kit_cli) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP)
    shutil.rmtree(project / "modules")
    (project / "modules").write_text("oops\n")
    before = tree(project)
    code, _, err = kit_cli("export")
    assert code == 1 and "modules is a file, not a folder" in err
    assert tree(project) == before


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (None, "is not JSON"),
        ({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}, "is nbformat 3, not nbformat 4"),
        (
            ["%%hamilton\ndef a() -> int:\n    return 1\n"],
            "cell 0, line 1: the %%hamilton cell has no module name",
        ),
        ([PREP, PREP], "cells 0 and 1 both define module 'prep'"),
        (
            ["x = 1", "%%hamilton prep\ndef a(:\n    pass\n"],
            "cell 1: cell module 'prep', line 1: def a(:: syntax error",
        ),
    ],
    ids=["not-json", "nbformat-3", "no-module-name", "same-name-twice", "syntax-error"],
)
def test_a_bad_notebook_fails_export_and_check_and_touches_nothing(
    project: Path, kit_cli, cells, message: str
) -> None:
    write_notebook(project / "notebooks" / "fine.ipynb", MORE)
    bad = project / "notebooks" / "bad.ipynb"
    if cells is None:
        bad.write_text("{ not json")
    elif isinstance(cells, dict):
        bad.write_text(json.dumps({**cells, "metadata": {}}))
    else:
        write_notebook(bad, *cells)
    before = tree(project)
    for command in (("export",), ("check",), ("export", "notebooks/bad.ipynb")):
        code, _, err = kit_cli(*command)
        assert (
            code == 1
            and f"notebooks/bad.ipynb{'' if cells is None or isinstance(cells, dict) else ', '}"
            in err
        )
        assert message in err, err
        assert tree(project) == before


def test_export_without_names_covers_every_notebook_of_the_project(project: Path, kit_cli) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP)
    write_notebook(project / "notebooks" / "deeper" / "b.ipynb", MORE)
    write_notebook(
        project / "notebooks" / ".ipynb_checkpoints" / "a-checkpoint.ipynb",
        "%%hamilton stale_copy\nx = 1\n",
    )
    elsewhere = write_notebook(
        project / "scratch" / "c.ipynb", "%%hamilton jotted\ndef s() -> int:\n    return 0\n"
    )
    assert kit_cli("export", str(elsewhere))[0] == 0
    code, out, _ = kit_cli("export")
    assert code == 0 and "wrote modules/prep.py" in out and "wrote modules/more.py" in out
    assert "stale_copy" not in out and not (project / "modules" / "stale_copy.py").exists()
    assert generated.read(project / "modules" / "more.py")[0].source == "notebooks/deeper/b.ipynb"
    assert generated.read(project / "modules" / "jotted.py")[0].source == "scratch/c.ipynb"
    assert kit_cli("check")[1] == "kit check: modules and flows agree with 3 notebooks\n"


def test_export_from_another_working_directory_names_the_notebook_from_the_root(
    project: Path, kit_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(project / "notebooks" / "a.ipynb", PREP)
    monkeypatch.chdir(project / "notebooks")
    assert kit_cli("export", "a.ipynb")[0] == 0
    assert generated.read(project / "modules" / "prep.py")[0].source == "notebooks/a.ipynb"
    code, out, _ = kit_cli("check")
    assert code == 0, out


def test_a_module_the_notebook_uses_is_not_orphaned(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP)
    main(["export"])
    write_notebook(notebook, "%hamilton_use modules.prep", MORE)
    main(["export"])
    assert drift(notebook) == []


@pytest.mark.parametrize(
    "notebook",
    [DATA / "features.ipynb", *sorted((REPO / "notebooks").glob("*.ipynb"))],
    ids=lambda p: p.name,
)
def test_exported_modules_build_the_notebooks_dag_in_a_fresh_interpreter(
    notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kit_cli
) -> None:
    root = fixture_project(tmp_path / "project", notebook)
    monkeypatch.chdir(root)
    assert kit_cli("export", f"notebooks/{notebook.name}")[0] == 0
    forget_project_modules()
    ws = workspace_from_notebook(root / "notebooks" / notebook.name)
    modules = [entry.module.__name__ for entry in ws.entries.values()]
    assert {f"modules.{cell.name}" for cell in read_notebook(notebook).cells} <= set(modules)
    assert exported_dag_signature(root, ws.config, modules) == dag_signature(ws)
    forget_project_modules()


def test_drift_states_are_the_documented_ones() -> None:
    assert [state.value for state in DriftState] == [
        "stale",
        "missing",
        "orphaned",
        "hand-edited",
        "not generated by kit",
        "owned by another notebook",
    ]


def test_drift_lists_path_state_diff_and_command(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP)
    [item] = drift(notebook)
    assert (item.path, item.state, item.command) == (
        project / "modules" / "prep.py",
        DriftState.MISSING,
        "kit export notebooks/a.ipynb",
    )
    assert item.diff.startswith(
        "--- modules/prep.py (on disk)\n+++ modules/prep.py (from the notebook)\n"
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(new_code_cell("print('unrelated')"))
    nbformat.write(nb, notebook)
    main(["export"])
    assert drift(notebook) == []


def test_drift_inside_a_kernel_leaves_the_kernels_modules_alone(shell, project: Path) -> None:
    from conftest import run_cell

    import kit

    notebook = write_notebook(
        project / "notebooks" / "a.ipynb", PREP.replace("return 1", "return 7")
    )
    run_cell(shell, PREP)
    kernel_module = kit.workspace().modules["prep"]
    assert [item.state for item in drift(notebook)] == [DriftState.MISSING]
    assert (
        sys.modules["modules.prep"] is kernel_module
        and sys.modules["modules"].prep is kernel_module
    )
    assert kit.workspace().execute(["base"]) == {"base": 1}


# -- flows: from promote lines, and from the recipe a flow file records ----------------------------

PROMOTE = "%hamilton_promote doubling --outputs doubled"


def test_export_writes_the_flows_of_promote_lines_and_check_follows_them(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE, PROMOTE)
    code, out, _ = kit_cli("export")
    assert code == 0 and "wrote flows/doubling.py" in out
    header, _ = generated.read(project / "flows" / "doubling.py")
    assert (header.source, header.recipe) == ("notebooks/a.ipynb", PROMOTE)
    assert kit_cli("check")[0] == 0

    write_notebook(notebook, PREP, MORE, PROMOTE + " --tasks single")
    assert _states(notebook) == {"doubling.py": "stale"}
    write_notebook(
        notebook,
        PREP,
        MORE.replace("(base: int)", "(base: int, factor: int)").replace("* 2", "* factor"),
        PROMOTE,
    )
    assert _states(notebook) == {"more.py": "stale", "doubling.py": "stale"}
    code, out, _ = kit_cli("export")
    assert (
        code == 0
        and "wrote flows/doubling.py" in out
        and "factor: int" in (project / "flows" / "doubling.py").read_text()
    )
    assert kit_cli("check")[0] == 0


def test_a_promote_line_that_cannot_be_promoted_names_its_cell(project: Path, kit_cli) -> None:
    write_notebook(
        project / "notebooks" / "a.ipynb",
        PREP,
        MORE,
        "x = 1\n" + PROMOTE.replace("doubled", "doubeld"),
    )
    before = tree(project)
    code, _, err = kit_cli("export")
    assert code == 1 and "notebooks/a.ipynb, cell 2, line 2: unknown node: 'doubeld'" in err
    assert "did you mean 'doubled'" in err
    assert tree(project) == before


def test_a_flow_made_without_a_line_is_regenerated_from_its_recorded_recipe(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    assert kit_cli("export")[0] == 0
    forget_project_modules()
    ws = workspace_from_notebook(notebook)
    path = ws.promote("widget_flow", ["doubled"], tasks="single")  # what the widget's button does
    forget_project_modules()
    recipe = "kit promote notebooks/a.ipynb widget_flow --outputs doubled --tasks single"
    assert generated.read(path)[0].recipe == recipe
    assert drift(notebook) == []

    write_notebook(
        notebook,
        PREP,
        MORE.replace("(base: int)", "(base: int, factor: int)").replace("* 2", "* factor"),
    )
    assert _states(notebook) == {"more.py": "stale", "widget_flow.py": "stale"}
    code, out, _ = kit_cli("export")
    assert code == 0 and "wrote flows/widget_flow.py" in out
    assert "factor: int" in path.read_text() and kit_cli("check")[0] == 0


def test_a_flow_whose_promote_line_is_gone_is_orphaned_and_pruned(project: Path, kit_cli) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE, PROMOTE)
    assert kit_cli("export")[0] == 0
    write_notebook(notebook, PREP, MORE)
    states = {item.path.name: (item.state.value, item.reason) for item in drift(notebook)}
    assert states == {"doubling.py": ("orphaned", "its %hamilton_promote line is gone")}
    assert kit_cli("check")[0] == 1
    code, out, _ = kit_cli("export", "--prune")
    assert code == 0 and "removed flows/doubling.py" in out
    assert not (project / "flows" / "doubling.py").exists() and kit_cli("check")[0] == 0


def test_a_flow_whose_recipe_no_longer_builds_is_orphaned_and_pruned_unless_edited(
    project: Path, kit_cli
) -> None:
    notebook = write_notebook(project / "notebooks" / "a.ipynb", PREP, MORE)
    forget_project_modules()
    ws = workspace_from_notebook(notebook)
    kept = ws.promote("kept_flow", ["doubled"])
    pruned = ws.promote("pruned_flow", ["doubled"])
    forget_project_modules()
    kept.write_text(kept.read_text().replace("def ", "def  ", 1))
    write_notebook(notebook, PREP)  # `doubled` is gone
    states = {item.path.name: (item.state.value, item.reason) for item in drift(notebook)}
    assert (
        states["pruned_flow.py"][0] == "orphaned"
        and "no longer builds" in states["pruned_flow.py"][1]
    )
    assert "'doubled'" in states["pruned_flow.py"][1]
    code, out, _ = kit_cli("export", "--prune")
    assert code == 0 and "removed flows/pruned_flow.py" in out and "removed modules/more.py" in out
    assert not pruned.exists() and kept.exists() and "kept flows/kept_flow.py: orphaned" in out
