"""`pytest --kit-notebooks [PATH]`: each notebook under PATH is a test item.

It passes when `kit validate` passes the notebook.

Registered through the `pytest11` entry point, so it loads in every pytest run of an environment
that has kit: it imports nothing heavy until a notebook item runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kit.errors import KitError, NotebookFailed
from kit.project import find_project

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

OPTION = "--kit-notebooks"
_ROOT = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kit", "kit notebooks")
    group.addoption(
        OPTION,
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        dest="kit_notebooks",
        help="validate every notebook under PATH (a notebook or a folder; default: the project's "
        "notebooks folder) with papermill, then check the modules and flows it owns",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Add the notebooks' path to what pytest collects."""
    root = _notebooks_root(config)
    if root is None:
        return
    config.stash[_ROOT] = root
    if not any(Path(arg.split("::")[0]).resolve() == root for arg in config.args):
        config.args.append(str(root))


def _notebooks_root(config: pytest.Config) -> Path | None:
    value = config.getoption("kit_notebooks")
    if value is None:
        return None
    if value:
        path = Path(value).resolve()
        if not path.exists():
            raise pytest.UsageError(f"{OPTION} {value}: no such notebook or folder")
        return path
    project = find_project(config.rootpath)
    if project is None:
        raise pytest.UsageError(
            f"{OPTION} without PATH needs a kit project ([tool.kit] in pyproject.toml) "
            f"at or above {config.rootpath}"
        )
    return project.notebooks


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    root = parent.config.stash.get(_ROOT, None)
    if root is None or file_path.suffix != ".ipynb" or not file_path.resolve().is_relative_to(root):
        return None
    if _in_runs_folder(file_path):
        return None
    return NotebookFile.from_parent(parent, path=file_path)


def _in_runs_folder(path: Path) -> bool:
    """Whether `path` is under the project's runs/, where `kit validate` keeps executed copies.

    Those are not notebooks to validate.
    """
    project = find_project(path.parent)
    return project is not None and path.resolve().is_relative_to(project.root / "runs")


class NotebookFile(pytest.File):
    """A notebook file: one item, its validation."""

    def collect(self) -> Iterator[pytest.Item]:
        yield NotebookItem.from_parent(self, name="validate")


class NotebookItem(pytest.Item):
    """Run the notebook under papermill (kernel told KIT_VALIDATE=1), then its drift check."""

    def runtest(self) -> None:
        from kit.validate import validate

        report = validate([self.path], progress=False)
        self.user_properties.append(("executed", str(report[0].executed)))
        if not report.passed:
            raise NotebookFailed(report)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, (NotebookFailed, KitError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"kit validate {self.path.name}"
