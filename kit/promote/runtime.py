"""flows/_runtime.py: the one helper module that every generated flow of a project imports.

Its body is kit/promote/runtime_source.py as it is. Its header names no notebook, since every
flow shares it: no notebook owns it, `kit export` writes it while any flow is left, `kit check`
reports it like any generated file, and `kit export --prune` removes it with the last flow.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kit import generated
from kit.project import Project

NAME = "_runtime"  # a flow of this name is refused (see kit.promote)
SOURCE = "the flows of this project"  # the header's source: no notebook
RECIPE = "kit export"


def runtime_path(project: Project) -> Path:
    """Where the helper module lives: flows/_runtime.py."""
    return project.flows / f"{NAME}.py"


def runtime_module(project: Project) -> str:
    """The helper's dotted import path, e.g. `flows._runtime`."""
    return f"{project.flows_package}.{NAME}"


@cache
def runtime_text() -> str:
    """The whole text of flows/_runtime.py (header and body); the same for every project."""
    body = Path(__file__).with_name("runtime_source.py").read_text()
    return generated.render(SOURCE, RECIPE, body)


def is_runtime(path: Path, project: Project) -> bool:
    """True for the project's helper module."""
    return path.resolve() == runtime_path(project).resolve()
