"""`pytest --kit-notebooks [PATH]`: the plugin kit registers through its pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_validate import write_notebook

from kit.cli import main


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh pytest in `root`, with only the plugins the environment's entry points register."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_each_notebook_is_a_test_that_validation_must_pass(project: Path) -> None:
    write_notebook(
        project / "notebooks" / "good.ipynb",
        "%load_ext kit",
        "%%hamilton tiny\ndef doubled(rows: int) -> int:\n    return rows * 2\n",
        "assert kit.workspace().execute(['doubled'], inputs={'rows': rows})['doubled'] == 2 * rows",
        parameters="import kit\nrows = 3",
    )
    write_notebook(
        project / "notebooks" / "bad.ipynb",
        "x = 1",
        "raise RuntimeError('this notebook is broken')",
    )
    write_notebook(
        project / "notebooks" / "drifts.ipynb",
        "%load_ext kit",
        "%%hamilton halved\ndef half(rows: int) -> float:\n    return rows / 2\n",
        parameters="rows = 3",
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_unit.py").write_text("def test_unit():\n    assert True\n")
    assert main(["export"]) == 0
    edited = project / "modules" / "halved.py"
    edited.write_text(edited.read_text().replace("rows / 2", "rows / 3"))

    done = _pytest(project, "--kit-notebooks")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed, 2 passed" in done.stdout, done.stdout
    assert "PASSED notebooks/good.ipynb::validate" in done.stdout
    assert "PASSED tests/test_unit.py::test_unit" in done.stdout, (
        "the project's own tests still run"
    )
    assert "FAILED notebooks/bad.ipynb::validate" in done.stdout
    assert "cell 1 failed" in done.stdout and "RuntimeError: this notebook is broken" in done.stdout
    assert (project / "runs" / "notebooks" / "bad.ipynb").is_file(), "the executed notebook is kept"
    assert "FAILED notebooks/drifts.ipynb::validate" in done.stdout
    assert "modules/halved.py hand-edited" in done.stdout

    done = _pytest(project, "--kit-notebooks", "notebooks/good.ipynb")
    assert done.returncode == 0 and "PASSED notebooks/good.ipynb::validate" in done.stdout, (
        done.stdout
    )
    assert "bad.ipynb" not in done.stdout, "only the notebook named"

    done = _pytest(project, "tests")
    assert done.returncode == 0 and "1 passed" in done.stdout and ".ipynb" not in done.stdout, (
        "off without the flag"
    )
