"""The `kit` command line: one sub-command per front end, each importing only what it needs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kit import __version__
from kit.errors import KitError


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
        description="Hamilton dataflows written in notebooks, exported to modules, promoted to Prefect flows.",
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

    dag = commands.add_parser(
        "dag", help="write the DAG of a notebook as a self-contained HTML page or an SVG"
    )
    dag.add_argument("notebook")
    dag.add_argument("--out", required=True, help="FILE.html or FILE.svg")

    promote = commands.add_parser("promote", help="write flows/FLOW.py from a notebook's DAG")
    promote.add_argument("notebook")
    promote.add_argument("flow")
    from kit.promote.options import add_promote_arguments

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

    commands.add_parser(
        "demo", help="validate the example notebook, submit its flow to a local Prefect, summarise"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KitError as error:
        print(f"kit {args.command}: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    """Dispatch to the module that implements the sub-command (imported only now)."""
    if args.command in ("export", "check", "init"):
        from kit import sync

        return {
            "export": sync.export_command,
            "check": sync.check_command,
            "init": sync.init_command,
        }[args.command](args)
    if args.command == "dag":
        from kit.dag.page import dag_command

        return dag_command(args)
    if args.command == "promote":
        from kit.promote import promote_command

        return promote_command(args)
    if args.command == "validate":
        from kit.validate import validate_command

        return validate_command(args)
    if args.command == "submit":
        from kit.submit import submit_command

        return submit_command(args)
    if args.command == "server":
        return _server_command(args.action, args.port)
    from kit.demo import demo_command

    return demo_command(args)


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
