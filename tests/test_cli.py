"""The `kit` command: help, version, a fast start, and a `kit init` project that validates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import forget_project_modules
from test_export import dag_signature, exported_dag_signature
from test_notebook import tree

import kit
import kit.project
from kit.cli import main
from kit.steps import workspace_from_notebook

KIT = Path(sys.executable).parent / "kit"
HEAVY = ("prefect", "papermill", "jupyter_server")

_IMPORTS_AFTER = """\
import json, sys
from kit.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def _top_level_imports(*argv: str, cwd: Path | None = None) -> tuple[int, set[str]]:
    """Run `kit ARGV` in a fresh interpreter.

    Return its exit code and the top-level packages it imported.
    """
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_AFTER, *argv], capture_output=True, text=True, cwd=cwd
    )
    report = json.loads(done.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("init", "export", "check", "dag", "promote", "validate", "submit", "demo"):
        assert f"\n    {command} " in out, command


def test_export_help_explains_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--check write nothing; exit 1 if anything differs" in out
    assert "--force overwrite files edited by hand" in out
    assert "--prune remove orphaned generated files (never hand-edited ones)" in out


def test_the_kit_command_prints_its_version() -> None:
    done = subprocess.run([str(KIT), "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"kit {kit.__version__}\n")


@pytest.mark.parametrize(
    "argv", [("--help",), ("export", "--help"), ("check", "--help"), ("init", "--help")]
)
def test_help_imports_neither_prefect_nor_papermill_nor_jupyter_server(
    argv: tuple[str, ...],
) -> None:
    code, imported = _top_level_imports(*argv)
    assert code == 0
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_check_of_a_project_without_flows_imports_neither(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "fresh")]) == 0
    code, imported = _top_level_imports("check", cwd=tmp_path / "fresh")
    assert code == 1  # the starter's modules are not exported yet
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_outside_a_project_export_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    kit.project._find_cached.cache_clear()
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kit check: no kit project at or above") and "kit init DIR" in err


def test_init_makes_a_project_whose_starter_validates_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "My Project"
    assert main(["init", str(root)]) == 0
    assert sorted(tree(root)) == [
        "environment.yml",
        "flows/__init__.py",
        "modules/__init__.py",
        "notebooks/starter.ipynb",
        "pyproject.toml",
    ]
    assert (root / ".gitignore").is_file()
    project = kit.project.load_project(root)
    assert (project.notebooks, project.modules, project.flows) == (
        root / "notebooks",
        root / "modules",
        root / "flows",
    )
    assert 'name = "my-project"' in (root / "pyproject.toml").read_text()
    assert "name: my-project" in (root / "environment.yml").read_text()

    starter = root / "notebooks" / "starter.ipynb"
    papermill.execute_notebook(
        str(starter),
        str(tmp_path / "starter.ipynb"),
        cwd=str(starter.parent),
        parameters={"scale": 3.0},
        progress_bar=False,
    )
    executed = nbformat.read(tmp_path / "starter.ipynb", as_version=4)
    assert any(
        "mean_by_sensor" in cell.source and cell.outputs
        for cell in executed.cells
        if cell.cell_type == "code"
    )

    monkeypatch.chdir(root)
    kit.project._find_cached.cache_clear()
    capsys.readouterr()
    assert main(["check"]) == 1
    assert main(["export"]) == 0
    assert main(["check"]) == 0
    assert "wrote modules/readings.py" in capsys.readouterr().out
    forget_project_modules()
    ws = workspace_from_notebook(starter)
    assert exported_dag_signature(
        root, ws.config, ["modules.readings", "modules.summary"]
    ) == dag_signature(ws)
    forget_project_modules()


def test_init_refuses_a_folder_with_files_and_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine\n")
    assert main(["init", str(taken)]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert tree(taken) == {"notes.txt": b"mine\n"}
    afile = tmp_path / "afile"
    afile.write_text("x\n")
    assert main(["init", str(afile)]) == 1
    assert "is a file" in capsys.readouterr().err and afile.read_text() == "x\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["init", str(empty)]) == 0 and (empty / "pyproject.toml").is_file()


def test_the_pre_commit_hook_runs_kit_check() -> None:
    import yaml

    hooks = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text()
    )
    [hook] = hooks
    assert (hook["id"], hook["entry"], hook["pass_filenames"]) == ("kit-check", "kit check", False)
    assert "ipynb" in hook["files"] and "py" in hook["files"]
