"""kit: Hamilton dataflows in notebook cells, promoted to Prefect flows.

`%load_ext kit` registers the magics; `kit.workspace()` is the state they share.
Prefect, papermill and the Jupyter server are imported only where they are used.

This package is the composition root: it plugs the front ends (export, promote, the widget)
into the Workspace core, which imports none of them (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Importing a submodule sets the package attribute of its name, so kit.validate and kit.submit
# are imported here, before the functions of the same names below replace those attributes.
# Both are light: papermill and Prefect load only when they run.
from kit import submit as _submission
from kit import validate as _validation
from kit.errors import KitError
from kit.version import __version__
from kit.workspace import Workspace, plug_front_ends, workspace

__all__ = [
    "KitError",
    "Workspace",
    "__version__",
    "load_ipython_extension",
    "submit",
    "validate",
    "workspace",
]


class _FrontEnds:
    """The front ends of `Workspace.export/.promote/.widget`, each imported when first used."""

    def export(self, ws: Workspace, names: Iterable[str] | None, force: bool) -> list[Path]:
        from kit.export import export_workspace

        return export_workspace(ws, names, force=force)

    def promote(
        self, ws: Workspace, flow: str, outputs: list[str], tasks: Any, options: dict[str, Any]
    ) -> Path:
        from kit.promote import promote

        return promote(ws, flow, outputs, tasks, **options).path

    def widget(self, ws: Workspace) -> Any:
        from kit.widget import DagWidget

        return DagWidget(ws)


plug_front_ends(_FrontEnds())


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kit`: register the magics and make the project's modules importable."""
    from kit.deferred_imports import defer_iri_grammar
    from kit.magics import KitMagics

    defer_iri_grammar()  # `%hamilton_promote` loads jsonschema: 1.5 s less in a validated kernel
    ws = workspace()
    if ws.project is not None:
        ws.project.put_root_on_sys_path()
    ipython.register_magics(KitMagics)
    ipython.set_custom_exc((KitError,), _show_kit_error)


def _show_kit_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """Show a kit error as its message (under the user's own traceback, if any), not kit's."""
    lines: list[str] = []
    cause = value.__cause__
    if cause is not None and not isinstance(cause, KitError):
        user_frames = cause.__traceback__.tb_next if cause.__traceback__ else None  # below exec
        lines = shell.InteractiveTB.structured_traceback(type(cause), cause, user_frames)
    lines = [*lines, f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def validate(*args: Any, **kwargs: Any) -> Any:
    """Run notebooks under papermill and check their modules and flows (see kit.validate)."""
    return _validation.validate(*args, **kwargs)


def submit(*args: Any, **kwargs: Any) -> Any:
    """Validate a notebook, then run its flows on Prefect (see kit.submit)."""
    return _submission.submit(*args, **kwargs)
