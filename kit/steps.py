"""What each kit magic line does to a Workspace, in a kernel and in a replay of a notebook file.

The magics call these with the kernel's namespace; `build_workspace` calls them, step by step,
with the literals of the notebook's parameters cell, so `kit export` builds the Workspace that a
kernel running the notebook top to bottom would hold.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kit.errors import CellError, ConfigError, KitError, NotebookError
from kit.grammar import CellLine, config_references, parse_config, parse_use_line
from kit.notebook import HamiltonCell, NotebookSource, Step, read_notebook
from kit.project import require_project
from kit.workspace import Workspace


def run_cell(
    ws: Workspace, cell: CellLine, magic_line: str, body: str, namespace: Mapping[str, Any]
) -> types.ModuleType:
    """`%%hamilton NAME -c ...`: merge the cell's config, then make its body module NAME."""
    config: dict[str, Any] = {}
    references: dict[str, str] = {}
    for text in cell.config:
        config.update(parse_config(text, namespace))
        references.update(config_references(text))
    ws.update_config(config, references)
    return ws.add_cell(cell.name, body, magic_line=magic_line, override=cell.override)


def set_config(ws: Workspace, text: str, namespace: Mapping[str, Any]) -> None:
    """`%hamilton_config TEXT`: replace the config, remembering `key=$name` references."""
    ws.set_config(parse_config(text, namespace), config_references(text))


def use_modules(ws: Workspace, line: str) -> None:
    """`%hamilton_use MODULE ...`: add importable modules to the workspace."""
    for name in parse_use_line(line):
        ws.use(name)


def apply_step(ws: Workspace, step: Step, parameters: Mapping[str, Any]) -> None:
    """Do to `ws` what running the step in a kernel does (a promote line changes no workspace)."""
    if isinstance(step, HamiltonCell):
        cell = CellLine(step.name, step.config, False, None, False, step.override)
        run_cell(ws, cell, step.magic_line, step.body, parameters)
    elif step.magic == "hamilton_config":
        set_config(ws, step.argument, parameters)
    elif step.magic == "hamilton_use":
        use_modules(ws, step.argument)


@contextmanager
def located(source: NotebookSource, step: Step) -> Iterator[None]:
    """Re-raise a kit error raised while applying `step` as a NotebookError that names its cell."""
    try:
        yield
    except NotebookError:
        raise
    except CellError as error:
        # the cell error names the module and the line in it; add where the cell is
        raise NotebookError(
            source.name, error.message, cell_index=step.index, hint=error.hint
        ) from error
    except ConfigError as error:
        raise NotebookError(
            source.name,
            error.message,
            cell_index=step.index,
            line=step.line,
            hint="without a kernel, kit takes $name and config variables from the literals of the "
            "notebook's parameters cell: assign it a literal there",
        ) from error
    except KitError as error:
        raise NotebookError(
            source.name, error.message, cell_index=step.index, line=step.line, hint=error.hint
        ) from error


def build_workspace(source: NotebookSource) -> Workspace:
    """The Workspace a kernel running the notebook top to bottom would hold."""
    ws = Workspace(
        project=require_project(source.path.resolve().parent), notebook=str(source.path.resolve())
    )
    for step in source.steps:
        with located(source, step):
            apply_step(ws, step, source.parameters)
    return ws


def workspace_from_notebook(path: Path) -> Workspace:
    """The Workspace a kernel running the notebook would hold, built without a kernel."""
    return build_workspace(read_notebook(path))
