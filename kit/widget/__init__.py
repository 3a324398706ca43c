"""The DAG widget: the workspace DAG drawn in the notebook, whose selection Python sees.

`DagWidget(ws)` is an anywidget. Its front end (dag.js, dag.css beside this file) draws the
payload of kit.dag.payload; clicks change the synced `selected` list, which Python may set too.
The widget follows the workspace: when a `%%hamilton` cell runs again the graph is redrawn in
place and the selection keeps the nodes that still exist. Displayed, it comes with the panel
of kit.widget._panel beside it (what will run, Run, Promote to flow, Submit).
"""

from __future__ import annotations

import contextlib
import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import traitlets

from kit.dag.payload import dag_payload, empty_payload
from kit.errors import (
    CellError,
    DuplicateNodeError,
    GraphError,
    ModuleNameError,
    UnknownNodeError,
)
from kit.widget._kernel import describe_error, ipython_shell

if TYPE_CHECKING:
    from kit.workspace import Workspace

__all__ = ["DagWidget"]

_HERE = Path(__file__).parent
# Errors of a cell run that leave the workspace as it was: the widget says so over its last graph.
_DAG_ERRORS = (CellError, DuplicateNodeError, GraphError, ModuleNameError)


class DagWidget(anywidget.AnyWidget):
    """The interactive DAG of one workspace; `selected` is the synced list of selected nodes."""

    _esm = _HERE / "dag.js"
    _css = _HERE / "dag.css"

    graph = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    collapsed = traitlets.List(traitlets.Unicode()).tag(sync=True)
    plan = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(graph=empty_payload(), **kwargs)
        self.workspace = workspace
        self.results: dict[str, Any] = {}  # what the Run button computed last
        self.refresh()
        workspace.on_change(self._on_workspace_change)
        self.observe(self._on_collapsed, "collapsed")
        self._shell = ipython_shell()
        if self._shell is not None:
            self._shell.events.register("post_run_cell", self._after_cell)
        from kit.widget._panel import Panel

        self.panel = Panel(self)
        self.layout.flex = "1 1 auto"
        self.layout.min_width = "0"
        self._box = ipywidgets.HBox(
            [self, self.panel.box], layout=ipywidgets.Layout(width="100%", align_items="flex-start")
        )

    # -- following the workspace -------------------------------------------------------------

    def refresh(self) -> None:
        """Draw the workspace as it is now; on an error keep the last good graph and say why."""
        try:
            payload = dag_payload(self.workspace, collapsed=self.collapsed)
        except Exception as error:
            self.error = describe_error(error)
            return
        modules = {module["name"] for module in payload["modules"]}
        with self.hold_sync():
            self.graph = dict(payload)
            self.error = ""
            kept = [name for name in self.selected if name in payload["deps"]]
            if kept != self.selected:
                self.selected = kept
            still = [name for name in self.collapsed if name in modules]
            if still != self.collapsed:
                self.set_trait("collapsed", still)

    def _on_workspace_change(self, workspace: Workspace) -> None:
        self.refresh()

    def _on_collapsed(self, change: dict[str, Any]) -> None:
        self.refresh()

    def _after_cell(self, result: Any) -> None:
        """A `%%hamilton` cell that failed left the workspace as it was: say why, over its graph."""
        if isinstance(result.error_in_exec, _DAG_ERRORS):
            self.error = describe_error(result.error_in_exec)

    def close(self) -> None:
        if self._shell is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                self._shell.events.unregister("post_run_cell", self._after_cell)
        super().close()

    # -- selection ---------------------------------------------------------------------------

    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict[str, Any]) -> list[str]:
        names = list(dict.fromkeys(proposal["value"]))
        known = self.graph.get("deps", {})
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UnknownNodeError(
                unknown,
                {name: difflib.get_close_matches(name, known, n=3) for name in unknown},
                known=known,
            )
        return names

    @property
    def upstream(self) -> set[str]:
        """The selected nodes and every node they need (what a run of the selection touches)."""
        return self.workspace.graph().upstream(self.selected)

    def will_run(self) -> list[str]:
        """The functions that executing the selection runs, in an order they can run."""
        graph = self.workspace.graph()
        given = set(self.workspace.config)
        needed = graph.upstream(self.selected, stop_at=given)
        return [name for name in graph.topological_order(needed) if not graph.nodes[name].is_input]

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The graph with the panel beside it."""
        return self._box._repr_mimebundle_(**kwargs)
