"""The options of a promote, as `%hamilton_promote` and `kit promote` parse them (stdlib only).

`kit --help` imports this module, so it must not import Prefect, Hamilton or pandas.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kit.errors import PromoteError

STRATEGIES = ("single", "by-module", "per-output", "by-tag")
DEFAULT_STRATEGY = "by-module"
MAGIC = "%hamilton_promote"


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
        "--tag",
        action="append",
        default=[],
        dest="tags",
        metavar="T",
        help="a Prefect tag on every task",
    )
    parser.add_argument(
        "--cache", action="store_true", help="cache task results by their inputs (persisted)"
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
    """The keyword arguments of `promote_workspace` (beyond ws and flow) that `args` gives."""
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
        "unsaved": tuple(args.unsaved),
    }


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
    unsaved: Iterable[str] = (),
) -> str:
    """The `%hamilton_promote` line that makes the same flow (what the widget shows, what headers record)."""
    words = [MAGIC, flow, "--outputs", *outputs]
    if isinstance(tasks, str):
        words += ["--tasks", tasks]
    else:
        for name, task_outputs in tasks.items():
            task_outputs = [task_outputs] if isinstance(task_outputs, str) else list(task_outputs)
            words += ["--task", f"{name}={','.join(task_outputs)}"]
    if retries:
        words += ["--retries", str(retries)]
    if retry_delay:
        words += ["--retry-delay", _number(retry_delay)]
    for tag in tags:
        words += ["--tag", tag]
    if cache:
        words.append("--cache")
    unsaved = list(unsaved)
    if unsaved:
        words += ["--unsaved", *unsaved]
    return " ".join(shlex.quote(word) if word != MAGIC else word for word in words)


def command_recipe(notebook: str, line: str) -> str:
    """The `kit promote NOTEBOOK FLOW ...` command that remakes what `line` promotes.

    A flow made by the widget, the Python API or `kit promote` records this in its header: it is
    derived from that recipe for as long as the notebook's DAG builds it. A flow made by a
    `%hamilton_promote` line of the notebook records the line, and is orphaned once the line is gone.
    """
    return f"kit promote {shlex.quote(notebook)} {line.removeprefix(MAGIC).strip()}"


def is_notebook_line(recipe: str) -> bool:
    """True for the recipe of a flow that a `%hamilton_promote` line of its notebook made."""
    return recipe.split(maxsplit=1)[:1] == [MAGIC]


def parse_promote_line(line: str) -> tuple[str, dict[str, Any]]:
    """The flow name and `promote_options` of a `%hamilton_promote FLOW ...` line (as in a flow's header)."""
    words = shlex.split(line)
    if words[:1] == [MAGIC]:
        words = words[1:]
    elif words[:2] == ["kit", "promote"]:  # the recipe of a flow made without a notebook line
        words = words[3:]
    parser = _LineParser(prog=MAGIC, add_help=False)
    parser.add_argument("flow")
    add_promote_arguments(parser)
    args = parser.parse_args(words)
    return args.flow, promote_options(args)


class _LineParser(argparse.ArgumentParser):
    """Parses a recorded promote line; a line that does not parse is a kit error, not an exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise PromoteError(
            f"{MAGIC}: {message}",
            hint=f"usage: {self.format_usage().strip().removeprefix('usage: ')}",
        )
