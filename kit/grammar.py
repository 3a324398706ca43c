"""The grammar of kit's magic lines, read the same way in a kernel and from a notebook file.

`%%hamilton NAME [options]`, `%hamilton_config ...`, `%hamilton_use MODULE ...`, `%hamilton_dag`,
`%hamilton_export`, `%hamilton_promote FLOW ...` and the recipes that generated flows record in
their headers all parse here: the magics and the kernel-less notebook reader call the same
functions, so a line means one thing wherever it is read. Standard library only: `kit --help`
imports this module.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from kit.errors import (
    ConfigError,
    MagicUsageError,
    NamelessCellError,
    PromoteError,
    UnsafeTextError,
    unsafe_character,
)

CELL_MAGIC = "%%hamilton"
PROMOTE_MAGIC = "%hamilton_promote"
STRATEGIES = ("single", "by-module", "per-output", "by-tag")
DEFAULT_STRATEGY = "by-module"
RUNNERS = ("threads", "dask")  # Prefect's task runner: its default threads, or prefect-dask


class _Parser(argparse.ArgumentParser):
    """argparse that raises a kit error instead of exiting the kernel or the command."""

    def __init__(self, prog: str, *, error: type[Exception] = MagicUsageError) -> None:
        super().__init__(prog=prog, add_help=False)
        self._error = error

    def usage_text(self) -> str:
        return self.format_usage().strip().removeprefix("usage: ")

    def error(self, message: str) -> NoReturn:
        if self._error is PromoteError:
            raise PromoteError(f"{self.prog}: {message}", hint=f"usage: {self.usage_text()}")
        raise MagicUsageError(self.prog, message, self.usage_text())


def refuse_unsafe(what: str, text: str) -> None:
    """Raise if `text` (bound for a generated file's header) holds a control or bidi character."""
    index = unsafe_character(text)
    if index is not None:
        raise UnsafeTextError(what, text, index)


def _words(parser: _Parser, line: str) -> list[str]:
    refuse_unsafe(f"the {parser.prog} line", line)
    try:
        return shlex.split(line)
    except ValueError as error:
        parser.error(str(error))


# -- %%hamilton ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellLine:
    """The options of a `%%hamilton NAME ...` line."""

    name: str
    config: tuple[str, ...]  # the texts of its -c options, in order
    display: bool
    execute: list[str] | None  # None: not executed; []: the module's sinks
    export: bool
    override: bool


@functools.cache
def _cell_parser() -> _Parser:
    """The `%%hamilton` line's parser, made once (a cell re-run in a loop pays 0.3 ms less)."""
    parser = _Parser(CELL_MAGIC)
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("-c", "--config", action="append", default=[])
    parser.add_argument("-d", "--display", action="store_true")
    parser.add_argument("-x", "--execute", nargs="*", default=None)
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--override", action="store_true")
    return parser


def parse_cell_line(line: str) -> CellLine:
    """`NAME [-c CONFIG] [-d] [-x [OUTPUT ...]] [--export] [--override]`, as after `%%hamilton`."""
    parser = _cell_parser()
    args = parser.parse_args(_words(parser, line))
    if not args.name:
        raise NamelessCellError()
    return CellLine(
        name=args.name,
        config=tuple(args.config),
        display=args.display,
        execute=args.execute,
        export=args.export,
        override=args.override,
    )


# -- lines that take names: %hamilton_use, %hamilton_dag, %hamilton_export ----------------------


def parse_names(magic: str, line: str, *, at_least_one: str | None = None) -> list[str]:
    """The names on a `%MAGIC NAME ...` line; `at_least_one` names what must be given, if any."""
    parser = _Parser(magic)
    parser.add_argument("names", nargs="*")
    names: list[str] = parser.parse_args(_words(parser, line)).names
    if at_least_one and not names:
        raise MagicUsageError(magic, f"name at least one {at_least_one}", f"{magic} NAME ...")
    return names


def parse_use_line(line: str) -> list[str]:
    """The modules of a `%hamilton_use MODULE ...` line (at least one)."""
    return parse_names("%hamilton_use", line, at_least_one="module")


def parse_pull_line(line: str) -> str | None:
    """`RUN` or `--clear`, as after `%hamilton_pull`: the run's id or name, None for --clear."""
    parser = _Parser("%hamilton_pull")
    parser.add_argument("run", nargs="?", default=None)
    parser.add_argument("--clear", action="store_true")
    args = parser.parse_args(_words(parser, line))
    if (args.run is None) == (not args.clear):
        parser.error("give a flow run's id or name, or --clear (not both)")
    return args.run if isinstance(args.run, str) else None


def parse_submit_line(line: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The flows (`--flow`, repeatable) and `-p NAME VALUE` pairs of a `%hamilton_submit` line."""
    parser = _Parser("%hamilton_submit")
    parser.add_argument("--flow", action="append", default=[], dest="flows")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], dest="pairs")
    args = parser.parse_args(_words(parser, line))
    return list(args.flows), [(name, value) for name, value in args.pairs]


# -- config: %hamilton_config and -c ------------------------------------------------------------


def typed_value(text: str) -> Any:
    """`3` is the int 3, `true` the bool, `[1, 2]` a list, `a` the str 'a'."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return text


def resolve_value(text: str, namespace: Mapping[str, Any]) -> Any:
    """`$name` takes the variable `name` from `namespace`; anything else is typed."""
    if text.startswith("$") and text[1:].isidentifier():
        name = text[1:]
        if name not in namespace:
            raise ConfigError(
                f"${name} names no variable",
                text=text,
                hint=f"define {name} (typically in the notebook's parameters cell) "
                "before this line",
            )
        return namespace[name]
    return typed_value(text)


def parse_config(text: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """What follows `%hamilton_config` or `-c`: JSON, a dict variable, or `k=v` pairs."""
    text = text.strip()
    if not text:
        return {}
    refuse_unsafe("the config", text)
    if text[0] in "{[":
        value = typed_value(text)
        if not isinstance(value, dict):
            raise ConfigError(
                f"config {text!r} is not a JSON object",
                text=text,
                hint='write it as {"key": value} or as key=value pairs',
            )
        return value
    variable = text[1:] if text.startswith("$") else text
    if variable.isidentifier() and "=" not in text:
        if variable not in namespace:
            raise ConfigError(
                f"config {text!r} names no variable",
                text=text,
                hint="write key=value pairs, a JSON object, or the name of a dict variable",
            )
        value = namespace[variable]
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"config variable {variable!r} holds a {type(value).__name__}, not a dict",
                text=text,
                hint="give a dict of config keys to values",
            )
        return dict(value)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ConfigError(f"config {text!r}: {error}", text=text, hint="close the quotes") from None
    config: dict[str, Any] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key.isidentifier():
            raise ConfigError(
                f"config item {word!r} is not key=value",
                text=text,
                hint="write key=value pairs such as model=rf n=3",
            )
        config[key] = resolve_value(value, namespace)
    return config


def config_references(text: str) -> dict[str, str]:
    """The keys whose value is written `$name` in `k=v` config text: key -> variable name."""
    text = text.strip()
    if not text or text[0] in "{[" or "=" not in text:
        return {}
    try:
        words = shlex.split(text)
    except ValueError:
        return {}
    references = {}
    for word in words:
        key, _, value = word.partition("=")
        if value.startswith("$") and value[1:].isidentifier():
            references[key] = value[1:]
    return references


# -- %hamilton_promote and kit promote ----------------------------------------------------------


def _task_assignment(text: str) -> tuple[str, list[str]]:
    """`train=model,score` -> ('train', ['model', 'score'])."""
    name, equals, outputs = text.partition("=")
    names = [output.strip() for output in outputs.split(",") if output.strip()]
    if not equals or not name.strip() or not names:
        raise argparse.ArgumentTypeError(
            f"--task {text!r} is not NAME=OUT,OUT (e.g. train=model,score)"
        )
    return name.strip(), names


def add_promote_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by `%hamilton_promote FLOW` and `kit promote NOTEBOOK FLOW`."""
    parser.add_argument(
        "--outputs",
        nargs="+",
        default=[],
        metavar="OUT",
        help="the nodes the flow computes and returns",
    )
    parser.add_argument(
        "--tasks",
        choices=STRATEGIES,
        default=None,
        help=f"how the nodes split into Prefect tasks (default {DEFAULT_STRATEGY})",
    )
    parser.add_argument(
        "--task",
        action="append",
        type=_task_assignment,
        default=[],
        dest="task_map",
        metavar="NAME=OUT,OUT",
        help="an explicit split: task NAME computes these outputs (repeat for each task)",
    )
    parser.add_argument("--retries", type=int, default=0, metavar="N", help="retries of each task")
    parser.add_argument(
        "--retry-delay", type=float, default=0.0, metavar="S", help="seconds between retries"
    )
    parser.add_argument(
        "--tag", action="append", default=[], dest="tags", metavar="T", help="a tag on every task"
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help="cache each task's result by the code versions and inputs its nodes depend on",
    )
    parser.add_argument(
        "--result-storage",
        default=None,
        metavar="BLOCK",
        help="with --cache: persist results in this Prefect storage block (TYPE/NAME), not in "
        ".kit/results",
    )
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default=RUNNERS[0],
        help="where the tasks run: Prefect's threads (default) or a Dask cluster (prefect-dask)",
    )
    parser.add_argument(
        "--unsaved",
        nargs="+",
        action="extend",
        default=[],
        metavar="OUT",
        help="@save_to functions whose value is wanted without saving it",
    )


def promote_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `kit.promote.promote` (beyond ws and flow) that `args` gives."""
    tasks: str | dict[str, list[str]] = args.tasks or DEFAULT_STRATEGY
    if args.task_map:
        if args.tasks is not None:
            raise PromoteError(
                f"--tasks {args.tasks} and --task NAME=OUT,... both say how to split the flow",
                hint="give either a strategy (--tasks) or an explicit split (--task, repeated)",
            )
        tasks = {}
        for name, outputs in args.task_map:
            if name in tasks:
                raise PromoteError(
                    f"--task {name}=... is given twice",
                    tasks=[name],
                    hint=f"list all outputs of task {name} in one --task {name}=OUT,OUT",
                )
            tasks[name] = outputs
    return {
        "outputs": list(args.outputs),
        "tasks": tasks,
        "retries": args.retries,
        "retry_delay": args.retry_delay,
        "tags": tuple(args.tags),
        "cache": args.cache,
        "result_storage": args.result_storage,
        "unsaved": tuple(args.unsaved),
        "runner": args.runner,
    }


def _parse_promote_words(
    words: Sequence[str], error: type[Exception]
) -> tuple[str, dict[str, Any]]:
    refuse_unsafe(f"the {PROMOTE_MAGIC} line", " ".join(words))
    parser = _Parser(PROMOTE_MAGIC, error=error)
    parser.add_argument("flow")
    add_promote_arguments(parser)
    args = parser.parse_args(list(words))
    return args.flow, promote_options(args)


def parse_promote_magic(line: str) -> tuple[str, dict[str, Any]]:
    """The flow and options of what follows `%hamilton_promote` in a cell (usage errors as such)."""
    parser = _Parser(PROMOTE_MAGIC)
    return _parse_promote_words(_words(parser, line), MagicUsageError)


def parse_promote_line(line: str) -> tuple[str, dict[str, Any]]:
    """The flow and options of a recorded promote line.

    A `%hamilton_promote FLOW ...` line or a `kit promote` recipe.
    """
    words = shlex.split(line)
    if words[:1] == [PROMOTE_MAGIC]:
        words = words[1:]
    elif words[:2] == ["kit", "promote"]:  # the recipe of a flow made without a notebook line
        words = words[3:]
    return _parse_promote_words(words, PromoteError)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def promote_line(
    flow: str,
    outputs: Sequence[str],
    tasks: str | Mapping[str, Iterable[str]] = DEFAULT_STRATEGY,
    *,
    retries: int = 0,
    retry_delay: float = 0,
    tags: Iterable[str] = (),
    cache: bool = False,
    result_storage: str | None = None,
    unsaved: Iterable[str] = (),
    runner: str = RUNNERS[0],
) -> str:
    """The `%hamilton_promote` line that makes this flow (what the widget shows, headers record)."""
    words = [PROMOTE_MAGIC, flow, "--outputs", *outputs]
    if isinstance(tasks, str):
        words += ["--tasks", tasks]
    else:
        for name, task_outputs in tasks.items():
            listed = [task_outputs] if isinstance(task_outputs, str) else list(task_outputs)
            words += ["--task", f"{name}={','.join(listed)}"]
    if retries:
        words += ["--retries", str(retries)]
    if retry_delay:
        words += ["--retry-delay", _number(retry_delay)]
    for tag in tags:
        words += ["--tag", tag]
    if cache:
        words.append("--cache")
    if result_storage:
        words += ["--result-storage", result_storage]
    if runner != RUNNERS[0]:
        words += ["--runner", runner]
    unsaved = list(unsaved)
    if unsaved:
        words += ["--unsaved", *unsaved]
    return " ".join(shlex.quote(word) if word != PROMOTE_MAGIC else word for word in words)


def command_recipe(notebook: str, line: str) -> str:
    """The `kit promote NOTEBOOK FLOW ...` command that remakes what `line` promotes.

    A flow made by the widget, the Python API or `kit promote` records this in its header: it is
    derived from that recipe for as long as the notebook's DAG builds it. A flow made by a
    `%hamilton_promote` line of the notebook records the line, and is orphaned once it is gone.
    """
    return f"kit promote {shlex.quote(notebook)} {line.removeprefix(PROMOTE_MAGIC).strip()}"


def is_notebook_line(recipe: str) -> bool:
    """True for the recipe of a flow that a `%hamilton_promote` line of its notebook made."""
    return recipe.split(maxsplit=1)[:1] == [PROMOTE_MAGIC]
