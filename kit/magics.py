"""The IPython magics: thin front ends over the Workspace (`%load_ext kit`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import HTML, Markdown, display

from kit import steps
from kit.errors import MagicUsageError, SubmitError
from kit.grammar import (
    parse_cell_line,
    parse_names,
    parse_promote_magic,
    parse_pull_line,
    parse_submit_line,
)
from kit.workspace import Workspace, workspace


@magics_class
class KitMagics(Magics):
    """`%%hamilton` and the `%hamilton_*` line magics."""

    @property
    def workspace(self) -> Workspace:
        return workspace()

    @property
    def _namespace(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[union-attr]

    @no_var_expand
    @cell_magic
    def hamilton(self, line: str, cell: str) -> None:
        """%%hamilton NAME [-c CONFIG] [-d] [-x [OUTPUT ...]] [--export] [--override]"""
        args = parse_cell_line(line)
        ws = self.workspace
        module = steps.run_cell(ws, args, f"%%hamilton {line.strip()}", cell, self._namespace)
        existing = self._namespace.get(args.name)
        if existing is None or existing is module or type(existing).__name__ == "module":
            self._namespace[args.name] = module
        if args.export:
            ws.export([args.name])
        if args.display:
            display(ws.widget())
        if args.execute is not None:
            outputs = args.execute or ws.graph().sinks(args.name)
            self._execute(ws, outputs)

    def _execute(self, ws: Workspace, outputs: Sequence[str]) -> None:
        """Execute `outputs`, missing inputs taken from notebook variables; bind the results."""
        graph = ws.graph()
        graph.check_known(outputs)
        wanted = graph.required_inputs(outputs, given=ws.config)
        inputs = {name: self._namespace[name] for name in wanted if name in self._namespace}
        results = ws.execute(outputs, inputs=inputs)
        for name in outputs:
            if name.isidentifier():
                self._namespace[name] = results[name]
            display(Markdown(f"**{name}**"), results[name])

    @no_var_expand
    @line_magic
    def hamilton_config(self, line: str) -> None:
        """%hamilton_config KEY=VALUE ... | JSON | VARIABLE: replace the workspace config."""
        steps.set_config(self.workspace, line, self._namespace)

    @line_magic
    def hamilton_use(self, line: str) -> None:
        """%hamilton_use MODULE ...: add importable modules to the workspace.

        Such as modules.prepare_data.
        """
        steps.use_modules(self.workspace, line)

    @line_magic
    def hamilton_dag(self, line: str) -> Any:
        """%hamilton_dag [OUTPUT ...]: the interactive DAG widget, with OUTPUTs selected."""
        outputs = parse_names("%hamilton_dag", line)
        widget = self.workspace.widget()
        if outputs:
            widget.selected = outputs
        return widget

    @line_magic
    def hamilton_export(self, line: str) -> None:
        """%hamilton_export [NAME ...]: write modules/NAME.py for cell modules (all by default)."""
        paths = self.workspace.export(parse_names("%hamilton_export", line) or None)
        display(Markdown("\n".join(f"- wrote `{path}`" for path in paths) or "nothing to export"))

    @no_var_expand
    @line_magic
    def hamilton_promote(self, line: str) -> None:
        """%hamilton_promote FLOW --outputs OUT ... [--tasks STRATEGY] [options].

        Write flows/FLOW.py.
        """
        from kit.promote import promote

        flow, options = parse_promote_magic(line)
        promotion = promote(
            self.workspace, flow, promote_line=f"%hamilton_promote {line.strip()}", **options
        )
        display(promotion)  # path, tasks, notes

    @line_magic
    def hamilton_pull(self, line: str) -> None:
        """%hamilton_pull RUN | --clear: load a Prefect run's inputs, config and task values.

        After it, ws.execute(outputs) recomputes `outputs` from the run's values upstream of them.
        """
        run = parse_pull_line(line)
        if run is None:
            self.workspace.set_pulled(None)
            display(Markdown("forgot the pulled run"))
            return
        from kit.pull import pull

        display(pull(self.workspace, run))

    @no_var_expand
    @line_magic
    def hamilton_submit(self, line: str) -> None:
        """%hamilton_submit [--flow FLOW ...] [-p NAME VALUE ...]: the Submit tab, from a cell."""
        from kit.generated import validating
        from kit.watch import follow_submission

        flows, pairs = parse_submit_line(line)
        if validating():  # kit validate runs this notebook: submitting from it would recurse
            display(Markdown("`%hamilton_submit` does not submit while `kit validate` runs"))
            return
        ws = self.workspace
        notebook = ws.notebook_path()
        if notebook is None or not notebook.is_file():
            raise SubmitError(
                "this kernel does not know which saved notebook it runs"
                if notebook is None
                else f"notebook {notebook} is not saved here",
                hint="open the notebook in JupyterLab and save it, "
                "or run `kit submit NOTEBOOK` in a terminal",
            )
        display(HTML(follow_submission(notebook, flows, pairs, ws.require_project().root)))

    @line_magic
    def hamilton_load(self, line: str) -> None:
        """%hamilton_load NAME_OR_PATH: put a module's source in the next cell.

        The source comes as a %%hamilton cell.
        """
        from kit.export import load_cell_text

        target = line.strip()
        if not target:
            raise MagicUsageError(
                "%hamilton_load", "name a module or a file", "%hamilton_load NAME_OR_PATH"
            )
        self.shell.set_next_input(load_cell_text(target, self.workspace), replace=False)  # type: ignore[union-attr]
