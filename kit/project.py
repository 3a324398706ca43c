"""The project: its root (a pyproject.toml with a [tool.kit] table) and the folders it names."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kit.errors import ProjectError

DEFAULT_FOLDERS = {"notebooks": "notebooks", "modules": "modules", "flows": "flows"}


@dataclass(frozen=True)
class Project:
    """Where a kit project lives; every path kit writes is resolved from `root`."""

    root: Path
    notebooks: Path
    modules: Path
    flows: Path

    @property
    def modules_package(self) -> str:
        """The dotted import path of the modules folder (`modules`)."""
        return _dotted(self.modules.relative_to(self.root))

    @property
    def flows_package(self) -> str:
        return _dotted(self.flows.relative_to(self.root))

    def relative(self, path: Path) -> str:
        """`path` relative to the root, with forward slashes (as written in file headers)."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.resolve().as_posix()

    def put_root_on_sys_path(self) -> None:
        """Make `modules.*` importable from a kernel whose working directory is `notebooks/`."""
        root = str(self.root)
        if root not in sys.path:
            sys.path.insert(0, root)


def _dotted(relative: Path) -> str:
    name = ".".join(relative.parts)
    if not all(part.isidentifier() for part in relative.parts):
        raise ProjectError(
            f"folder {relative.as_posix()!r} is not an importable package path",
            path=relative.as_posix(),
            hint="name the folders in [tool.kit] with Python identifiers",
        )
    return name


def load_project(root: Path) -> Project:
    """Read `root/pyproject.toml`'s [tool.kit] table."""
    pyproject = root / "pyproject.toml"
    try:
        table = tomllib.loads(pyproject.read_text())["tool"]["kit"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(
            f"{pyproject} has no readable [tool.kit] table ({error})",
            path=str(pyproject),
            hint="add a [tool.kit] table, or create a project with `kit init DIR`",
        ) from None
    unknown = set(table) - set(DEFAULT_FOLDERS)
    if unknown:
        raise ProjectError(
            f"{pyproject}: unknown [tool.kit] keys {sorted(unknown)}",
            path=str(pyproject),
            hint=f"the keys are {sorted(DEFAULT_FOLDERS)}",
        )
    folders = {
        key: (root / table.get(key, default)).resolve() for key, default in DEFAULT_FOLDERS.items()
    }
    return Project(root=root.resolve(), **folders)


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` whose pyproject.toml has a [tool.kit] table."""
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                if "kit" in tomllib.loads(pyproject.read_text()).get("tool", {}):
                    return folder
            except tomllib.TOMLDecodeError:
                continue
    return None


@cache
def _find_cached(start: Path) -> Project | None:
    root = find_project_root(start)
    return load_project(root) if root else None


def find_project(start: Path | None = None) -> Project | None:
    """The project around `start` (default: the working directory), or None outside one."""
    return _find_cached((start or Path.cwd()).resolve())


def require_project(start: Path | None = None) -> Project:
    """Like `find_project`, but outside a project it is an error that says how to make one."""
    project = find_project(start)
    if project is None:
        where = (start or Path.cwd()).resolve()
        raise ProjectError(
            f"no kit project at or above {where} (no pyproject.toml with a [tool.kit] table)",
            path=str(where),
            hint="run `kit init DIR` to create one, or add [tool.kit] to your pyproject.toml",
        )
    return project
