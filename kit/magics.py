"""The IPython magics: thin front ends over the Workspace (`%load_ext kit`)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import Markdown, display

from kit.config import config_references, parse_config
from kit.errors import MagicUsageError
from kit.workspace import Workspace, workspace


class _Parser(argparse.ArgumentParser):
    """argparse that raises a kit error instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise MagicUsageError(
            self.prog, message, self.format_usage().strip().removeprefix("usage: ")
        )


def _parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise MagicUsageError(parser.prog, str(error), parser.format_usage().strip()) from None
    return parser.parse_args(words)


def _cell_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%hamilton", add_help=False)
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("-c", "--config", action="append", default=[])
    parser.add_argument("-d", "--display", action="store_true")
    parser.add_argument("-x", "--execute", nargs="*", default=None)
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--override", action="store_true")
    return parser


def _names_parser(prog: str, dest: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, add_help=False)
    parser.add_argument(dest, nargs="*")
    return parser


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
        args = _parse(_cell_parser(), line)
        if not args.name:
            raise MagicUsageError(
                "%%hamilton", "the cell has no module name", "%%hamilton NAME [options]"
            )
        ws = self.workspace
        config: dict[str, Any] = {}
        references: dict[str, str] = {}
        for text in args.config:
            config.update(parse_config(text, self._namespace))
            references.update(config_references(text))
        ws.update_config(config, references)
        module = ws.add_cell(
            args.name, cell, magic_line=f"%%hamilton {line.strip()}", override=args.override
        )
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
        """Execute `outputs`, taking missing inputs from notebook variables, and bind the results."""
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
        self.workspace.set_config(parse_config(line, self._namespace), config_references(line))

    @line_magic
    def hamilton_use(self, line: str) -> None:
        """%hamilton_use MODULE ...: add importable modules (modules.prepare_data) to the workspace."""
        args = _parse(_names_parser("%hamilton_use", "modules"), line)
        if not args.modules:
            raise MagicUsageError(
                "%hamilton_use", "name at least one module", "%hamilton_use MODULE ..."
            )
        for name in args.modules:
            self.workspace.use(name)

    @line_magic
    def hamilton_dag(self, line: str) -> Any:
        """%hamilton_dag [OUTPUT ...]: the interactive DAG widget, with OUTPUTs selected."""
        args = _parse(_names_parser("%hamilton_dag", "outputs"), line)
        widget = self.workspace.widget()
        if args.outputs:
            widget.selected = list(args.outputs)
        return widget

    @line_magic
    def hamilton_export(self, line: str) -> None:
        """%hamilton_export [NAME ...]: write modules/NAME.py for cell modules (all by default)."""
        args = _parse(_names_parser("%hamilton_export", "names"), line)
        paths = self.workspace.export(args.names or None)
        display(Markdown("\n".join(f"- wrote `{path}`" for path in paths) or "nothing to export"))

    @no_var_expand
    @line_magic
    def hamilton_promote(self, line: str) -> None:
        """%hamilton_promote FLOW --outputs OUT ... [--tasks STRATEGY] [options]: write flows/FLOW.py."""
        from kit.promote import promote
        from kit.promote.options import add_promote_arguments, promote_options

        parser = _Parser(prog="%hamilton_promote", add_help=False)
        parser.add_argument("flow")
        add_promote_arguments(parser)
        args = _parse(parser, line)
        line = f"%hamilton_promote {line.strip()}"
        display(
            promote(self.workspace, args.flow, promote_line=line, **promote_options(args))
        )  # path, tasks, notes

    @line_magic
    def hamilton_load(self, line: str) -> None:
        """%hamilton_load NAME_OR_PATH: put a module's source, as a %%hamilton cell, in the next cell."""
        from kit.export import load_cell_text

        target = line.strip()
        if not target:
            raise MagicUsageError(
                "%hamilton_load", "name a module or a file", "%hamilton_load NAME_OR_PATH"
            )
        self.shell.set_next_input(load_cell_text(target, self.workspace), replace=False)  # type: ignore[union-attr]
