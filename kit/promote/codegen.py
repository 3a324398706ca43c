"""Render a FlowPlan as the source of flows/FLOW.py: plain Prefect 3 + Hamilton, no kit.

The text depends only on the spec, so the same spec gives the same bytes, and it is laid out
as `ruff format` (line length 100) lays it out, with imports sorted as `ruff check` sorts
them: a construct that fits stays on one line, any other one is spread one item a line with a
trailing comma, which ruff keeps. The helpers every flow runs live in flows/_runtime.py
(kit.promote.runtime); the flow imports them.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kit.errors import PromoteError, unsafe_character
from kit.promote.plan import FlowPlan, TaskPlan

WIDTH = 100
NOT_GIVEN: Any = object()  # a parameter default that cannot be written as a literal
MUTABLE_DEFAULTS = (
    "# ruff: noqa: B006 - Prefect validates each run's parameters, defaults included, into new\n"
    "# lists and dicts, so a run never shares a default with another, and the UI shows the value."
)


@dataclass(frozen=True)
class Parameter:
    """A flow parameter: an external input of the DAG."""

    name: str
    type: Any  # the Hamilton node's type
    default: Any = NOT_GIVEN  # NOT_GIVEN: required
    optional: bool = False  # the function's default is not a literal: pass it only when given
    users: tuple[str, ...] = ()  # the nodes of the flow that take it
    from_notebook: bool = False  # the default is a literal of the notebook's parameters cell


@dataclass(frozen=True)
class ModuleImport:
    """A Hamilton module the flow imports: `from package import name` (or `import name`)."""

    name: str  # the module's name in the workspace
    qualified: str  # its import path, e.g. modules.prepare_data


@dataclass(frozen=True)
class FlowSpec:
    """Everything the flow source depends on."""

    name: str
    plan: FlowPlan
    modules: tuple[ModuleImport, ...]
    parameters: tuple[Parameter, ...]  # in the order of the signature, but required ones first
    config: dict[str, Any]
    notebook: str | None = None
    allow_module_overrides: bool = False
    dynamic_execution: bool = False  # the DAG has a Parallelizable: every task's driver runs it
    runner: str = "threads"  # "dask": the tasks run on a Dask cluster (prefect-dask)
    retries: int = 0
    retry_delay: float = 0
    tags: tuple[str, ...] = ()
    cache: bool = False
    result_storage: str | None = None  # a Prefect storage block (TYPE/NAME); None: .kit/results
    unversioned: tuple[str, ...] = ()  # nodes Hamilton gives no code version (no source to hash)
    runtime: str = "flows._runtime"  # the dotted name of the helper module


def literal(value: Any) -> str:
    """Python source for a literal value, strings quoted as ruff format quotes them."""
    return _flat(_literal(value))


def is_literal(value: Any) -> bool:
    """True when `repr(value)` reads back as an equal value of the same type."""
    try:
        return (
            type(ast.literal_eval(repr(value))) is type(value)
            and ast.literal_eval(repr(value)) == value
        )
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def artifact_prefix(flow: str) -> str:
    """The key prefix of a flow's artifacts: its name in lower case, dashes for the rest."""
    return re.sub(r"[^a-z0-9-]+", "-", flow.lower()).strip("-") or "flow"


# -- layout as ruff format does it ---------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """Bracketed source: on one line if it fits, else one item a line, each with a comma."""

    opening: str  # up to and including the bracket, e.g. `return run_nodes(`
    items: tuple[_Source, ...]
    closing: str  # the bracket and what follows it on the line, e.g. `) -> dict[str, Any]:`


@dataclass(frozen=True)
class _Assigned:
    """`head value` (`x = value`, `"key": value`): ruff splits the value's own brackets after the
    head when the head fits, and else moves the value into parentheses on lines of its own."""

    head: str
    value: str | _Group


_Source = str | _Group | _Assigned


def _flat(source: _Source) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, _Assigned):
        return source.head + _flat(source.value)
    inner = ", ".join(_flat(item) for item in source.items)
    return f"{source.opening}{inner}{source.closing}"


def _layout(source: _Source, indent: int = 0, suffix: str = "") -> str:
    """The source at `indent`, followed by `suffix` (a comma inside an outer group)."""
    margin = " " * indent
    line = f"{margin}{_flat(source)}{suffix}"
    if isinstance(source, str) or len(line) <= WIDTH:
        return line
    if isinstance(source, _Assigned):
        value = source.value
        wrapped = f"{margin}{source.head}(\n{_layout(value, indent + 4)}\n{margin}){suffix}"
        if isinstance(value, str):
            return wrapped
        opening = source.head + value.opening
        split = _layout(_Group(opening, value.items, value.closing), indent, suffix)
        if len(margin + opening) > WIDTH and max(map(len, wrapped.splitlines())) <= WIDTH:
            return wrapped
        return split
    if not source.items:
        return line
    inner = "".join(_layout(item, indent + 4, ",") + "\n" for item in source.items)
    return f"{margin}{source.opening}\n{inner}{margin}{source.closing}{suffix}"


def _escaped(char: str) -> str:
    """A character as it may stand in a string literal: control and bidi ones as escapes."""
    if unsafe_character(char) is None:
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _string(text: str) -> str:
    """A string literal in double quotes, or single ones where that avoids escaping a `"`."""
    quoted = "".join(_escaped(char) for char in json.dumps(text, ensure_ascii=False))
    if '"' in text and "'" not in text:
        return "'" + quoted[1:-1].replace('\\"', '"') + "'"
    return quoted


def _literal(value: Any, prefix: str = "") -> _Source:
    """A literal value as source to lay out; `prefix` goes before it (`"key": `, `name: T = `)."""
    if isinstance(value, str):
        return prefix + _string(value)
    if isinstance(value, dict) and value:
        items = tuple(_literal(v, f"{literal(k)}: ") for k, v in value.items())
        return _Group(prefix + "{", items, "}")
    if isinstance(value, list) and value:
        return _Group(prefix + "[", tuple(map(_literal, value)), "]")
    if isinstance(value, tuple) and len(value) > 1:
        return _Group(prefix + "(", tuple(map(_literal, value)), ")")
    if isinstance(value, tuple) and value:
        return f"{prefix}({_flat(_literal(value[0]))},)"
    if isinstance(value, dict | list | tuple):
        return prefix + {dict: "{}", list: "[]", tuple: "()"}[type(value)]
    return prefix + repr(value)


def _names_list(names: Iterable[str], prefix: str = "") -> _Source:
    return _literal(list(names), prefix)


def _wrap(text: str, indent: int = 0, hanging: int | None = None) -> list[str]:
    """`text` filled to the line length at `indent` (later lines at `hanging`)."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent if hanging is None else hanging),
        break_on_hyphens=False,
        break_long_words=False,
    )


def _docstring(lines: Sequence[str], indent: int = 0) -> str:
    """A docstring of `lines` (indented but for the first); closing quotes on their own line."""
    margin = " " * indent
    if len(lines) == 1:
        return f'{margin}"""{lines[0]}"""'
    return f'{margin}"""' + "\n".join(lines) + f'\n{margin}"""'


# -- annotations ---------------------------------------------------------------------------------


class _Annotations:
    """Writes type annotations as source and remembers the imports they need."""

    def __init__(self) -> None:
        self.imports: set[str] = set()

    def write(self, annotation: Any) -> str:
        text = self._write(annotation)
        return "Any" if text is None else text

    def _write(self, annotation: Any) -> str | None:
        if annotation is None or annotation is type(None):
            return "None"
        if annotation is Any:
            return "Any"
        origin = typing.get_origin(annotation)
        arguments = typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType):
            parts = [self._write(argument) for argument in arguments]
            return None if None in parts else " | ".join(typing.cast(list[str], parts))
        if origin is not None and arguments:
            outer = self._write(origin)
            inner = [self._write(argument) for argument in arguments]
            if outer is None or None in inner:
                return None
            return f"{outer}[{', '.join(typing.cast(list[str], inner))}]"
        if isinstance(annotation, type):
            return self._class(annotation)
        return None

    def _class(self, cls: type) -> str | None:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
        module = cls.__module__
        candidates = [module.split(".")[0], module]
        if module.startswith("_"):
            candidates.insert(0, module.lstrip("_").split(".")[0])
        for candidate in candidates:
            try:
                found = importlib.import_module(candidate)
            except ImportError:
                continue
            if getattr(found, cls.__qualname__, None) is cls:
                self.imports.add(candidate)
                prefix = "pd" if candidate == "pandas" else candidate
                return f"{prefix}.{cls.__qualname__}"
        return None


# -- names ---------------------------------------------------------------------------------------


class _Names:
    """The module-level names of the flow file, checked for collisions."""

    FIXED = frozenset(
        {
            *("Any", "pd", "flow", "task", "NO_CACHE"),
            *("MODULES", "OUTPUTS", "NOTEBOOK", "ARTIFACT_PREFIX", "RESULT_STORAGE"),
            *("run_nodes", "cache_policy", "config_from_variable", "publish_summary"),
            *("local_result_storage", "record_run", "OneLinePickleSerializer"),
        }
    )
    BODY = frozenset(
        {
            *("hamilton_config", "hamilton_config_variable", "inputs", "values", "outputs"),
            *("OUTPUTS", "NOTEBOOK", "ARTIFACT_PREFIX", "MODULES"),
            *("config_from_variable", "publish_summary", "record_run"),
        }
    )

    def __init__(self, spec: FlowSpec, annotation_imports: Iterable[str]) -> None:
        taken = set(self.FIXED) | set(annotation_imports)
        self.module_alias: dict[str, str] = {}
        for module in spec.modules:
            alias = module.name if module.name not in taken else f"{module.name}_module"
            self.module_alias[module.name] = alias
            taken.add(alias)
        self.task_function: dict[str, str] = {}
        for task in spec.plan.tasks:
            function = f"{task.name}_task"
            if function in taken:
                raise PromoteError(
                    f"task {task.name!r} would be the function {function}, "
                    "a name the flow file already uses",
                    flow=spec.name,
                    tasks=[task.name],
                    hint="rename the task (an explicit split: --task NAME=OUT,...)",
                )
            self.task_function[task.name] = function
            taken.add(function)
        if spec.name in taken:
            raise PromoteError(
                f"flow name {spec.name!r} is a name the flow file already uses "
                "(an import, a module or a task)",
                flow=spec.name,
                hint=f"call the flow e.g. {spec.name + '_flow'!r}",
            )
        self.future = {task.name: f"{task.name}_future" for task in spec.plan.tasks}
        body_names = self.BODY | set(self.future.values()) | set(self.task_function.values())
        clashes = [parameter.name for parameter in spec.parameters if parameter.name in body_names]
        if clashes:
            raise PromoteError(
                f"input{'s' if len(clashes) > 1 else ''} {', '.join(map(repr, clashes))} of the "
                "DAG would be flow parameters whose names the flow body uses",
                flow=spec.name,
                nodes=clashes,
                hint="rename those function parameters in the module",
            )


# -- the source ----------------------------------------------------------------------------------


def render_flow(spec: FlowSpec) -> str:
    """The body of flows/FLOW.py (kit.generated.render adds the header)."""
    annotations = _Annotations()
    signature = [_parameter_source(parameter, annotations) for parameter in spec.parameters]
    names = _Names(spec, annotations.imports)
    head = [
        _module_docstring(spec),
        _imports(spec, names, annotations.imports),
        _constants(spec, names),
    ]
    definitions = [
        *(_task_source(spec, task, names) for task in spec.plan.tasks),
        _flow_source(spec, names, signature),
    ]
    if all(
        parameter.default is not NOT_GIVEN or parameter.optional for parameter in spec.parameters
    ):
        definitions.append(f'if __name__ == "__main__":\n    {spec.name}()')
    return "\n\n".join(head) + "\n\n\n" + "\n\n\n".join(definitions) + "\n"


def _words(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _module_docstring(spec: FlowSpec) -> str:
    plan = spec.plan
    strategy = "an explicit split" if plan.strategy == "explicit" else f"strategy {plan.strategy}"
    origin = spec.notebook or "an interactive session"
    summary = f"Prefect flow `{spec.name}`: computes {_words(plan.outputs)} with Hamilton."
    lines = [summary]
    if len(summary) + 3 > WIDTH:
        lines = [f"Prefect flow `{spec.name}`: computes {_plural(len(plan.outputs), 'output')}."]
        lines += ["", *_wrap(f"Outputs: {_words(plan.outputs)}.")]
    modules = [m.name for m in spec.modules]
    lines += [
        "",
        *_wrap(
            f"Promoted from {origin}. The nodes of module{'s' if len(modules) > 1 else ''} "
            f"{_words(modules)} run in {_plural(len(plan.tasks), 'Prefect task')} ({strategy}):"
        ),
        "",
    ]
    for task in plan.tasks:
        line = f"{task.name}: {', '.join(task.nodes)}"
        if task.receives:
            sources = [
                f"{', '.join(n for n in task.receives if plan.task_of[n] == up)} from {up}"
                for up in task.upstream
            ]
            line += f" (receives {'; '.join(sources)})"
        lines += _wrap(line, 4, 8)
    lines += [
        "",
        *_wrap(
            "A task passes the values it receives to Hamilton as overrides, so every node runs "
            "once; tasks that do not depend on each other run concurrently."
        ),
    ]
    if spec.cache:
        storage = f"block {spec.result_storage}" if spec.result_storage else ".kit/results"
        lines += _wrap(
            "A task's cache key is the Hamilton code version of its nodes and of every node "
            "upstream of them, the flow inputs those consume and the config (no run id); its "
            f"result is persisted ({storage}), so a run after a fix recomputes only the tasks "
            "whose code or inputs changed."
        )
        if spec.unversioned:
            lines += _wrap(
                f"Hamilton gives {_words(list(spec.unversioned))} no code version: their key "
                "hashes their module's whole source instead."
            )
    else:
        lines += _wrap(
            "Tasks are not cached (NO_CACHE: Prefect's default policy would hash every value a "
            "task receives); promote with --cache to cache them."
        )
    lines += _wrap(
        "Every run publishes a run record: the notebook, the config and the code version of "
        "each node it runs."
    )
    if spec.runner == "dask":
        lines += _wrap(
            "The tasks run on a Dask cluster: the one DASK_SCHEDULER_ADDRESS (Dask's config) "
            "names, else a local cluster the runner starts. The flow uploads the project's "
            "modules to the workers, so workers started elsewhere can import them; values "
            "handed between tasks are pickled. A Parallelizable/Collect block runs inside its "
            "task with Hamilton's synchronous executor, not as Dask tasks of its own."
        )
    return _docstring(lines)


def _natural(text: str) -> tuple[Any, ...]:
    """The sort key ruff's isort uses: case-insensitive, numbers by value."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.lower()))


def _member_key(member: str) -> tuple[Any, ...]:
    """isort's order-by-type: CONSTANTS, then Classes, then the rest, each in natural order."""
    name = member.split(" as ")[0]
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, _natural(name), member)


def _import_lines(plain: Iterable[str], members: dict[str, list[str]]) -> list[str]:
    """One isort section: `import x` lines, then `from x import a, b` lines, each sorted."""
    lines = [f"import {name}" for name in sorted(set(plain), key=_natural)]
    for package in sorted(members, key=_natural):
        names = tuple(sorted(set(members[package]), key=_member_key))
        lines.append(_layout(_Group(f"from {package} import (", names, ")")))
        if "\n" not in lines[-1]:
            lines[-1] = f"from {package} import {', '.join(names)}"
    return lines


def _imports(spec: FlowSpec, names: _Names, annotation_imports: Iterable[str]) -> str:
    first_party = {spec.runtime.split(".")[0]} | {m.qualified.split(".")[0] for m in spec.modules}
    standard: list[str] = []
    third: list[str] = []
    ours: list[str] = []
    for name in annotation_imports:
        top = name.split(".")[0]
        if name == "pandas":
            third.append("pandas as pd")
        elif top in first_party:
            ours.append(name)
        elif top in sys.stdlib_module_names:
            standard.append(name)
        else:
            third.append(name)
    prefect = {"prefect": ["flow", "task"]}
    if not spec.cache:
        prefect["prefect.cache_policies"] = ["NO_CACHE"]
    helpers = ["run_nodes", "config_from_variable", "publish_summary", "record_run"]
    helpers += ["OneLinePickleSerializer", "cache_policy"] if spec.cache else []
    helpers += ["local_result_storage"] if spec.cache and not spec.result_storage else []
    helpers += ["dask_task_runner", "share_project_with_dask"] if spec.runner == "dask" else []
    modules: dict[str, list[str]] = {spec.runtime: helpers}
    for module in spec.modules:
        package, _, name = module.qualified.rpartition(".")
        alias = names.module_alias[module.name]
        member = name if alias == name else f"{name} as {alias}"
        if package:
            modules.setdefault(package, []).append(member)
        else:
            ours.append(member)
    sections = [
        _import_lines(standard, {"typing": ["Any"]}),
        _import_lines(third, prefect),
        _import_lines(ours, modules),
    ]
    return "\n\n".join("\n".join(section) for section in sections)


def _constants(spec: FlowSpec, names: _Names) -> str:
    modules = tuple(names.module_alias[m.name] for m in spec.modules)
    lines = [
        _layout(_Group("MODULES = [", modules, "]")),
        _layout(_names_list(spec.plan.outputs, "OUTPUTS = ")),
        f"NOTEBOOK = {literal(spec.notebook)}",
        f"ARTIFACT_PREFIX = {literal(artifact_prefix(spec.name))}",
    ]
    if spec.cache:
        storage = literal(spec.result_storage) if spec.result_storage else "local_result_storage()"
        lines.append(f"RESULT_STORAGE = {storage}")
    for note in spec.plan.notes:
        lines += [
            "",
            *textwrap.wrap(f"Note: {note}.", WIDTH, initial_indent="# ", subsequent_indent="# "),
        ]
    return "\n".join(lines)


def _parameter_type(parameter: Parameter) -> Any:
    """The node's type, or the member of its union that the literal default has."""
    default_type = type(parameter.default)
    union = typing.get_origin(parameter.type) in (typing.Union, types.UnionType)
    if (
        union
        and parameter.default not in (NOT_GIVEN, None)
        and default_type in typing.get_args(parameter.type)
    ):
        return default_type
    return parameter.type


def _parameter_source(parameter: Parameter, annotations: _Annotations) -> _Source:
    annotation = annotations.write(_parameter_type(parameter))
    if parameter.optional:
        if annotation not in ("Any", "None") and not annotation.endswith("| None"):
            annotation += " | None"
        return f"{parameter.name}: {annotation} = None"
    if parameter.default is NOT_GIVEN:
        return f"{parameter.name}: {annotation}"
    return _literal(parameter.default, f"{parameter.name}: {annotation} = ")


def _parameter_doc(parameter: Parameter) -> str:
    """What the Prefect UI says of a parameter: the nodes that take it, whence its default."""
    text = f"Hamilton input of {_words(parameter.users)}" if parameter.users else "Hamilton input"
    if parameter.optional:
        text += "; when None, the function's own default applies"
    elif parameter.from_notebook:
        text += "; default from the notebook's parameters cell"
    elif parameter.default is not NOT_GIVEN:
        text += "; default from the function's signature"
    return f"{parameter.name}: {text}."


def _task_decorator(spec: FlowSpec, task: TaskPlan) -> str:
    options: list[_Source] = [f"name={literal(task.name)}"]
    if spec.retries:
        options.append(f"retries={spec.retries}")
        if spec.retry_delay:
            options.append(f"retry_delay_seconds={_number(spec.retry_delay)}")
    if spec.tags:
        options.append(literal(list(spec.tags)).join(["tags=", ""]))
    if spec.cache:
        policy: list[_Source] = ["MODULES", _names_list([*task.returns, *task.checks])]
        if spec.allow_module_overrides:
            policy.append("allow_module_overrides=True")
        options += [
            _Assigned("cache_policy=", _Group("cache_policy(", tuple(policy), ")")),
            "result_storage=RESULT_STORAGE",
            "result_serializer=OneLinePickleSerializer()",
            "persist_result=True",
        ]
    else:
        options.append("cache_policy=NO_CACHE")
    return _layout(_Group("@task(", tuple(options), ")"))


def _task_source(spec: FlowSpec, task: TaskPlan, names: _Names) -> str:
    has_inputs = bool(spec.parameters)
    arguments = ["hamilton_config: dict[str, Any]"]
    if has_inputs:
        arguments.append("inputs: dict[str, Any]")
    arguments += [f"from_{upstream}: dict[str, Any]" for upstream in task.upstream]
    function = names.task_function[task.name]
    header = _Group(f"def {function}(", tuple(arguments), ") -> dict[str, Any]:")
    modules = f"module{'s' if len(task.modules) > 1 else ''} {_words(list(task.modules))}"
    summary = f"Run {', '.join(task.nodes)} ({modules})."
    doc = [summary]
    if len(summary) + 10 > WIDTH:
        doc = [f"Run {_plural(len(task.nodes), 'node')} of {modules}.", ""]
        doc += _wrap(", ".join(task.nodes) + ".", 4)
    call: list[_Source] = ["MODULES", "hamilton_config", _names_list(task.outputs, "outputs=")]
    shares = [name for name in task.shares if name not in task.outputs]
    if shares:
        call.append(_names_list(shares, "shares="))
    if has_inputs:
        call.append("inputs=inputs")
    if task.receives:
        call.append(_names_list(task.receives, "receives="))
        upstream = tuple(f"from_{up}" for up in task.upstream)
        call.append(_Group("upstream=[", upstream, "]"))
    if task.checks:
        call.append(_names_list(task.checks, "checks="))
    if spec.dynamic_execution:
        call.append("dynamic_execution=True")
    if spec.runner == "dask":
        call.append(f"task={literal(task.name)}")
    if spec.allow_module_overrides:
        call.append("allow_module_overrides=True")
    return "\n".join(
        [
            _task_decorator(spec, task),
            _layout(header),
            _docstring(doc, 4),
            _layout(_Group("return run_nodes(", tuple(call), ")"), 4),
        ]
    )


def _flow_docstring(spec: FlowSpec) -> list[str]:
    outputs = spec.plan.outputs
    summary = f"Compute {_words(outputs)} with Hamilton; a dict by node name."
    lines = [summary]
    if len(summary) + 10 > WIDTH:
        lines = [f"Compute {_plural(len(outputs), 'output')} with Hamilton; a dict by node name."]
        lines += ["", *_wrap(f"Outputs: {_words(outputs)}.", 4)]
    described = [_parameter_doc(parameter) for parameter in spec.parameters]
    described += [
        "hamilton_config: The Hamilton config (recorded with every run).",
        "hamilton_config_variable: The name of a Prefect Variable whose JSON object replaces "
        "hamilton_config.",
    ]
    lines += ["", "    Args:"]
    for text in described:
        lines += _wrap(text, 8, 12)
    lines += ["", "    Returns:", "        The outputs by node name."]
    return lines


def _flow_decorator(spec: FlowSpec) -> str:
    if spec.runner == "dask":
        return f"@flow(name={literal(spec.name)}, task_runner=dask_task_runner())"
    return f"@flow(name={literal(spec.name)})"


def _flow_source(spec: FlowSpec, names: _Names, signature: list[_Source]) -> str:
    config = _literal(spec.config, "hamilton_config: dict[str, Any] = ")
    parameters = (*signature, config, "hamilton_config_variable: str | None = None")
    lines = [
        MUTABLE_DEFAULTS,
        _flow_decorator(spec),
        _layout(_Group(f"def {spec.name}(", parameters, ") -> dict[str, Any]:")),
        _docstring(_flow_docstring(spec), 4),
        "    if hamilton_config_variable is not None:",
        "        hamilton_config = config_from_variable(hamilton_config_variable)",
    ]
    record: list[_Source] = ["ARTIFACT_PREFIX", "NOTEBOOK", "MODULES", "hamilton_config", "OUTPUTS"]
    if spec.allow_module_overrides:
        record.append("allow_module_overrides=True")
    lines.append(_layout(_Group("record_run(", tuple(record), ")"), 4))
    if spec.runner == "dask":
        lines.append("    share_project_with_dask(MODULES)")
    if spec.parameters:
        given = tuple(
            _Assigned(f"{literal(p.name)}: ", p.name) for p in spec.parameters if not p.optional
        )
        lines.append(_layout(_Group("inputs = {", given, "}"), 4))
        for parameter in spec.parameters:
            if parameter.optional:
                assigned = _Assigned(f"inputs[{literal(parameter.name)}] = ", parameter.name)
                lines += [f"    if {parameter.name} is not None:", _layout(assigned, 8)]
    for task in spec.plan.tasks:
        arguments = ["hamilton_config"] + (["inputs"] if spec.parameters else [])
        arguments += [f"from_{up}={names.future[up]}" for up in task.upstream]
        submit = _Group(f"{names.task_function[task.name]}.submit(", tuple(arguments), ")")
        lines.append(_layout(_Assigned(f"{names.future[task.name]} = ", submit), 4))
    results = tuple(
        f"**{names.future[task.name]}.result()" for task in spec.plan.tasks if task.outputs
    )
    lines += [
        _layout(_Group("values = {", results, "}"), 4),
        "    outputs = {name: values[name] for name in OUTPUTS}",
        "    publish_summary(ARTIFACT_PREFIX, outputs)",
        "    return outputs",
    ]
    return "\n".join(lines)
