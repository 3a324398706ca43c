"""A command line shown as code in the panel: no wrapping, scrolled sideways, a Copy button."""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets


class CommandLine(anywidget.AnyWidget):
    """A command line shown as code (no wrapping, scrolled sideways) with a Copy button."""

    _esm = Path(__file__).parent / "command.js"
    text = traitlets.Unicode("").tag(sync=True)
