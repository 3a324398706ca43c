"""Render a FlowPlan as the source of flows/FLOW.py: plain Prefect 3 + Hamilton, no kit.

The text depends only on the spec, so the same spec gives the same bytes.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import re
import textwrap
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kit.errors import PromoteError
from kit.promote.plan import FlowPlan, TaskPlan

WIDTH = 100
NOT_GIVEN: Any = object()  # a parameter default that cannot be written as a literal


@dataclass(frozen=True)
class Parameter:
    """A flow parameter: an external input of the DAG."""

    name: str
    type: Any  # the Hamilton node's type
    default: Any = NOT_GIVEN  # NOT_GIVEN: required
    optional: bool = (
        False  # the function has a default that is not a literal: pass it only when given
    )


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
    parameters: tuple[Parameter, ...]
    config: dict[str, Any]
    notebook: str | None = None
    allow_module_overrides: bool = False
    retries: int = 0
    retry_delay: float = 0
    tags: tuple[str, ...] = ()
    cache: bool = False


def literal(value: Any) -> str:
    """Python source for a literal value, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def block_literal(value: Any, indent: str, prefix: str, suffix: str = "") -> str:
    """`prefix + literal + suffix` on one line, or a dict/list spread one item a line when too long."""
    line = f"{indent}{prefix}{literal(value)}{suffix}"
    if len(line) <= WIDTH or not isinstance(value, (dict, list)) or not value:
        return line
    if isinstance(value, dict):
        items = [f"{literal(k)}: {literal(v)}" for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items, opening, closing = list(map(literal, value)), "[", "]"
    body = "".join(f"{indent}    {item},\n" for item in items)
    return f"{indent}{prefix}{opening}\n{body}{indent}{closing}{suffix}"


def is_literal(value: Any) -> bool:
    """True when `repr(value)` reads back as an equal value of the same type."""
    try:
        return (
            type(ast.literal_eval(repr(value))) is type(value)
            and ast.literal_eval(repr(value)) == value
        )
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


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
                if candidate == "pandas":
                    return f"pd.{cls.__qualname__}"
                self.imports.add(candidate)
                return f"{candidate}.{cls.__qualname__}"
        return None


# -- the source ----------------------------------------------------------------------------------


def _words(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def _list(names: Iterable[str]) -> str:
    return literal(list(names))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def artifact_prefix(flow: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", flow.lower()).strip("-") or "flow"


class _Names:
    """The module-level names of the flow file, checked for collisions."""

    FIXED = frozenset(
        {
            "Any", "functools", "inspect", "json", "re", "pd", "driver", "flow", "task", "Variable",
            "create_markdown_artifact", "create_table_artifact", "NO_CACHE", "TASK_SOURCE", "CacheKeyFnPolicy",
            "hash_objects", "OUTPUTS", "ARTIFACT_PREFIX", "MODULES_SOURCE", "CACHE_POLICY", "cache_key",
            "hamilton_driver", "run_nodes", "config_from_variable", "publish_summary",
        }
    )  # fmt: skip

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
                    f"task {task.name!r} would be the function {function}, a name the flow file already uses",
                    flow=spec.name,
                    tasks=[task.name],
                    hint="rename the task (an explicit split: --task NAME=OUT,...)",
                )
            self.task_function[task.name] = function
            taken.add(function)
        if spec.name in taken:
            raise PromoteError(
                f"flow name {spec.name!r} is a name the flow file already uses (an import, a module or a task)",
                flow=spec.name,
                hint=f"call the flow e.g. {spec.name + '_flow'!r}",
            )
        self.future = {task.name: f"{task.name}_future" for task in spec.plan.tasks}
        body_names = {"hamilton_config", "hamilton_config_variable", "inputs", "values", "outputs"}
        body_names |= set(self.future.values()) | set(self.task_function.values())
        body_names |= {"OUTPUTS", "config_from_variable", "publish_summary"}
        clashes = [parameter.name for parameter in spec.parameters if parameter.name in body_names]
        if clashes:
            raise PromoteError(
                f"input{'s' if len(clashes) > 1 else ''} {', '.join(map(repr, clashes))} of the DAG would be "
                "flow parameters whose names the flow body uses",
                flow=spec.name,
                nodes=clashes,
                hint="rename those function parameters in the module",
            )


def render_flow(spec: FlowSpec) -> str:
    """The body of flows/FLOW.py (kit.generated.render adds the header)."""
    annotations = _Annotations()
    signature = [
        _parameter_source(parameter, annotations) for parameter in _ordered(spec.parameters)
    ]
    names = _Names(spec, annotations.imports)
    head = [_docstring(spec), _imports(spec, names, annotations.imports), _constants(spec, names)]
    definitions = [
        _helpers(spec, names),
        *(_task_source(spec, task, names) for task in spec.plan.tasks),
        _flow_source(spec, names, signature),
    ]
    if all(
        parameter.default is not NOT_GIVEN or parameter.optional for parameter in spec.parameters
    ):
        definitions.append(f'if __name__ == "__main__":\n    {spec.name}()\n')
    return (
        "\n".join(part.rstrip("\n") + "\n" for part in head)
        + "\n\n"
        + "\n\n".join(part.rstrip("\n") + "\n" for part in definitions)
    )


def _ordered(parameters: Iterable[Parameter]) -> list[Parameter]:
    """Required parameters first (Python wants them before those with defaults), each group in DAG order."""
    parameters = list(parameters)
    return [p for p in parameters if p.default is NOT_GIVEN and not p.optional] + [
        p for p in parameters if p.default is not NOT_GIVEN or p.optional
    ]


def _parameter_type(parameter: Parameter) -> Any:
    """The node's type, or the member of a union that the literal default has (`str` for a path "out.csv")."""
    default_type = type(parameter.default)
    union = typing.get_origin(parameter.type) in (typing.Union, types.UnionType)
    if (
        union
        and parameter.default not in (NOT_GIVEN, None)
        and default_type in typing.get_args(parameter.type)
    ):
        return default_type
    return parameter.type


def _parameter_source(parameter: Parameter, annotations: _Annotations) -> str:
    annotation = annotations.write(_parameter_type(parameter))
    if parameter.optional:
        if annotation not in ("Any", "None") and not annotation.endswith("| None"):
            annotation += " | None"
        return f"{parameter.name}: {annotation} = None"
    if parameter.default is NOT_GIVEN:
        return f"{parameter.name}: {annotation}"
    return f"{parameter.name}: {annotation} = {literal(parameter.default)}"


def _docstring(spec: FlowSpec) -> str:
    plan = spec.plan
    strategy = "an explicit split" if plan.strategy == "explicit" else f"strategy {plan.strategy}"
    origin = (
        f"Promoted from {spec.notebook}"
        if spec.notebook
        else "Promoted from an interactive session"
    )
    count = len(plan.tasks)
    lines = [
        f"Prefect flow `{spec.name}`: computes {_words(plan.outputs)} with Hamilton.",
        "",
        _wrap(
            f"{origin}. The nodes of module{'s' if len(spec.modules) > 1 else ''} "
            f"{_words([m.name for m in spec.modules])} run in {count} Prefect task{'s' if count > 1 else ''} "
            f"({strategy}):"
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
        lines.append(
            textwrap.fill(line, WIDTH, initial_indent="    ", subsequent_indent="        ")
        )
    lines += [
        "",
        _wrap(
            "A task passes the values it receives to Hamilton as overrides, so every node runs once; "
            "tasks that do not depend on each other run concurrently."
        ),
    ]
    if not spec.cache:
        lines.append(
            _wrap(
                "Tasks are not cached (NO_CACHE: Prefect's default policy would hash every value a task "
                "receives); promote with --cache to cache them."
            )
        )
    return '"""' + "\n".join(lines) + '\n"""\n'


def _imports(spec: FlowSpec, names: _Names, annotation_imports: Iterable[str]) -> str:
    standard = ["functools", "json", "re"]
    if spec.cache:
        standard.append("inspect")
    standard += [name for name in annotation_imports if name not in ("pandas",)]
    lines = [f"import {name}" for name in sorted(set(standard))]
    lines += ["from typing import Any", ""]
    lines += [
        "import pandas as pd",
        "from hamilton import driver",
        "from prefect import flow, task",
    ]
    lines.append("from prefect.artifacts import create_markdown_artifact, create_table_artifact")
    if spec.cache:
        lines.append("from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy")
    else:
        lines.append("from prefect.cache_policies import NO_CACHE")
    if spec.cache:
        lines.append("from prefect.utilities.hashing import hash_objects")
    lines += ["from prefect.variables import Variable", ""]
    packages: dict[str, list[str]] = {}
    for module in spec.modules:
        package, _, name = module.qualified.rpartition(".")
        alias = names.module_alias[module.name]
        if package:
            packages.setdefault(package, []).append(name if alias == name else f"{name} as {alias}")
        else:
            lines.append(f"import {name}" if alias == name else f"import {name} as {alias}")
    for package, members in sorted(packages.items()):
        lines.append(f"from {package} import {', '.join(sorted(members))}")
    return "\n".join(lines) + "\n"


def _constants(spec: FlowSpec, names: _Names) -> str:
    lines = [
        f"OUTPUTS = {_list(spec.plan.outputs)}",
        f"ARTIFACT_PREFIX = {literal(artifact_prefix(spec.name))}",
    ]
    for note in spec.plan.notes:
        lines += [
            "",
            *textwrap.wrap(
                f"Note: {note}.", WIDTH - 2, initial_indent="# ", subsequent_indent="# "
            ),
        ]
    return "\n".join(lines) + "\n"


def _helpers(spec: FlowSpec, names: _Names) -> str:
    modules = ", ".join(names.module_alias[m.name] for m in spec.modules)
    steps = [f".with_modules({modules})", ".with_config(json.loads(config_json))"]
    if spec.allow_module_overrides:
        steps.append(".allow_module_overrides()")
    builder = f"return driver.Builder(){''.join(steps)}.build()"
    if len(builder) + 4 > WIDTH:
        builder = (
            "return (\n        driver.Builder()\n"
            + "".join(f"        {step}\n" for step in steps)
            + "        .build()\n    )"
        )
    return f'''\
@functools.cache
def hamilton_driver(config_json: str) -> driver.Driver:
    """The Hamilton driver over the flow's modules for one config, built once per process."""
    {builder}


def run_nodes(
    hamilton_config: dict[str, Any],
    outputs: list[str],
    shares: list[str],
    inputs: dict[str, Any],
    received: dict[str, Any],
) -> dict[str, Any]:
    """Compute `outputs` and `shares` (the values later tasks receive), taking `received` as given.

    Under another config than the one the flow was promoted with, the DAG may lack some shared
    or received nodes: those are left out, and Hamilton computes whatever else the outputs need.
    """
    dr = hamilton_driver(json.dumps(hamilton_config, sort_keys=True))
    nodes = dr.graph.nodes
    final_vars = outputs + [name for name in shares if name in nodes and name not in outputs]
    overrides = {{name: value for name, value in received.items() if name in nodes}}
    return dr.execute(final_vars, inputs=inputs, overrides=overrides)


{_cache_source(spec, names)}def config_from_variable(name: str) -> dict[str, Any]:
    """The Hamilton config stored as a JSON object in the Prefect Variable `name`."""
    config = Variable.get(name)
    if not isinstance(config, dict):
        raise ValueError(f"Prefect Variable {{name!r}} holds {{config!r}}, not a JSON object of Hamilton config")
    return config


def publish_summary(outputs: dict[str, Any]) -> None:
    """A markdown artifact of each output's type and shape, and a table artifact of each DataFrame's head."""
    rows = ["| output | type | shape |", "| --- | --- | --- |"]
    for name, value in outputs.items():
        shape = getattr(value, "shape", None)
        if shape is None and isinstance(value, (list, tuple, dict, set)):
            shape = (len(value),)
        shape_text = " x ".join(map(str, shape)) if isinstance(shape, tuple) else ""
        rows.append(f"| `{{name}}` | `{{type(value).__module__}}.{{type(value).__qualname__}}` | {{shape_text}} |")
        if isinstance(value, pd.DataFrame):
            create_table_artifact(
                key=re.sub("[^a-z0-9-]+", "-", f"{{ARTIFACT_PREFIX}}-{{name}}".lower()),
                table=json.loads(value.head(10).to_json(orient="records")),
                description=f"The first rows of `{{name}}`",
            )
    create_markdown_artifact(
        key=f"{{ARTIFACT_PREFIX}}-outputs",
        markdown="\\n".join(rows),
        description="The outputs of this run",
    )
'''


def _cache_source(spec: FlowSpec, names: _Names) -> str:
    """The cache policy of `--cache`; received values are not hashed (a large DataFrame costs more to
    hash than most tasks to run, and its pickle need not be the same after a cache load)."""
    if not spec.cache:
        return ""
    modules = ", ".join(names.module_alias[m.name] for m in spec.modules)
    return f'''\
MODULES_SOURCE = "".join(inspect.getsource(module) for module in [{modules}])


def cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """Cached results are reused while the config, the flow inputs and the modules stay the same.

    The values a task receives from earlier tasks follow from those, so they are not hashed.
    """
    return hash_objects(parameters["hamilton_config"], parameters.get("inputs"), MODULES_SOURCE)


CACHE_POLICY = TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=cache_key)


'''


def _task_decorator(spec: FlowSpec, task: TaskPlan) -> str:
    options = [f"name={literal(task.name)}"]
    if spec.retries:
        options.append(f"retries={spec.retries}")
        if spec.retry_delay:
            options.append(f"retry_delay_seconds={_number(spec.retry_delay)}")
    if spec.tags:
        options.append(f"tags={_list(spec.tags)}")
    if spec.cache:
        options += ["cache_policy=CACHE_POLICY", "persist_result=True"]
    else:
        options.append("cache_policy=NO_CACHE")
    line = f"@task({', '.join(options)})"
    if len(line) <= WIDTH:
        return line
    return "@task(\n" + "".join(f"    {option},\n" for option in options) + ")"


def _task_source(spec: FlowSpec, task: TaskPlan, names: _Names) -> str:
    plan = spec.plan
    has_inputs = bool(spec.parameters)
    arguments = ["hamilton_config: dict[str, Any]"]
    if has_inputs:
        arguments.append("inputs: dict[str, Any]")
    arguments += [f"from_{upstream}: dict[str, Any]" for upstream in task.upstream]
    header = f"def {names.task_function[task.name]}({', '.join(arguments)}) -> dict[str, Any]:"
    if len(header) > WIDTH:
        header = (
            f"def {names.task_function[task.name]}(\n"
            + "".join(f"    {a},\n" for a in arguments)
            + ") -> dict[str, Any]:"
        )
    modules = f"module{'s' if len(task.modules) > 1 else ''} {_words(list(task.modules))}"
    doc = f'"""Run {", ".join(task.nodes)} ({modules})."""'
    if len(doc) + 4 > WIDTH:
        count = f"{len(task.nodes)} node{'s' if len(task.nodes) > 1 else ''}"
        doc = (
            f'"""Run {count} of {modules}.\n\n{_wrap(", ".join(task.nodes) + ".", "    ")}\n    """'
        )
    received = ", ".join(
        f"{literal(name)}: from_{plan.task_of[name]}[{literal(name)}]" for name in task.receives
    )
    call = [
        "hamilton_config",
        f"outputs={_list(task.outputs)}",
        f"shares={_list(n for n in task.shares if n not in task.outputs)}",
        f"inputs={'inputs' if has_inputs else '{}'}",
        f"received={{{received}}}",
    ]
    one_line = f"    return run_nodes({', '.join(call)})"
    if len(one_line) <= WIDTH:
        body = one_line
    else:
        lines = ["    return run_nodes("]
        for argument in call:
            if argument.startswith("received=") and len(argument) + 9 > WIDTH and task.receives:
                lines.append("        received={")
                lines += [
                    f"            {literal(name)}: from_{plan.task_of[name]}[{literal(name)}],"
                    for name in task.receives
                ]
                lines.append("        },")
            else:
                lines.append(f"        {argument},")
        lines.append("    )")
        body = "\n".join(lines)
    return f"{_task_decorator(spec, task)}\n{header}\n    {doc}\n{body}\n"


def _flow_source(spec: FlowSpec, names: _Names, signature: list[str]) -> str:
    plan = spec.plan
    lines = [f"@flow(name={literal(spec.name)})", f"def {spec.name}("]
    lines += [f"    {parameter}," for parameter in signature]
    lines.append(block_literal(spec.config, "    ", "hamilton_config: dict[str, Any] = ", ","))
    lines.append("    hamilton_config_variable: str | None = None,")
    lines.append(") -> dict[str, Any]:")
    doc = [
        f'    """Compute {_words(plan.outputs)}; a dict by node name.',
        "",
        *textwrap.wrap(
            "`hamilton_config` is the Hamilton config (recorded with every run); "
            "`hamilton_config_variable` names a Prefect Variable whose JSON object replaces it.",
            WIDTH - 4,
            initial_indent="    ",
            subsequent_indent="    ",
        ),
        '    """',
    ]
    lines += doc
    lines += [
        "    if hamilton_config_variable is not None:",
        "        hamilton_config = config_from_variable(hamilton_config_variable)",
    ]
    given = [p for p in spec.parameters if not p.optional]
    if spec.parameters:
        items = ", ".join(f"{literal(p.name)}: {p.name}" for p in given)
        lines.append(f"    inputs = {{{items}}}")
        for parameter in spec.parameters:
            if parameter.optional:
                lines += [
                    f"    if {parameter.name} is not None:",
                    f"        inputs[{literal(parameter.name)}] = {parameter.name}",
                ]
    for task in plan.tasks:
        arguments = ["hamilton_config"] + (["inputs"] if spec.parameters else [])
        arguments += [f"from_{up}={names.future[up]}" for up in task.upstream]
        lines.append(
            f"    {names.future[task.name]} = {names.task_function[task.name]}.submit({', '.join(arguments)})"
        )
    with_outputs = [task for task in plan.tasks if task.outputs]
    results = ", ".join(f"**{names.future[task.name]}.result()" for task in with_outputs)
    lines += [
        f"    values = {{{results}}}",
        "    outputs = {name: values[name] for name in OUTPUTS}",
        "    publish_summary(outputs)",
        "    return outputs",
    ]
    return "\n".join(line if len(line) <= WIDTH else _split_long(line) for line in lines) + "\n"


def _split_long(line: str) -> str:
    """Break a long `x = f(a, b, c)` or dict line after its opening bracket, one item per line."""
    indent = line[: len(line) - len(line.lstrip())]
    for opening, closing in (("(", ")"), ("{", "}")):
        start = line.find(opening)
        if start != -1 and line.rstrip().endswith(closing):
            inner = line[start + 1 : line.rstrip().rfind(closing)]
            items = _split_top_level(inner)
            body = "".join(f"{indent}    {item.strip()},\n" for item in items)
            return f"{line[: start + 1]}\n{body}{indent}{closing}"
    return line


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside brackets or strings."""
    items, depth, current, quote = [], 0, "", ""
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        items.append(current)
    return items
