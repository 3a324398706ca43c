"""Every error kit raises: one base class, structured fields, a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class KitError(Exception):
    """Base of every kit error. `hint` says what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  -> {hint}" if hint else message)


class ProjectError(KitError):
    """The project layout is not usable (no root, a folder that is a file, ...)."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        self.path = path
        super().__init__(message, hint=hint)


class ModuleNameError(KitError):
    """A `%%hamilton NAME` whose NAME cannot be a module of the workspace."""

    def __init__(self, name: str, reason: str, *, hint: str | None = None) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"module name {name!r} {reason}", hint=hint)


class CellError(KitError):
    """A cell body that cannot become a module: syntax, IPython syntax, or an exception."""

    def __init__(
        self,
        message: str,
        *,
        module: str,
        line: int | None = None,
        text: str | None = None,
        notebook: str | None = None,
        cell_index: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.module = module
        self.line = line
        self.text = text
        self.notebook = notebook
        self.cell_index = cell_index
        where = f"cell module {module!r}"
        if notebook is not None:
            where = f"{notebook}, cell {cell_index}, module {module!r}"
        if line is not None:
            where += f", line {line}"
            if text:
                where += f": {text.strip()}"
        super().__init__(f"{where}: {message}", hint=hint)


class DuplicateNodeError(KitError):
    """Two modules of the workspace define the same node."""

    def __init__(self, node: str, modules: tuple[str, str]) -> None:
        self.node = node
        self.modules = modules
        first, later = modules
        super().__init__(
            f"node {node!r} is defined by module {first!r} and again by module {later!r}",
            hint=f"rename one of them, or run the cell of {later!r} with --override "
            f"to let it replace the node of {first!r}",
        )


class ConfigError(KitError):
    """A config or option value that cannot be parsed."""

    def __init__(self, message: str, *, text: str, hint: str | None = None) -> None:
        self.text = text
        super().__init__(message, hint=hint)


class UnknownNodeError(KitError):
    """Outputs (or a selection) that name no node of the DAG."""

    def __init__(self, names: Iterable[str], suggestions: Mapping[str, list[str]]) -> None:
        self.names = list(names)
        self.suggestions = dict(suggestions)
        parts = []
        for name in self.names:
            close = self.suggestions.get(name)
            parts.append(
                f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
            )
        super().__init__(
            f"unknown node{'s' if len(parts) > 1 else ''}: {', '.join(parts)}",
            hint="request nodes the workspace defines; ws.nodes() lists them",
        )


class MissingInputsError(KitError):
    """External inputs that the requested outputs need and nobody gave."""

    def __init__(self, missing: Mapping[str, list[str]]) -> None:
        self.missing = dict(missing)
        lines = [f"  {name} (needed by {', '.join(users)})" for name, users in self.missing.items()]
        super().__init__(
            "missing inputs:\n" + "\n".join(lines),
            hint="pass them as inputs, define notebook variables of those names, "
            "or put them in the config with %hamilton_config",
        )


class InputTypeError(KitError):
    """Input (or config) values whose type the nodes that take them do not accept."""

    def __init__(self, mismatches: Mapping[str, tuple[str, str, list[str]]]) -> None:
        """`mismatches`: input name -> (expected type, given type, nodes that take it)."""
        self.mismatches = dict(mismatches)
        lines = [
            f"  {name}: expected {expected}, got {given} (taken by {', '.join(users)})"
            for name, (expected, given, users) in self.mismatches.items()
        ]
        super().__init__(
            "inputs of the wrong type:\n" + "\n".join(lines),
            hint="pass values of the declared types (a float input wants 3.0, not 3)",
        )


class GraphError(KitError):
    """The workspace modules do not make a DAG Hamilton can build or run."""

    def __init__(
        self, message: str, *, modules: Iterable[str] = (), hint: str | None = None
    ) -> None:
        self.modules = list(modules)
        super().__init__(message, hint=hint)


class PromoteError(KitError):
    """A promote that kit refuses before writing anything: names, outputs or a task split."""

    def __init__(
        self,
        message: str,
        *,
        flow: str | None = None,
        nodes: Iterable[str] = (),
        tasks: Iterable[str] = (),
        hint: str | None = None,
    ) -> None:
        self.flow = flow
        self.nodes = list(nodes)
        self.tasks = list(tasks)
        super().__init__(message, hint=hint)
