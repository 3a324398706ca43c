"""Export cell modules to modules/NAME.py, and load a module back into a `%%hamilton` cell.

One function renders a module file (`module_text`), so `%hamilton_export` in a kernel and
`kit export` on the notebook file write the same bytes from the same cell.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kit import generated
from kit.errors import KitError
from kit.versions import function_versions

if TYPE_CHECKING:
    from kit.workspace import Workspace


def module_text(ws: Workspace, name: str) -> tuple[Path, str]:
    """The path and the full text that exporting cell module NAME writes."""
    entries = ws.entries
    entry = entries.get(name)
    if entry is None:
        cells = [n for n, e in entries.items() if e.is_cell]
        raise KitError(
            f"the workspace has no cell module {name!r}", hint=f"its cell modules are {cells}"
        )
    if not entry.is_cell:
        raise KitError(
            f"module {name!r} was added with %hamilton_use; "
            f"it already is the file {entry.module.__file__}",
            hint="export only %%hamilton cell modules",
        )
    path = ws.require_project().modules / f"{name}.py"
    return path, generated.render(
        ws.notebook_source(),
        entry.magic_line or f"%%hamilton {name}",
        entry.source or "",
        versions=function_versions(entry.module),
    )


def export_workspace(
    ws: Workspace, names: Iterable[str] | None = None, *, force: bool = False
) -> list[Path]:
    """Write modules/NAME.py for the named cell modules (all when None).

    Nothing is written if any is refused.
    """
    if names is None:
        names = [name for name, entry in ws.entries.items() if entry.is_cell]
    texts = [module_text(ws, name) for name in names]
    with generated.project_lock(ws.require_project()):
        return generated.write_planned(
            [generated.plan_write(path, text, force=force) for path, text in texts]
        )


def module_file(target: str, ws: Workspace) -> Path:
    """The file that `%hamilton_load TARGET` names.

    TARGET is a path, a module NAME of the modules folder, or a dotted name.
    """
    project = ws.require_project()
    package, _, name = target.rpartition(".")
    if target.endswith(".py") or "/" in target:
        candidates = [Path(target).expanduser(), project.root / target]
    elif package in ("", project.modules_package):
        candidates = [project.modules / f"{name}.py"]
    else:
        project.put_root_on_sys_path()
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        candidates = [Path(spec.origin)] if spec is not None and spec.origin else []
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise KitError(
        f"%hamilton_load {target}: no such module file",
        hint=f"name a module of {project.relative(project.modules)}/ (e.g. prepare_data), "
        "a dotted module name, or the path of a .py file",
    )


def load_cell_text(target: str, ws: Workspace) -> str:
    """A `%%hamilton` cell holding the module's source; running and exporting it changes nothing."""
    path = module_file(target, ws)
    text = path.read_text()
    parsed = generated.parse(text)
    if parsed is None:
        recipe, body = f"%%hamilton {path.stem}", text
    else:
        header, body = parsed
        recipe = header.recipe
        if not recipe.startswith("%%hamilton "):
            raise KitError(
                f"{path} is a generated flow, made by `{recipe}`",
                hint="change the flow's promote line (or the modules it imports) "
                "in the notebook instead",
            )
    cell_body = generated.normalise_body(body).rstrip("\n")
    return f"{recipe}\n{cell_body}"
