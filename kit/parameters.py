"""Notebook parameters as papermill sees them: typed `-p` values, `-f` YAML files, the
parameters cell."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import KitError, ParameterFileError, UnknownParameterError

KERNEL_NAME = "python3"
LANGUAGE = "python"


@dataclass(frozen=True)
class NotebookParameters:
    """What a notebook's `parameters` cell defines (names and default texts), and whether it has
    one."""

    defaults: dict[str, str]
    has_cell: bool

    def check(self, notebook: Path, parameters: Mapping[str, Any]) -> None:
        """Raise UnknownParameterError naming every parameter the cell does not define."""
        unknown = [name for name in parameters if name not in self.defaults]
        if unknown:
            raise UnknownParameterError(notebook, unknown, self.defaults, has_cell=self.has_cell)

    def conform(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """`-p scale 3` for a cell writing `scale = 2.0` is the float 3.0, as the cell declares it.

        papermill would inject the int 3, and Hamilton refuses an int for a `float` input.
        """
        conformed = dict(parameters)
        for name, value in parameters.items():
            if type(value) is int and isinstance(_literal(self.defaults.get(name)), float):
                conformed[name] = float(value)
        return conformed


def _literal(text: str | None) -> Any:
    try:
        return ast.literal_eval(text) if text is not None else None
    except (ValueError, SyntaxError):
        return None


def typed_parameter(text: str) -> Any:
    """Type a command-line value as `papermill -p` does: True/False/None, int, float, else str."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def typed_flow_parameter(text: str) -> Any:
    """Type a `--flow-param` value: like `-p`, except that a JSON object or list is that object."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return typed_parameter(text)


def read_parameters_file(path: Path) -> dict[str, Any]:
    """Read a `-f` YAML file as papermill reads it (dates stay strings)."""
    from papermill.iorw import read_yaml_file

    try:
        values = read_yaml_file(str(path))
    except FileNotFoundError:
        raise ParameterFileError(path, "no such file") from None
    except Exception as error:  # yaml's errors have no common public base
        raise ParameterFileError(path, f"not valid YAML ({error})") from None
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(name, str) for name in values):
        raise ParameterFileError(
            path, f"holds a {type(values).__name__}, not a mapping of names to values"
        )
    return values


def collect_parameters(
    pairs: Iterable[tuple[str, str]] = (), file: str | Path | None = None
) -> dict[str, Any]:
    """Parameters from a `-f` file, overridden by `-p NAME VALUE` pairs (typed), as papermill
    merges them."""
    parameters = read_parameters_file(Path(file)) if file else {}
    parameters.update({name: typed_parameter(value) for name, value in pairs})
    return parameters


def notebook_parameters(notebook: Path) -> NotebookParameters:
    """The parameters cell of `notebook`, read with papermill's own Python translator."""
    import nbformat
    from papermill.translators import papermill_translators

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except FileNotFoundError:
        raise KitError(f"no notebook at {notebook}", hint="check the path") from None
    except Exception as error:  # nbformat raises json, validation and reader errors
        raise KitError(
            f"{notebook} is not a readable notebook ({error})", hint="open and save it in Jupyter"
        ) from None
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return NotebookParameters(defaults={}, has_cell=False)
    found = papermill_translators.find_translator(KERNEL_NAME, LANGUAGE).inspect(cell)
    return NotebookParameters(defaults={p.name: p.default for p in found}, has_cell=True)
