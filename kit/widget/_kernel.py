"""What the widget and its panel ask of the kernel: the running shell, and how an error reads."""

from __future__ import annotations

import traceback
from typing import Any

from kit.errors import KitError


def describe_error(error: BaseException) -> str:
    """A kit error as its message and hint; anything else with its traceback (it is a kit bug)."""
    if isinstance(error, KitError):
        return f"{type(error).__name__}: {error}"
    return "".join(traceback.format_exception(error)).rstrip()


def ipython_shell() -> Any:
    """The running IPython shell, or None (a script, `kit dag`)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
