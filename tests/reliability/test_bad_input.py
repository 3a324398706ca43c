"""The bad-input corpus: one row per mistake a user makes, through the front end they make it in.

Each row asserts that kit raises a `kit.KitError` subclass (not a bare traceback from Hamilton,
Prefect, papermill or Python), that its message names the thing (cell, module, node, file,
parameter, flow) and says the fix (its `hint`), and that no file under the project changed.
The README's "Reliability" section quotes the size of this table.
"""

from __future__ import annotations

import contextlib
import html
import socket
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kit import errors
from kit.cli import _run, build_parser
from kit.errors import KitError
from kit.workspace import workspace

from .support import tree_hash, write_notebook

PREP = "%%hamilton prep\ndef base() -> int:\n    return 1\n"
MORE = "%%hamilton more\ndef doubled(base: int) -> int:\n    return base * 2\n"
ASYNC = "%%hamilton waits\nasync def later() -> int:\n    return 1\n"
PARALLEL = textwrap.dedent(
    """\
    %%hamilton fan
    from hamilton.htypes import Collect, Parallelizable

    def item() -> Parallelizable[int]:
        yield from range(3)

    def squared(item: int) -> int:
        return item * item

    def total(squared: Collect[int]) -> int:
        return sum(squared)
    """
)
SAVER = textwrap.dedent(
    """\
    %%hamilton saving
    from hamilton.function_modifiers import save_to, source

    @save_to.json(path=source("where"), output_name_="saved_report")
    def report() -> dict:
        return {"a": 1}
    """
)


@dataclass(frozen=True)
class Case:
    """A bad input: the cells run (magic), argv (cli) or buttons pressed (widget), the error
    class it must raise, and the words the message must hold (the thing named, then the fix)."""

    id: str
    front: str  # "magic": cells in a real IPython shell, the last one bad; "cli": kit ARGV
    steps: tuple[str, ...]
    error: type[KitError]
    says: tuple[str, ...]
    setup: Callable[[Path], None] | None = None
    # "{api}": the stand-in API, "{closed}": no server, "{prefect}": the session's real API
    env: tuple[tuple[str, str], ...] = ()
    keeps: str | None = None  # files under this folder are kept by design (executed notebooks)


def _nb(name: str, *sources: str, **options: object) -> Callable[[Path], None]:
    """A setup writing notebooks/NAME.ipynb of `sources`."""

    def setup(root: Path) -> None:
        write_notebook(root / "notebooks" / f"{name}.ipynb", *sources, **options)  # type: ignore[arg-type]

    return setup


def _then(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for step in setups:
            step(root)

    return setup


def _exported(name: str, *sources: str) -> Callable[[Path], None]:
    """A notebook whose files `kit export` wrote."""

    def setup(root: Path) -> None:
        _nb(name, *sources)(root)
        assert _run(build_parser().parse_args(["export", f"notebooks/{name}.ipynb"])) == 0

    return setup


def _edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / relative
        path.write_text(path.read_text().replace(old, new, 1))

    return setup


def _write(relative: str, text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return setup


def _remove(relative: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / relative).unlink()

    return setup


def _folder_is_a_file(folder: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for path in sorted((root / folder).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (root / folder).rmdir()
        (root / folder).write_text("not a folder\n")

    return setup


USES_TOKEN = "%%hamilton uses -x shown\ndef shown(token: str) -> int:\n    return len(token)\n"
NB = "notebooks/nb.ipynb"
WIDGET = "__import__('kit').workspace().widget()"

CASES = [
    # -- cells in a kernel ------------------------------------------------------------------------
    Case(
        "cell-syntax-error",
        "magic",
        ("%%hamilton broken\ndef f(:\n    pass\n",),
        errors.CellError,
        ("module 'broken'", "line 1", "fix the line"),
    ),
    Case(
        "cell-ipython-line-magic",
        "magic",
        ("%%hamilton timed\n%time x = 1\n",),
        errors.CellError,
        ("module 'timed'", "%time"),
    ),
    Case(
        "cell-shell-escape",
        "magic",
        ("%%hamilton shelled\n!ls\n",),
        errors.CellError,
        ("module 'shelled'", "!ls"),
    ),
    Case(
        "cell-raises-at-import",
        "magic",
        ("%%hamilton raising\nx = 1 / 0\n",),
        errors.CellError,
        ("module 'raising'", "ZeroDivisionError"),
    ),
    Case(
        "cell-duplicate-node",
        "magic",
        (PREP, PREP.replace("prep", "again")),
        errors.DuplicateNodeError,
        ("'base'", "'prep'", "'again'", "--override"),
    ),
    Case(
        "cell-cycle",
        "magic",
        (
            "%%hamilton a\ndef p(q: int) -> int:\n    return q\n",
            "%%hamilton b\ndef q(p: int) -> int:\n    return p\n",
        ),
        errors.CycleError,
        ("'p' (module 'a')", "'q' (module 'b')", "break the circle"),
    ),
    Case(
        "cell-type-mismatch",
        "magic",
        (PREP, "%%hamilton wants_text -x\ndef shout(base: str) -> str:\n    return base\n"),
        errors.GraphError,
        ("base", "shout", "types"),
    ),
    Case(
        "cell-missing-input",
        "magic",
        (MORE.replace("%%hamilton more", "%%hamilton more -x"),),
        errors.MissingInputsError,
        ("base (needed by doubled)", "inputs"),
    ),
    Case(
        "cell-unknown-output",
        "magic",
        (PREP.replace("prep", "prep -x bse"),),
        errors.UnknownNodeError,
        ("'bse'", "did you mean 'base'"),
    ),
    Case(
        "cell-misspelled-saver",
        "magic",
        (SAVER, "%hamilton_dag saved_repot"),
        errors.UnknownNodeError,
        ("'saved_repot'", "'saved_report'"),
    ),
    Case(
        "cell-async-executed",
        "magic",
        (ASYNC.replace("waits", "waits -x later"),),
        KitError,
        ("later", "async"),
    ),
    Case(
        "cell-per-item-node",
        "magic",
        (PARALLEL.replace("fan", "fan -x squared"),),
        errors.PerItemNodeError,
        ("'squared'", "'item'", "'total'"),
    ),
    Case(
        "cell-name-keyword",
        "magic",
        ("%%hamilton class\nx = 1\n",),
        errors.ModuleNameError,
        ("'class'", "keyword"),
    ),
    Case(
        "cell-name-shadows-json",
        "magic",
        ("%%hamilton json\nx = 1\n",),
        errors.ModuleNameError,
        ("'json'", "json_steps"),
    ),
    Case(
        "cell-name-not-identifier",
        "magic",
        ("%%hamilton 2fast\nx = 1\n",),
        errors.ModuleNameError,
        ("'2fast'", "identifier"),
    ),
    Case(
        "cell-without-name",
        "magic",
        ("%%hamilton\nx = 1\n",),
        errors.NamelessCellError,
        ("no module name", "%%hamilton NAME"),
    ),
    Case(
        "cell-unknown-option",
        "magic",
        ("%%hamilton prep --bogus\nx = 1\n",),
        errors.MagicUsageError,
        ("--bogus", "usage: %%hamilton"),
    ),
    Case(
        "cell-config-bad-json",
        "magic",
        ('%%hamilton prep -c {"a": \nx = 1\n',),
        errors.ConfigError,
        ("'{a:'", "key=value"),
    ),
    Case(
        "cell-config-not-pairs",
        "magic",
        ("%%hamilton prep -c model\nx = 1\n",),
        errors.ConfigError,
        ("'model'", "key=value"),
    ),
    Case(
        "cell-bidi-in-config",
        "magic",
        ("%%hamilton prep -c 'k=a\u202eb'\nx = 1\n",),
        errors.UnsafeTextError,
        ("U+202E", "remove it"),
    ),
    # -- line magics ------------------------------------------------------------------------------
    Case(
        "config-undefined-variable",
        "magic",
        ("%hamilton_config model=$model_type",),
        errors.ConfigError,
        ("$model_type", "define model_type"),
    ),
    Case(
        "config-item-without-equals",
        "magic",
        ("%hamilton_config a=1 b",),
        errors.ConfigError,
        ("'b'", "key=value"),
    ),
    Case(
        "config-unclosed-quote",
        "magic",
        ("%hamilton_config a='x",),
        errors.ConfigError,
        ("a='x", "close the quotes"),
    ),
    Case(
        "config-json-list",
        "magic",
        ("%hamilton_config [1, 2]",),
        errors.ConfigError,
        ("[1, 2]", "key"),
    ),
    Case(
        "config-variable-not-a-dict",
        "magic",
        ("settings = 3", "%hamilton_config settings"),
        errors.ConfigError,
        ("'settings'", "dict"),
    ),
    Case(
        "config-nul-in-value",
        "magic",
        ("%hamilton_config k='a\x00b'",),
        errors.UnsafeTextError,
        ("U+0000", "remove it"),
    ),
    Case(
        "use-without-module",
        "magic",
        ("%hamilton_use",),
        errors.MagicUsageError,
        ("module", "%hamilton_use NAME"),
    ),
    Case(
        "use-missing-module",
        "magic",
        ("%hamilton_use modules.nowhere",),
        KitError,
        ("modules.nowhere", ""),
    ),
    Case(
        "export-unknown-module",
        "magic",
        (PREP, "%hamilton_export nothere"),
        KitError,
        ("'nothere'", "prep"),
    ),
    Case(
        "load-without-name",
        "magic",
        ("%hamilton_load",),
        errors.MagicUsageError,
        ("%hamilton_load", "NAME_OR_PATH"),
    ),
    Case("load-missing-module", "magic", ("%hamilton_load nowhere",), KitError, ("nowhere", "")),
    Case(
        "dag-unknown-node",
        "magic",
        (PREP, "%hamilton_dag nothing"),
        errors.UnknownNodeError,
        ("'nothing'", "base"),
    ),
    Case(
        "promote-without-flow",
        "magic",
        (PREP, "%hamilton_promote --outputs base"),
        errors.MagicUsageError,
        ("flow", "usage: %hamilton_promote"),
    ),
    Case(
        "promote-shadowing-flow-name",
        "magic",
        (PREP, "%hamilton_promote pandas --outputs base"),
        errors.PromoteError,
        ("'pandas'", ""),
    ),
    Case(
        "promote-flow-named-flow",
        "magic",
        (PREP, "%hamilton_promote flow --outputs base"),
        errors.PromoteError,
        ("'flow'", ""),
    ),
    Case(
        "promote-flow-not-identifier",
        "magic",
        (PREP, "%hamilton_promote my-flow --outputs base"),
        errors.PromoteError,
        ("'my-flow'", "identifier"),
    ),
    Case(
        "promote-unknown-output",
        "magic",
        (PREP, "%hamilton_promote f --outputs bse"),
        errors.UnknownNodeError,
        ("'bse'", "did you mean 'base'"),
    ),
    Case(
        "promote-unknown-strategy",
        "magic",
        (PREP, "%hamilton_promote f --outputs base --tasks x"),
        errors.MagicUsageError,
        ("--tasks", "single"),
    ),
    Case(
        "promote-negative-retries",
        "magic",
        (PREP, "%hamilton_promote f --outputs base --retries -1"),
        KitError,
        ("retries=-1", "whole number"),
    ),
    Case(
        "promote-task-of-unknown-node",
        "magic",
        (PREP, MORE, "%hamilton_promote f --outputs doubled --task t=nope"),
        KitError,
        ("nope", "--task"),
    ),
    Case(
        "promote-unsaved-unknown",
        "magic",
        (PREP, "%hamilton_promote f --outputs base --unsaved nope"),
        KitError,
        ("'nope'", ""),
    ),
    Case(
        "promote-async-node",
        "magic",
        (ASYNC, "%hamilton_promote f --outputs later"),
        KitError,
        ("later", "async"),
    ),
    Case(
        "promote-per-item-node",
        "magic",
        (PARALLEL, "%hamilton_promote f --outputs squared"),
        errors.PerItemNodeError,
        ("'squared'", "Collect"),
    ),
    Case(
        "promote-bidi-in-tag",
        "magic",
        (PREP, "%hamilton_promote f --outputs base --tag 'a\u202eb'"),
        errors.UnsafeTextError,
        ("U+202E", "remove it"),
    ),
    Case(
        "promote-negative-retry-delay",
        "magic",
        (PREP, "%hamilton_promote f --outputs base --retry-delay -3"),
        KitError,
        ("retry", ""),
    ),
    Case(
        "export-hand-edited",
        "magic",
        (
            PREP,
            "%hamilton_export prep",
            "from pathlib import Path\n"
            "p = Path('modules/prep.py')\n"
            "p.write_text(p.read_text() + '# mine\\n')",
            "%hamilton_export prep",
        ),
        errors.GeneratedFileError,
        ("modules/prep.py", ""),
    ),
    # -- the command line -------------------------------------------------------------------------
    Case(
        "cli-cycle",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb, cell 1", "'p' (module 'a')", "'q' (module 'b')", "break the circle"),
        _nb(
            "nb",
            "%%hamilton a\ndef p(q: int) -> int:\n    return q\n",
            "%%hamilton b\ndef q(p: int) -> int:\n    return p\n",
        ),
    ),
    Case(
        "cli-not-json",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb", "not JSON"),
        _write(NB, "{ nope"),
    ),
    Case(
        "cli-not-a-notebook",
        "cli",
        ("export", "notebooks/notes.txt"),
        errors.NotebookError,
        ("notes.txt", ""),
        _write("notebooks/notes.txt", "just text\n"),
    ),
    Case(
        "cli-missing-notebook",
        "cli",
        ("export", "notebooks/gone.ipynb"),
        KitError,
        ("gone.ipynb", ""),
    ),
    Case(
        "cli-syntax-error",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb, cell 0", "line 1"),
        _nb("nb", "%%hamilton broken\ndef f(:\n    pass\n"),
    ),
    Case(
        "cli-two-cells-one-name",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb, cell 1", "'prep'"),
        _nb("nb", PREP, PREP),
    ),
    Case(
        "cli-kernel-only-value",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb, cell 1", "$rows"),
        _nb("nb", "rows = 3", "%hamilton_config n=$rows", PREP),
    ),
    Case(
        "cli-two-parameters-cells",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb", "parameters"),
        _nb("nb", PREP, parameters="rows = 3", extra_parameters="rows = 4"),
    ),
    Case(
        "cli-validate-not-a-notebook",
        "cli",
        ("validate", "notebooks/notes.txt"),
        KitError,
        ("notes.txt", ""),
        _write("notebooks/notes.txt", "just text\n"),
    ),
    Case(
        "cli-unknown-parameter",
        "cli",
        ("validate", NB, "-p", "rowz", "3"),
        errors.UnknownParameterError,
        ("rowz", "rows"),
        _nb("nb", PREP, parameters="rows = 3"),
    ),
    Case(
        "cli-parameters-file-not-mapping",
        "cli",
        ("validate", NB, "-f", "params.yaml"),
        errors.ParameterFileError,
        ("params.yaml", "name: value"),
        _then(_nb("nb", PREP, parameters="rows = 3"), _write("params.yaml", "- 1\n- 2\n")),
    ),
    Case(
        "cli-validate-missing-notebook",
        "cli",
        ("validate", "notebooks/gone.ipynb"),
        KitError,
        ("gone.ipynb", ""),
    ),
    Case(
        "cli-hand-edited-module",
        "cli",
        ("export", NB),
        errors.GeneratedFileError,
        ("modules/prep.py", "--force"),
        _then(_exported("nb", PREP), _edit("modules/prep.py", "return 1", "return 2")),
    ),
    Case(
        "cli-file-in-the-way",
        "cli",
        ("export", NB),
        errors.GeneratedFileError,
        ("modules/prep.py", ""),
        _then(_nb("nb", PREP), _write("modules/prep.py", "x = 1\n")),
    ),
    Case(
        "cli-modules-is-a-file",
        "cli",
        ("export", NB),
        KitError,
        ("modules", "folder"),
        _then(_nb("nb", PREP), _folder_is_a_file("modules")),
    ),
    Case(
        "cli-flows-is-a-file",
        "cli",
        ("export", NB),
        KitError,
        ("flows", "folder"),
        _then(_nb("nb", PREP, "%hamilton_promote f --outputs base"), _folder_is_a_file("flows")),
    ),
    Case(
        "cli-owned-by-another-notebook",
        "cli",
        ("export", "notebooks/copy.ipynb"),
        errors.OwnershipError,
        ("modules/prep.py", "notebooks/nb.ipynb", "names of its own"),
        _then(_exported("nb", PREP), _nb("copy", PREP)),
    ),
    Case(
        "cli-pyproject-without-tool-kit",
        "cli",
        ("export",),
        errors.ProjectError,
        ("pyproject.toml", "[tool.kit]"),
        _write("pyproject.toml", "[project]\nname = 'x'\n"),
    ),
    Case(
        "cli-promote-unknown-output",
        "cli",
        ("promote", NB, "f", "--outputs", "bse"),
        errors.UnknownNodeError,
        ("'bse'", "base"),
        _nb("nb", PREP),
    ),
    Case(
        "cli-promote-shadowing-name",
        "cli",
        ("promote", NB, "modules", "--outputs", "base"),
        errors.PromoteError,
        ("'modules'", ""),
        _nb("nb", PREP),
    ),
    Case(
        "cli-promote-bidi-tag",
        "cli",
        ("promote", NB, "f", "--outputs", "base", "--tag", "a\u202eb"),
        errors.UnsafeTextError,
        ("U+202E", "remove it"),
        _nb("nb", PREP),
    ),
    Case(
        "cli-promote-nul-line",
        "cli",
        ("export", NB),
        errors.NotebookError,
        ("notebooks/nb.ipynb, cell 1", "U+0000"),
        _nb("nb", PREP, "%hamilton_promote f --outputs base --tag 'a\x00b'"),
    ),
    Case(
        "cli-dag-unknown-format",
        "cli",
        ("dag", NB, "--out", "dag.png"),
        KitError,
        ("dag.png", ".html"),
        _nb("nb", PREP),
    ),
    Case(
        "cli-init-into-a-file",
        "cli",
        ("init", "taken"),
        KitError,
        ("taken", ""),
        _write("taken", "x\n"),
    ),
    Case(
        "cli-submit-no-flow",
        "cli",
        ("submit", NB),
        errors.SubmitError,
        ("notebooks/nb.ipynb", "%hamilton_promote"),
        _nb("nb", PREP),
    ),
    Case(
        "cli-submit-deploy-without-pool",
        "cli",
        ("submit", NB, "--deploy"),
        errors.SubmitError,
        ("--pool", ""),
        _exported("nb", PREP, "%hamilton_promote f --outputs base"),
    ),
    Case(
        "cli-submit-unknown-flow",
        "cli",
        ("submit", NB, "--flow", "nope"),
        errors.SubmitError,
        ("'nope'", "f"),
        _exported("nb", PREP, "%hamilton_promote f --outputs base"),
    ),
    Case("cli-diff-without-commit", "cli", ("diff",), KitError, ("'HEAD'", "a commit")),
    Case(
        "cli-submit-api-does-not-answer",
        "cli",
        ("submit", NB),
        errors.PrefectServerError,
        ("PREFECT_API_URL is http://127.0.0.1:", "unset PREFECT_API_URL"),
        _exported("nb", PREP, "%hamilton_promote f --outputs base"),
        env=(("PREFECT_API_URL", "{closed}/api"),),
    ),
    Case(
        "cli-submit-api-answers-500",
        "cli",
        ("submit", NB),
        errors.PrefectServerError,
        ("/broken/api", "start that server"),
        _exported("nb", PREP, "%hamilton_promote f --outputs base"),
        env=(("PREFECT_API_URL", "{api}/broken/api"),),
    ),
    Case(
        "submit-flow-modules-deleted",
        "magic",
        (f"import kit; kit.submit({NB!r}, progress=False)",),
        errors.ValidationFailedError,
        ("modules/prep.py", "kit export", "nothing was submitted"),
        _then(
            _exported("nb", "%load_ext kit", PREP, "%hamilton_promote f --outputs base"),
            _remove("modules/prep.py"),
        ),
        env=(("PREFECT_API_URL", "{api}/ok/api"),),
        keeps="runs/",
    ),
    Case(
        "pull-deleted-run",
        "magic",
        (PREP, "%hamilton_pull {deleted_run}"),
        errors.RunNotFoundError,
        ("no flow run with id or name '{deleted_run}'", "kit submit"),
        env=(("PREFECT_API_URL", "{prefect}"),),
    ),
    Case(
        "cli-pull-deleted-run",
        "cli",
        ("pull", "{deleted_run}", "--notebook", NB),
        errors.RunNotFoundError,
        ("no flow run with id or name '{deleted_run}'", "Prefect UI"),
        _exported("nb", PREP, "%hamilton_promote f --outputs base"),
        env=(("PREFECT_API_URL", "{prefect}"),),
    ),
    Case(
        "config-secret-bad-block-name",
        "magic",
        ("%hamilton_config token=secret:My_Block", USES_TOKEN),
        errors.SecretError,
        ("config key 'token'", "'secret:My_Block'", "Secret block's name"),
    ),
    Case(
        "config-secret-missing-block",
        "magic",
        ("%hamilton_config token=secret:no-such-block", USES_TOKEN),
        errors.MissingSecretError,
        ("config key 'token'", "no Secret block named 'no-such-block'", "prefect block create"),
        env=(("PREFECT_API_URL", "{prefect}"),),
    ),
    # -- the widget's buttons ---------------------------------------------------------------------
    Case(
        "widget-run-nothing-selected",
        "widget",
        (PREP, "run"),
        KitError,
        ("nothing is selected", "click the nodes"),
    ),
    Case(
        "widget-run-missing-input",
        "widget",
        (MORE, f"{WIDGET}.selected = ['doubled']", "run"),
        errors.MissingInputsError,
        ("base (needed by doubled)", "inputs"),
    ),
    Case(
        "widget-promote-without-name",
        "widget",
        (PREP, f"{WIDGET}.selected = ['base']", "promote"),
        KitError,
        ("no name", "Flow box"),
    ),
    Case(
        "widget-promote-nothing-selected",
        "widget",
        (PREP, f"{WIDGET}.panel.flow_name.value = 'f'", "promote"),
        KitError,
        ("nothing is selected", "click the outputs"),
    ),
    Case(
        "widget-promote-bad-flow-name",
        "widget",
        (
            PREP,
            f"{WIDGET}.selected = ['base']; {WIDGET}.panel.flow_name.value = 'my flow'",
            "promote",
        ),
        errors.PromoteError,
        ("'my flow'", "identifier"),
    ),
    Case(
        "widget-promote-shadowing-flow-name",
        "widget",
        (
            PREP,
            f"{WIDGET}.selected = ['base']; {WIDGET}.panel.flow_name.value = 'prefect'",
            "promote",
        ),
        errors.PromoteError,
        ("'prefect'", ""),
    ),
]


def _without(found: dict[str, str], keeps: str | None) -> dict[str, str]:
    return {path: h for path, h in found.items() if keeps is None or not path.startswith(keeps)}


def _error_of(case: Case, shell: Any, root: Path) -> BaseException | None:
    """Run the case's last step (after the others) and return what it raised.

    The project's files are hashed right before that step and compared right after it.
    """
    if case.front == "cli":
        snapshot = tree_hash(root)
        try:
            _run(build_parser().parse_args(list(case.steps)))
        except KitError as error:
            return error
        finally:
            after = _without(tree_hash(root), case.keeps)
            assert after == snapshot, "a refused command changed files"
        return None
    *before, last = case.steps
    for source in before:
        result = shell.run_cell(source)
        assert result.error_in_exec is None and result.error_before_exec is None, source
    snapshot = tree_hash(root)
    if case.front == "widget":
        error = _pressed(last)
    else:
        result = shell.run_cell(last)
        error = result.error_in_exec or result.error_before_exec
    assert _without(tree_hash(root), case.keeps) == snapshot, "a refused step changed files"
    return error


def _pressed(button: str) -> KitError | None:
    """Press the panel's BUTTON (run, promote); the error it raised, which the panel shows."""
    panel = workspace().widget().panel
    try:
        getattr(type(panel), button).__wrapped__(panel)  # the handler, unguarded
    except KitError as raised:
        error: KitError | None = raised
    else:
        error = None
    getattr(panel, f"{button}_button").click()
    shown = getattr(panel, f"{button}_error").value
    assert error is None or html.escape(error.message) in shown, shown
    return error


class _StandIn(BaseHTTPRequestHandler):
    """A stand-in Prefect API: /ok/... answers its health check, /broken/... answers 500."""

    def do_GET(self) -> None:
        status = 200 if self.path.startswith("/ok/") else 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true" if status == 200 else b'{"detail": "broken"}')

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def stand_in_api() -> Iterator[str]:
    """The stand-in API on 127.0.0.1, stopped after the module."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def deleted_run(loop_api: str) -> str:
    """The id of a flow run that ran on the session's Prefect API and was deleted since."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    @flow(name="deleted-soon")
    def deleted_soon() -> int:
        return 1

    state = deleted_soon(return_state=True)
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        client.delete_flow_run(run_id)
    return str(run_id)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@contextlib.contextmanager
def _prefect_settings(values: dict[str, str]) -> Iterator[None]:
    """The Prefect settings of `values` for this process too, where Prefect is imported."""
    if "PREFECT_API_URL" not in values or "prefect.settings" not in sys.modules:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: values["PREFECT_API_URL"]}):
        yield


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_is_a_kit_error_naming_its_thing_and_fix_and_changes_no_file(
    case: Case, project: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = request.getfixturevalue("shell") if case.front != "cli" else None
    settings: dict[str, str] = {}
    for name, value in case.env:
        urls = {
            "api": request.getfixturevalue("stand_in_api") if "{api}" in value else "",
            "closed": _closed_port_url(),
            "prefect": request.getfixturevalue("loop_api") if "{prefect}" in value else "",
        }
        settings[name] = value.format(**urls)
        monkeypatch.setenv(name, settings[name])
    if any("{deleted_run}" in step for step in case.steps):
        run = request.getfixturevalue("deleted_run")
        case = replace(
            case,
            steps=tuple(step.replace("{deleted_run}", run) for step in case.steps),
            says=tuple(words.replace("{deleted_run}", run) for words in case.says),
        )
    if case.setup is not None:
        case.setup(project)
    with _prefect_settings(settings):  # what a Prefect harness earlier in the session set wins
        error = _error_of(case, shell, project)
    assert isinstance(error, case.error), f"expected {case.error.__name__}, got {error!r}"
    text = str(error)
    for words in case.says:
        assert words in text, f"{words!r} not in {text!r}"
    assert error.hint, f"no hint says what to do: {text!r}"
