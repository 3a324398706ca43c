"""The `kit` command line: every sub-command's arguments, parsing and printing live here.

Feature modules take plain Python arguments and return reports; each handler imports its
feature module only when it runs, so `kit --help` imports neither Hamilton nor Prefect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kit.deferred_imports import defer_iri_grammar
from kit.errors import KitError
from kit.grammar import add_promote_arguments, promote_options
from kit.version import __version__


def _parameter_pairs(parser: argparse.ArgumentParser, flag: str, dest: str, help_text: str) -> None:
    parser.add_argument(
        flag,
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        dest=dest,
        help=help_text,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit",
        description="Hamilton dataflows written in notebooks, exported to modules, "
        "promoted to Prefect flows.",
    )
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    init = commands.add_parser("init", help="create a new kit project in DIR")
    init.add_argument("dir", help="the folder to create (or fill, if empty)")

    export = commands.add_parser(
        "export", help="write modules/ and flows/ from notebooks (all notebooks when none is named)"
    )
    export.add_argument("notebooks", nargs="*", metavar="NOTEBOOK")
    export.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if anything differs"
    )
    export.add_argument("--force", action="store_true", help="overwrite files edited by hand")
    export.add_argument(
        "--prune",
        action="store_true",
        help="remove orphaned generated files (never hand-edited ones)",
    )

    commands.add_parser(
        "check", help="exit 1 if modules/ or flows/ drifted from their notebooks (= export --check)"
    )

    diff = commands.add_parser(
        "diff",
        help="the DAG at a git revision against the working tree: nodes changed, tasks they reach",
    )
    diff.add_argument("rev", nargs="?", default="HEAD", help="a git revision (default HEAD)")
    diff.add_argument("--json", action="store_true", help="print the report as JSON")

    dag = commands.add_parser(
        "dag", help="write the DAG of a notebook as a self-contained HTML page or an SVG"
    )
    dag.add_argument("notebook")
    dag.add_argument("--out", required=True, help="FILE.html or FILE.svg")

    promote = commands.add_parser("promote", help="write flows/FLOW.py from a notebook's DAG")
    promote.add_argument("notebook")
    promote.add_argument("flow")
    add_promote_arguments(promote)

    validate = commands.add_parser(
        "validate", help="run notebooks with papermill, then check their modules and flows"
    )
    validate.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    _parameter_pairs(
        validate, "-p", "parameters", "a notebook parameter (typed as papermill types it)"
    )
    validate.add_argument("-f", "--parameters-file", help="a YAML file of parameters")
    validate.add_argument("--jobs", type=int, default=1, help="notebooks validated at once")
    validate.add_argument("--timeout", type=float, default=None, help="seconds a cell may run")
    validate.add_argument(
        "--out", default=None, help="folder for executed notebooks (default runs/)"
    )

    submit = commands.add_parser(
        "submit", help="validate a notebook, then run its flows on Prefect"
    )
    submit.add_argument("notebook")
    _parameter_pairs(
        submit, "-p", "parameters", "a notebook parameter (typed as papermill types it)"
    )
    submit.add_argument(
        "--flow",
        action="append",
        default=None,
        metavar="NAME",
        help="only this flow of the notebook (repeat for several; default: all it owns)",
    )
    _parameter_pairs(
        submit,
        "--flow-param",
        "flow_parameters",
        "a flow parameter that overrides the validated one",
    )
    submit.add_argument(
        "--deploy",
        action="store_true",
        help="create a deployment and trigger it (needs PREFECT_API_URL)",
    )
    submit.add_argument("--pool", help="the process work pool for --deploy")

    server = commands.add_parser(
        "server", help="the project's own Prefect server (in .kit/prefect), which kit submit uses"
    )
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument(
        "--port", type=int, default=None, help="start: the port (default: a free one)"
    )

    pull = commands.add_parser(
        "pull",
        help="read a Prefect run of a promoted flow: its inputs, config, persisted task values, "
        "and the nodes whose code changed since",
    )
    pull.add_argument("run", metavar="RUN", help="the flow run's id or name")
    pull.add_argument(
        "--notebook",
        default=None,
        help="the notebook to compare with (default: the one the run's record names)",
    )

    commands.add_parser(
        "demo", help="validate the example notebook, submit its flow to a local Prefect, summarise"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    defer_iri_grammar()
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KitError as error:
        print(f"kit {args.command}: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    """Dispatch to the sub-command's handler (each imports its feature module only now)."""
    if args.command == "server":
        return _server_command(args.action, args.port)
    handlers = {
        "init": _init_command,
        "export": _export_command,
        "check": _check_command,
        "diff": _diff_command,
        "dag": _dag_command,
        "promote": _promote_command,
        "validate": _validate_command,
        "submit": _submit_command,
        "pull": _pull_command,
        "demo": _demo_command,
    }
    return handlers[args.command](args)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _init_command(args: argparse.Namespace) -> int:
    """`kit init DIR`: a new project."""
    from kit.notebook import display_path
    from kit.scaffold import create_project

    root = create_project(Path(args.dir))
    print(
        f"created a kit project in {display_path(root)}; "
        "open notebooks/starter.ipynb with `jupyter lab`"
    )
    return 0


def _report_drift(notebooks: Sequence[Path], abandoned: Sequence[Any]) -> int:
    """Print each notebook's DAG changes, then every drifted file with its fix; exit 1 if any."""
    from kit.sync import check

    report = check(notebooks, abandoned)
    for changes in report.changes:
        print("\n".join(changes.lines()))
    found = report.drift
    for item in found:
        print(item.text())
    if found:
        print(
            f"kit check: {_plural(len(found), 'file')} drifted from their notebooks",
            file=sys.stderr,
        )
        return 1
    print(f"kit check: modules and flows agree with {_plural(len(notebooks), 'notebook')}")
    return 0


def _export_command(args: argparse.Namespace) -> int:
    """`kit export [NOTEBOOK ...] [--check] [--force] [--prune]`."""
    from kit.notebook import display_path
    from kit.sync import export_notebooks, select_notebooks

    project, notebooks, abandoned = select_notebooks(args.notebooks)
    if args.check:
        return _report_drift(notebooks, abandoned)
    result = export_notebooks(
        project, notebooks, force=args.force, prune=args.prune, abandoned=abandoned
    )
    for path in result.written:
        print(f"wrote {display_path(path)}")
    for path in result.removed:
        print(f"removed {display_path(path)}")
    for item in result.orphaned:
        shown = display_path(item.path)
        print(f"kept {shown}: {item.state.value} ({item.reason}); fix: {item.command}")
    written, unchanged, removed = len(result.written), len(result.unchanged), len(result.removed)
    print(f"kit export: {written} written, {unchanged} unchanged, {removed} removed")
    return 0


def _check_command(args: argparse.Namespace) -> int:
    """`kit check`: exit 1 if any module or flow drifted from its notebook (= export --check)."""
    from kit.sync import select_notebooks

    _, notebooks, abandoned = select_notebooks([])
    return _report_drift(notebooks, abandoned)


def _diff_command(args: argparse.Namespace) -> int:
    """`kit diff [REV] [--json]`: exit 1 when anything differs from REV."""
    import json

    from kit.diff import diff

    report = diff(args.rev)
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return 1 if report.differs else 0


def _dag_command(args: argparse.Namespace) -> int:
    """`kit dag NOTEBOOK --out FILE.html|FILE.svg`."""
    from kit.dag.page import write_dag

    out = Path(args.out)
    payload = write_dag(Path(args.notebook), out)
    print(f"wrote {out} ({_plural(len(payload['nodes']), 'node')}, layout: {payload['engine']})")
    return 0


def _promote_command(args: argparse.Namespace) -> int:
    """`kit promote NOTEBOOK FLOW --outputs ...`, the workspace built from the notebook file."""
    from kit.promote import promote
    from kit.steps import workspace_from_notebook

    ws = workspace_from_notebook(Path(args.notebook))
    print(promote(ws, args.flow, **promote_options(args)).summary())
    return 0


def _validate_command(args: argparse.Namespace) -> int:
    """`kit validate NOTEBOOK ... [-p NAME VALUE] [-f FILE] [--jobs N] [--timeout S] [--out D]`."""
    from kit.parameters import collect_parameters
    from kit.validate import validate

    parameters = collect_parameters(args.parameters, args.parameters_file)
    report = validate(
        args.notebooks, parameters, jobs=args.jobs, timeout=args.timeout, out=args.out
    )
    print(report.text())
    return 0 if report.passed else 1


def _submit_command(args: argparse.Namespace) -> int:
    from kit.submit import submit_command

    return submit_command(args)


def _pull_command(args: argparse.Namespace) -> int:
    """`kit pull RUN [--notebook NB]`: what `%hamilton_pull RUN` would load, as text."""
    from kit.pull import pull_command

    print(pull_command(args.run, args.notebook).text())
    return 0


def _demo_command(args: argparse.Namespace) -> int:
    """`kit demo`: the example notebook validated, its flow run on the full data, a summary."""
    from kit.demo import run_demo

    return run_demo()


def _server_command(action: str, port: int | None) -> int:
    """`kit server start|stop|status`: exit 0 when the server runs (stop: when it is stopped)."""
    from kit import server
    from kit.project import require_project

    project = require_project()
    if action == "start":
        started = server.start(project, port=port)
        print(f"{started.text()}\nlogs: {project.relative(started.log)}; stop it: kit server stop")
        return 0
    if action == "stop":
        stopped = server.stop(project)
        print(f"stopped the Prefect server at {stopped.url}" if stopped else "no kit server runs")
        return 0
    found = server.status(project)
    print(found.text() if found else "no kit server runs (start one: kit server start)")
    return 0 if found is not None and found.answers else 1


if __name__ == "__main__":
    sys.exit(main())
