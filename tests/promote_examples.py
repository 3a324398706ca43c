"""The example modules of the promote tests (tests/data/promote), and a workspace made of them."""

from __future__ import annotations

from pathlib import Path

import kit

DATA = Path(__file__).parent / "data" / "promote"
ML_MODULES = ("ingest", "features", "model")
ML_OUTPUTS = ["score", "save_predictions", "area"]


def load_workspace(*names: str, config: dict | None = None) -> kit.Workspace:
    """The workspace of the test project with the example modules as cells."""
    ws = kit.workspace()
    for name in names:
        ws.add_cell(name, (DATA / f"{name}.py").read_text())
    ws.config = config or {}
    return ws
