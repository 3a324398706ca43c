"""Export cell modules to modules/NAME.py, and load a module back into a `%%hamilton` cell.

One function renders a module file (`module_text`), so `%hamilton_export` in a kernel and
`kit export` on the notebook file write the same bytes from the same cell.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit import generated
from kit.errors import KitError, OwnershipError, ProjectError
from kit.project import Project, find_project, require_project

if TYPE_CHECKING:
    from kit.workspace import Workspace


@dataclass(frozen=True)
class PlannedWrite:
    """A generated file checked and ready to be written."""

    path: Path
    text: str
    state: generated.FileState


def project_of(ws: Workspace) -> Project:
    """The workspace's project; outside one, the error that says how to make one."""
    return ws.project or require_project()


def notebook_file(ws: Workspace) -> Path | None:
    """The notebook the workspace came from, resolved to a file.

    Jupyter gives `JPY_SESSION_NAME` relative to the folder the server started in, which is
    the kernel's working directory (the notebook's folder) or one of its parents.
    """
    if ws.notebook is None:
        return None
    path = Path(ws.notebook).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd()
    project = ws.project
    for base in (here, *here.parents, *([project.root] if project else [])):
        if (base / path).is_file():
            return base / path
    return (project.root if project else here) / path


def notebook_source(ws: Workspace) -> str | None:
    """The notebook as a generated file's header names it: relative to the project root."""
    path = notebook_file(ws)
    return None if path is None else project_of(ws).relative(path)


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
            f"module {name!r} was added with %hamilton_use; it already is the file {entry.module.__file__}",
            hint="export only %%hamilton cell modules",
        )
    path = project_of(ws).modules / f"{name}.py"
    return path, generated.render(
        notebook_source(ws), entry.magic_line or f"%%hamilton {name}", entry.source or ""
    )


def check_folder(folder: Path) -> None:
    """Refuse a folder path that is a file."""
    if folder.exists() and not folder.is_dir():
        raise ProjectError(
            f"{folder} is a file, not a folder",
            path=str(folder),
            hint="move the file away (or name another folder in [tool.kit]) so kit can write there",
        )


def owner(path: Path) -> str | None:
    """The notebook that owns a generated file: the one its header names, while that notebook exists."""
    existing = generated.read(path)
    notebook = existing[0].notebook if existing is not None else None
    if notebook is None:
        return None
    project = find_project(path.parent)
    root = project.root if project is not None else path.parent.parent
    return notebook if (root / notebook).is_file() else None


def check_owner(path: Path, source: str) -> None:
    """Refuse to write `path` if another notebook than `source` owns it."""
    current = owner(path)
    if current is not None and current != source:
        raise OwnershipError(path, current, source)


def plan_write(path: Path, text: str, *, force: bool = False) -> PlannedWrite:
    """Check that writing `text` (a rendered generated file) to `path` takes nothing from anyone."""
    check_folder(path.parent)
    parsed = generated.parse(text)
    assert parsed is not None, "plan_write takes text rendered by kit.generated.render"
    check_owner(path, parsed[0].source)
    return PlannedWrite(path, text, generated.check_writable(path, text, force=force))


def write_planned(plans: Sequence[PlannedWrite]) -> list[Path]:
    """Write every planned file whose content changes (atomically, under a lock); all their paths."""
    for plan in plans:
        if plan.state is not generated.FileState.CURRENT:
            generated.write_atomic(plan.path, plan.text)
    return [plan.path for plan in plans]


@contextmanager
def export_lock(project: Project) -> Iterator[None]:
    """One export at a time in a project: another export's checks and writes cannot interleave with ours."""
    from filelock import FileLock

    folder = project.root / ".kit"
    folder.mkdir(exist_ok=True)
    with FileLock(str(folder / "export.lock")):
        yield


def export_workspace(
    ws: Workspace, names: Iterable[str] | None = None, *, force: bool = False
) -> list[Path]:
    """Write modules/NAME.py for the named cell modules (all when None); nothing if any is refused."""
    if names is None:
        names = [name for name, entry in ws.entries.items() if entry.is_cell]
    texts = [module_text(ws, name) for name in names]
    with export_lock(project_of(ws)):
        return write_planned([plan_write(path, text, force=force) for path, text in texts])


def module_file(target: str, ws: Workspace) -> Path:
    """The file `%hamilton_load` means: a path, a module NAME of the modules folder, or a dotted name."""
    project = project_of(ws)
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
                hint="change the flow's promote line (or the modules it imports) in the notebook instead",
            )
    cell_body = generated.normalise_body(body).rstrip("\n")
    return f"{recipe}\n{cell_body}"
