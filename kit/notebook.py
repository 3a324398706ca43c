"""Read a notebook file without a kernel.

Its `%%hamilton` cells, its kit magic lines, its parameters.

A cell is read as IPython reads it (IPython's own input transformer turns magics into
`get_ipython().run_*_magic(...)` calls), so a magic inside a string or a docstring is not
mistaken for one. Each magic line is parsed by kit.grammar, as the magics parse it; kit.steps
replays what was read into a Workspace.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import MagicUsageError, NotebookError
from kit.grammar import parse_cell_line

CELL_MAGIC = "hamilton"
LINE_MAGICS = ("hamilton_use", "hamilton_config", "hamilton_promote")


@dataclass(frozen=True)
class HamiltonCell:
    """A `%%hamilton NAME ...` cell: where it is, its magic line as written, its body."""

    index: int  # cell index in the notebook, 0-based (as papermill counts)
    line: int  # line of the `%%hamilton` line within the cell, 1-based
    magic_line: str
    name: str
    config: tuple[str, ...]  # the texts of its -c options
    override: bool
    body: str


@dataclass(frozen=True)
class MagicLine:
    """A kit magic line at the top level of a cell.

    A `%hamilton_use`, `%hamilton_config` or `%hamilton_promote` line.
    """

    index: int
    line: int
    magic: str
    argument: str

    @property
    def text(self) -> str:
        """The line as a magic writes it in a file header.

        For example `%hamilton_promote FLOW --outputs ...`.
        """
        return f"%{self.magic} {self.argument.strip()}".rstrip()


Step = HamiltonCell | MagicLine


@dataclass(frozen=True)
class NotebookSource:
    """What kit reads from a notebook file, in notebook order."""

    path: Path
    steps: tuple[Step, ...]
    parameters: dict[str, Any]  # literals of the `parameters` cell as written

    @property
    def name(self) -> str:
        """The notebook as error messages name it."""
        return display_path(self.path)

    @property
    def cells(self) -> list[HamiltonCell]:
        return [step for step in self.steps if isinstance(step, HamiltonCell)]

    def lines(self, magic: str) -> list[MagicLine]:
        """The lines of one line magic (`hamilton_promote`, ...), in order."""
        return [step for step in self.steps if isinstance(step, MagicLine) and step.magic == magic]


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _load(path: Path) -> Any:
    """The notebook node of a JSON, nbformat 4 file; a NotebookError otherwise."""
    import nbformat

    name = display_path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotebookError(name, "no such notebook", hint="check the path") from None
    except UnicodeDecodeError as error:
        raise NotebookError(
            name, f"is not a text file ({error.reason})", hint="name an .ipynb notebook"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            name,
            f"is not JSON (line {error.lineno}, column {error.colno}: {error.msg})",
            hint="a notebook is a JSON file; "
            "restore it from version control or save it again in JupyterLab",
        ) from None
    version = data.get("nbformat") if isinstance(data, dict) else None
    if version != 4:
        raise NotebookError(
            name,
            f"is nbformat {version}, not nbformat 4"
            if version
            else "is JSON but not a notebook (no nbformat key)",
            hint="open and save it in JupyterLab, "
            "or run `jupyter nbconvert --to notebook --nbformat 4` on it",
        )
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat's validation and reader errors share no useful base
        raise NotebookError(
            name,
            f"is not a valid nbformat 4 notebook: {error}".splitlines()[0],
            hint="save it again in JupyterLab",
        ) from None
    return notebook


def _magic_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """`get_ipython().run_line_magic('NAME', 'ARG')` (or run_cell_magic) as (NAME, [ARG, BODY])."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    target = node.func.value
    if node.func.attr not in ("run_line_magic", "run_cell_magic") or not (
        isinstance(target, ast.Call)
        and isinstance(target.func, ast.Name)
        and target.func.id == "get_ipython"
    ):
        return None
    values = [
        arg.value
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    ]
    if len(values) != len(node.args) or not values:
        return None
    return values[0], values[1:]


def _leading_blank_lines(source: str) -> int:
    count = 0
    for line in source.splitlines():
        if line.strip():
            break
        count += 1
    return count


def _cell_steps(notebook: str, index: int, source: str) -> list[Step]:
    """The kit steps of one code cell."""
    from IPython.core.inputtransformer2 import TransformerManager

    offset = _leading_blank_lines(source)
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as error:
        if "%hamilton" not in source:
            return []  # not kit's cell; the kernel will say what is wrong with it
        raise NotebookError(
            notebook,
            f"cannot be read: {error.msg}",
            cell_index=index,
            line=(error.lineno or 0) + offset or None,
            hint="fix the cell so that it runs",
        ) from None
    top_level = {id(statement.value) for statement in tree.body if isinstance(statement, ast.Expr)}
    steps: list[Step] = []
    for node in ast.walk(tree):
        call = _magic_call(node)
        if call is None or call[0] not in (CELL_MAGIC, *LINE_MAGICS):
            continue
        magic, arguments = call
        line = node.lineno + offset  # type: ignore[attr-defined]
        if id(node) not in top_level:
            raise NotebookError(
                notebook,
                f"%{magic} inside a block or an expression: only a kernel can tell whether it runs",
                cell_index=index,
                line=line,
                hint=f"put %{magic} on a line of its own at the top level of the cell",
            )
        if magic != CELL_MAGIC:
            steps.append(MagicLine(index, line, magic, arguments[0]))
            continue
        line_text, body = arguments
        try:
            options = parse_cell_line(line_text)
        except MagicUsageError as error:
            raise NotebookError(
                notebook, error.message, cell_index=index, line=line, hint=error.hint
            ) from None
        steps.append(
            HamiltonCell(
                index=index,
                line=line,
                magic_line=f"%%hamilton {line_text.strip()}",
                name=options.name,
                config=options.config,
                override=options.override,
                body=body,
            )
        )
    return sorted(steps, key=lambda step: step.line)


def _literals(source: str) -> dict[str, Any]:
    """The names a cell assigns to Python literals at its top level (`n = 3`, `kind: str = "a"`)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return {}
    values: dict[str, Any] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = literal
    return values


def _parameters_cell(notebook: Any, name: str) -> Any | None:
    """The one cell tagged `parameters`, or None; two are an error (papermill injects its values
    after the first, and the second would silently put the defaults back)."""
    tagged = [
        (index, cell)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(tagged) > 1:
        raise NotebookError(
            name,
            f"cells {tagged[0][0]} and {tagged[1][0]} are both tagged `parameters`",
            cell_index=tagged[1][0],
            hint="keep the tag on one cell: merge the two parameters cells, or untag one",
        )
    return tagged[0][1] if tagged else None


def read_notebook(path: Path) -> NotebookSource:
    """The `%%hamilton` cells, kit magic lines and parameter literals of a notebook file."""
    notebook = _load(path)
    name = display_path(path)
    steps: list[Step] = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            steps.extend(_cell_steps(name, index, cell.source))
    seen: dict[str, HamiltonCell] = {}
    for cell in (step for step in steps if isinstance(step, HamiltonCell)):
        first = seen.setdefault(cell.name, cell)
        if first is not cell:
            raise NotebookError(
                name,
                f"cells {first.index} and {cell.index} both define module {cell.name!r}",
                cell_index=cell.index,
                line=cell.line,
                hint="give each %%hamilton cell its own module name, or merge the two cells",
            )
    parameters_cell = _parameters_cell(notebook, name)
    parameters = _literals(parameters_cell.source) if parameters_cell is not None else {}
    return NotebookSource(path=path, steps=tuple(steps), parameters=parameters)


def parameter_literals(path: Path) -> dict[str, Any]:
    """The literals of the notebook's `parameters` cell as written.

    Never papermill's injected values.
    """
    parameters_cell = _parameters_cell(_load(path), display_path(path))
    return _literals(parameters_cell.source) if parameters_cell is not None else {}
