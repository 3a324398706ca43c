"""Every error kit raises: one base class, structured fields, a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.generated import FileState
    from kit.validate import ValidationReport


def location(
    notebook: str | None = None,
    cell_index: int | None = None,
    module: str | None = None,
    line: int | None = None,
    text: str | None = None,
) -> str:
    """Where a thing is, as messages name it: `NOTEBOOK, cell N, module 'm', line L: text`."""
    parts = []
    if notebook is not None:
        parts.append(notebook)
    if cell_index is not None:
        parts.append(f"cell {cell_index}")
    if module is not None:
        parts.append(f"module {module!r}" if parts else f"cell module {module!r}")
    if line is not None:
        parts.append(f"line {line}" + (f": {text.strip()}" if text else ""))
    return ", ".join(parts)


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
        where = location(notebook, cell_index if notebook is not None else None, module, line, text)
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


KNOWN_SHOWN = 12  # node names an UnknownNodeError lists in its hint


class UnknownNodeError(KitError):
    """Outputs (or a selection) that name no node of the DAG."""

    def __init__(
        self,
        names: Iterable[str],
        suggestions: Mapping[str, list[str]],
        known: Iterable[str] = (),
    ) -> None:
        self.names = list(names)
        self.suggestions = dict(suggestions)
        self.known = sorted(known)
        parts = []
        for name in self.names:
            close = self.suggestions.get(name)
            parts.append(
                f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
            )
        shown = ", ".join(self.known[:KNOWN_SHOWN])
        more = len(self.known) - KNOWN_SHOWN
        listing = f"{shown} and {more} more" if more > 0 else shown
        super().__init__(
            f"unknown node{'s' if len(parts) > 1 else ''}: {', '.join(parts)}",
            hint=f"request nodes the DAG defines: {listing}"
            if self.known
            else "request nodes the DAG defines",
        )


class PerItemNodeError(KitError):
    """A requested node that runs once per item of a Parallelizable, so has no single value."""

    def __init__(self, node: str, expander: str, collects: Iterable[str]) -> None:
        self.node = node
        self.expander = expander
        self.collects = list(collects)
        gathered = " or ".join(map(repr, self.collects))
        super().__init__(
            f"node {node!r} runs once per item of Parallelizable node {expander!r}, "
            "so it has no single value to return",
            hint=f"request the Collect node that gathers it ({gathered}), or a node after it"
            if self.collects
            else "add a function that takes Collect[...] of it, and request that",
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


class MagicUsageError(KitError):
    """A magic line that does not parse."""

    def __init__(self, magic: str, message: str, usage: str) -> None:
        self.magic = magic
        self.usage = usage
        super().__init__(f"{magic}: {message}", hint=f"usage: {usage}")


class NamelessCellError(MagicUsageError):
    """A `%%hamilton` line without the module name the cell becomes."""

    def __init__(self) -> None:
        self.magic = "%%hamilton"
        self.usage = "%%hamilton NAME [options]"
        KitError.__init__(
            self,
            "the %%hamilton cell has no module name",
            hint="write %%hamilton NAME on the first line of the cell",
        )


class LayoutFailed(KitError):
    """dot is missing, or gave no usable layout (a crash, a timeout, output it did not finish)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"graphviz dot cannot lay out the DAG: {reason}",
            hint="install graphviz (apt-get install graphviz, conda install graphviz), "
            "or leave the engine to kit, which falls back to igraph",
        )


class GeneratedFileError(KitError):
    """A generated file kit will not overwrite (hand-edited, foreign, owned by another notebook)."""

    def __init__(
        self, message: str, *, path: Path, state: FileState, diff: str = "", hint: str | None = None
    ) -> None:
        self.path = path
        self.state = state
        self.diff = diff
        super().__init__(message + (f"\n{diff}" if diff else ""), hint=hint)


class ParameterFileError(KitError):
    """A `-f` file that is not a YAML mapping of parameter names to values."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"parameters file {path}: {reason}", hint="write one `name: value` line per parameter"
        )


class UnknownParameterError(KitError):
    """Parameters that the notebook's `parameters` cell does not define."""

    def __init__(
        self, notebook: Path, names: Iterable[str], valid: Iterable[str], *, has_cell: bool
    ) -> None:
        self.notebook = notebook
        self.names = sorted(names)
        self.valid = sorted(valid)
        self.has_cell = has_cell
        listed = ", ".join(self.names)
        plural = "s" if len(self.names) > 1 else ""
        if has_cell:
            message = (
                f"{notebook}: unknown parameter{plural} {listed}; its parameters cell defines "
                + (", ".join(self.valid) or "nothing")
            )
            hint = "pass only parameters the notebook defines, or add them to its parameters cell"
        else:
            message = (
                f"{notebook} has no parameters cell, so it takes no parameter{plural} ({listed})"
            )
            hint = (
                "tag the cell that assigns the defaults with `parameters`, or validate without -p"
            )
        super().__init__(message, hint=hint)


class OwnershipError(KitError):
    """A generated file whose header names another notebook than the one writing it."""

    def __init__(self, path: Path, owner: str, claimant: str) -> None:
        self.path = path
        self.owner = owner
        self.claimant = claimant
        super().__init__(
            f"{path} belongs to {owner}; {claimant} cannot write a file of the same name",
            hint=f"a notebook copied from {owner} needs names of its own: rename its "
            f"%%hamilton cells and promoted flows (e.g. NAME_v2), then `kit export {claimant}`; "
            f"or delete {path} if {owner} no longer makes it",
        )


class DemoError(KitError):
    """The demo could not run, or its flow run did not complete."""


class NotebookError(KitError):
    """A notebook kit cannot read or build, located by notebook, cell index (0-based) and line."""

    def __init__(
        self,
        notebook: str,
        message: str,
        *,
        cell_index: int | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.line = line
        super().__init__(f"{location(notebook, cell_index, line=line)}: {message}", hint=hint)


class ValidationFailedError(KitError):
    """The notebook did not pass validation, so nothing was submitted."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(
            f"validation failed; nothing was submitted\n{report.text()}",
            hint="fix what the report names, then submit again",
        )


class SubmitError(KitError):
    """A submission that cannot go ahead.

    No flow to run, a wrong option, a flow Prefect cannot load.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str | None = None,
        flow: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.notebook = notebook
        self.flow = flow
        super().__init__(message, hint=hint)


class PrefectServerError(KitError):
    """A Prefect API that kit cannot use: a server that does not start or answer, an embedded API
    that timed out starting."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        pid: int | None = None,
        log: Path | None = None,
        hint: str | None = None,
    ) -> None:
        self.url = url
        self.pid = pid
        self.log = log
        super().__init__(message, hint=hint)


class NotebookFailed(Exception):
    """A notebook that did not pass validation under `pytest --kit-notebooks` (a test failure, not
    a kit error: pytest shows its report)."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.text())


class CycleError(GraphError):
    """Nodes that depend on each other in a circle, so no order can run them."""

    def __init__(self, cycle: Iterable[tuple[str, str]]) -> None:
        """`cycle`: (node, module) in dependency order; the last needs the first."""
        self.cycle = list(cycle)
        self.nodes = [node for node, _ in self.cycle]
        path = " needs ".join(f"{node!r} (module {module!r})" for node, module in self.cycle)
        super().__init__(
            f"nodes depend on each other in a circle: {path}, which needs {self.nodes[0]!r}",
            modules=dict.fromkeys(module for _, module in self.cycle),
            hint=f"break the circle: make one of {', '.join(map(repr, self.nodes))} "
            "take an input or a config value instead of another node of the circle",
        )


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ALLOWED_CONTROLS = frozenset("\t\n\r\f")


def unsafe_character(text: str) -> int | None:
    """The index of the first control, bidi or line-separator character of `text`, or None.

    Such a character in a generated file can hide code from its reader (bidi controls, the
    "Trojan Source" pattern) or make it unparseable (NUL); tab and newline are allowed.
    """
    import unicodedata

    for index, char in enumerate(text):
        if char in ALLOWED_CONTROLS:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            return index
    return None


class UnsafeTextError(KitError):
    """Text bound for a generated file that holds a control or bidi character."""

    def __init__(self, what: str, text: str, index: int, *, hint: str | None = None) -> None:
        import unicodedata

        self.what = what
        self.text = text
        self.index = index
        self.character = text[index]
        self.codepoint = f"U+{ord(self.character):04X}"
        name = unicodedata.name(self.character, "a control character")
        super().__init__(
            f"{what} holds {self.codepoint} ({name}) at character {index + 1}: "
            f"{text[max(0, index - 20) : index + 20]!r}",
            hint=hint
            or "remove it: generated files hold no control or bidi characters (in a string "
            f"value, write the escape \\u{ord(self.character):04x} instead)",
        )


class PullError(KitError):
    """A Prefect run that cannot be pulled into the workspace (`%hamilton_pull`, `kit pull`)."""

    def __init__(
        self,
        message: str,
        *,
        run: str | None = None,
        flow: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.run = run
        self.flow = flow
        super().__init__(message, hint=hint)


class NoPrefectApiError(PullError):
    """No Prefect API to read a run from: PREFECT_API_URL unset or silent, no kit server."""

    def __init__(self, run: str, *, url: str | None = None) -> None:
        self.url = url
        where = (
            f"PREFECT_API_URL is {url} and nothing answers there"
            if url
            else ("PREFECT_API_URL is not set and the project's kit server is not running")
        )
        super().__init__(
            f"cannot pull run {run!r}: {where}",
            run=run,
            hint="start the project's server with `kit server start` (it reads the runs kit "
            "submit made), or set PREFECT_API_URL to the server that ran it",
        )


class RunNotFoundError(PullError):
    """A run id or name the Prefect API does not know."""

    def __init__(self, run: str, *, api: str) -> None:
        self.api = api
        super().__init__(
            f"the Prefect API at {api} has no flow run with id or name {run!r}",
            run=run,
            hint="copy the run's id or name from `kit submit`'s summary or the Prefect UI",
        )


class ForeignRunError(PullError):
    """A run of a flow that the workspace's notebook does not own."""

    def __init__(self, run: str, flow: str, *, notebook: str | None, owner: str | None) -> None:
        self.notebook = notebook
        self.owner = owner
        whose = f"is owned by {owner}" if owner else "has no generated file in this project"
        super().__init__(
            f"run {run!r} is a run of flow {flow!r}, which {whose}, not by "
            f"{notebook or 'this session'}",
            run=run,
            flow=flow,
            hint=f"pull it from {owner}"
            if owner
            else "pull runs of the flows this notebook promotes (its %hamilton_promote lines)",
        )


class UnpersistedRunError(PullError):
    """A run whose completed tasks kept no result: the flow was promoted without --cache."""

    def __init__(self, run: str, flow: str, tasks: Iterable[str]) -> None:
        self.tasks = list(tasks)
        super().__init__(
            f"run {run!r} of flow {flow!r} persisted no result of task "
            f"{', '.join(self.tasks)}: the flow was promoted without persisted results",
            run=run,
            flow=flow,
            hint="promote the flow with --cache (results persist in .kit/results or "
            "--result-storage BLOCK), run `kit export`, run it again and pull that run",
        )


class ResultUnreachableError(PullError):
    """A persisted task result whose storage cannot be read from here."""

    def __init__(self, run: str, flow: str, task: str, location: str, reason: str) -> None:
        self.task = task
        self.location = location
        self.reason = reason
        super().__init__(
            f"the result of task {task!r} of run {run!r} (flow {flow!r}) is stored at "
            f"{location}, which cannot be read from here: {reason}",
            run=run,
            flow=flow,
            hint="pull on a machine that sees that storage (the worker's disk, or a storage "
            "block it can load: promote with --result-storage BLOCK for runs on other machines)",
        )


class SecretError(KitError):
    """A `secret:NAME` config value or flow parameter that cannot be resolved in the kernel."""

    def __init__(
        self, message: str, *, block: str, key: str, kind: str, hint: str | None = None
    ) -> None:
        self.block = block
        self.key = key
        self.kind = kind  # "config key" or "input"
        super().__init__(message, hint=hint)


class MissingSecretError(SecretError):
    """A `secret:NAME` whose Prefect Secret block does not exist on the Prefect API in use."""

    def __init__(self, block: str, *, key: str, kind: str, api: str | None) -> None:
        where = f"the Prefect API at {api}" if api else "this kernel's Prefect (no PREFECT_API_URL)"
        super().__init__(
            f"{kind} {key!r} is secret:{block}, and {where} has no Secret block named {block!r}",
            block=block,
            key=key,
            kind=kind,
            hint=f"create it there: `prefect block create secret` (name it {block}), or "
            'python -c "from prefect.blocks.system import Secret; '
            f"Secret(value='...').save('{block}')\"; set PREFECT_API_URL if it lives on "
            "another server",
        )
