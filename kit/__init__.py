"""kit: Hamilton dataflows in notebook cells, promoted to Prefect flows.

`%load_ext kit` registers the magics; `kit.workspace()` is the state they share.
Prefect, papermill and the Jupyter server are imported only where they are used.
"""

from __future__ import annotations

from typing import Any

from kit import (
    submit as _submit,
)  # light modules (papermill and Prefect load when they run); imported
from kit import (
    validate as _validate,
)  # before the functions below, which would otherwise lose their names
from kit.errors import KitError
from kit.workspace import Workspace, workspace

__version__ = "0.1.0"
__all__ = ["KitError", "Workspace", "load_ipython_extension", "submit", "validate", "workspace"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kit`: register the magics and make the project's modules importable."""
    from kit.magics import KitMagics

    ws = workspace()
    if ws.project is not None:
        ws.project.put_root_on_sys_path()
    ipython.register_magics(KitMagics)
    ipython.set_custom_exc((KitError,), _show_kit_error)


def _show_kit_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """Show a kit error as its message (under the user's own traceback, if any), not kit's frames."""
    lines: list[str] = []
    cause = value.__cause__
    if cause is not None and not isinstance(cause, KitError):
        user_frames = (
            cause.__traceback__.tb_next if cause.__traceback__ else None
        )  # below kit's exec
        lines = shell.InteractiveTB.structured_traceback(type(cause), cause, user_frames)
    lines = [*lines, f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def validate(*args: Any, **kwargs: Any) -> Any:
    """Run notebooks under papermill and check their modules and flows (see kit.validate)."""
    return _validate.validate(*args, **kwargs)


def submit(*args: Any, **kwargs: Any) -> Any:
    """Validate a notebook, then run its flows on Prefect (see kit.submit)."""
    return _submit.submit(*args, **kwargs)
