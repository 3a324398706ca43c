"""Hostile names and values never become code: each is refused (a kit error, no file written) or
escaped into a literal.

Every case is a notebook exported by `kit export` (or a `kit promote` command) in a project of its
own. Every file it generates must parse (`ast.parse`), hold no raw control or bidi character, call
nothing that reads or writes files, and import in a fresh interpreter without touching the
case's canary file: the payloads all try to create it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import forget_project_modules, write_project

import kit.project
from kit.cli import _run, build_parser
from kit.errors import KitError, unsafe_character
from kit.workspace import reset_workspace

from .support import tree_hash, write_notebook

CANARY = "canary-touched"
TOUCH = f"__import__('pathlib').Path('{CANARY}').touch()"
PREP = "%%hamilton prep\ndef base() -> int:\n    return 1\n"
NB = "notebooks/nb.ipynb"
CALLS_REFUSED = {"__import__", "exec", "eval", "compile", "open", "system", "touch"}


@dataclass(frozen=True)
class Hostile:
    """A notebook (its cells, then its parameters cell) and the command run on it."""

    id: str
    cells: tuple[str, ...]
    argv: tuple[str, ...] = ("export", NB)
    parameters: str | None = None


CASES = [
    Hostile(
        "flow-name-quote-injection", (PREP, f'%hamilton_promote "f\'); {TOUCH}; #" --outputs base')
    ),
    Hostile("flow-name-newline", (PREP,), ("promote", NB, f"f\n{TOUCH}", "--outputs", "base")),
    Hostile("flow-name-dunder-import", (PREP, "%hamilton_promote __import__ --outputs base")),
    Hostile("flow-name-look-alike", (PREP, "%hamilton_promote fl\u043ew --outputs base")),
    Hostile("flow-name-very-long", (PREP, f"%hamilton_promote {'f' * 300} --outputs base")),
    Hostile(
        "output-name-injection", (PREP, f'%hamilton_promote f --outputs "base\'); {TOUCH}; #"')
    ),
    Hostile(
        "task-name-injection",
        (PREP, f'%hamilton_promote f --outputs base --task "t\'); {TOUCH}; #=base"'),
    ),
    Hostile(
        "task-name-newline",
        (PREP,),
        ("promote", NB, "f", "--outputs", "base", "--task", f"t\n{TOUCH}=base"),
    ),
    Hostile(
        "tag-quote-injection", (PREP, f'%hamilton_promote f --outputs base --tag "\'); {TOUCH}; #"')
    ),
    Hostile(
        "tag-triple-quotes",
        (PREP, f'%hamilton_promote f --outputs base --tag \'"""; {TOUCH}; """\''),
    ),
    Hostile("tag-backslash", (PREP, "%hamilton_promote f --outputs base --tag 'end\\\\'")),
    Hostile(
        "tag-fstring-braces", (PREP, f"%hamilton_promote f --outputs base --tag '{{{TOUCH}}}'")
    ),
    Hostile(
        "tag-newline", (PREP,), ("promote", NB, "f", "--outputs", "base", "--tag", f"a\n{TOUCH}")
    ),
    Hostile("tag-bidi-override", (PREP, "%hamilton_promote f --outputs base --tag 'a\u202e#b'")),
    Hostile("tag-nul", (PREP,), ("promote", NB, "f", "--outputs", "base", "--tag", "a\x00b")),
    Hostile("tag-very-long", (PREP, f"%hamilton_promote f --outputs base --tag {'t' * 5000}")),
    Hostile(
        "config-value-injection",
        (
            f'%hamilton_config {{"k": "\'); {TOUCH}; #"}}',
            PREP,
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "config-value-bidi-escape",
        (
            '%hamilton_config {"k": "a\\u202eb\\u0000c\\u2028"}',
            PREP,
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "config-key-injection",
        (f'%hamilton_config {{"k\'): {TOUCH} #": 1}}', PREP, "%hamilton_promote f --outputs base"),
    ),
    Hostile(
        "config-key-newline",
        (f'%hamilton_config {{"k\\n{TOUCH}": 1}}', PREP, "%hamilton_promote f --outputs base"),
    ),
    Hostile(
        "config-from-parameter",
        ("%hamilton_config k=$name", PREP, "%hamilton_promote f --outputs base"),
        parameters=f'name = "\'); {TOUCH}; #"',
    ),
    Hostile(
        "cell-config-bidi", ("%%hamilton prep -c 'k=a\u202eb'\ndef base() -> int:\n    return 1\n",)
    ),
    Hostile("module-name-injection", (f'%%hamilton "m; {TOUCH}"\nx = 1\n',)),
    Hostile(
        "module-name-look-alike", ("%%hamilton d\u0430ta\ndef base() -> int:\n    return 1\n",)
    ),
    Hostile(
        "default-quote-injection",
        (
            f'%%hamilton prep\ndef base(rows: str = "\'); {TOUCH}; #") -> str:\n    return rows\n',
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "default-triple-quotes",
        (
            f'%%hamilton prep\ndef base(rows: str = \'"""; {TOUCH}; """\') -> str:\n'
            "    return rows\n",
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "default-bidi-escape",
        (
            "%%hamilton prep\ndef base(rows: str = '\\u202e\\x00') -> str:\n    return rows\n",
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "docstring-triple-quotes",
        (
            f"%%hamilton prep\ndef base() -> int:\n    '''Ends \"\"\"; {TOUCH}; \"\"\" here.'''\n"
            "    return 1\n",
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "input-named-like-the-flow-config",
        (
            "%%hamilton prep\ndef base(hamilton_config: int) -> int:\n    return hamilton_config\n",
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "input-named-like-an-import",
        (
            "%%hamilton prep\ndef base(flow: int, task: int, Any: int) -> int:\n    return flow\n",
            "%hamilton_promote f --outputs base",
        ),
    ),
    Hostile(
        "retry-delay-infinite",
        (PREP, "%hamilton_promote f --outputs base --retries 1 --retry-delay inf"),
    ),
    Hostile(
        "retry-delay-nan",
        (PREP, "%hamilton_promote f --outputs base --retries 1 --retry-delay nan"),
    ),
    Hostile(
        "cell-comment-bidi",
        ("%%hamilton prep\ndef base() -> int:\n    return 1  # \u202e } \u2066\n",),
    ),
]


@dataclass(frozen=True)
class Outcome:
    """What kit did with a case: the error it raised, or the generated files it wrote."""

    root: Path
    error: KitError | None
    changed: list[str]


def _generated(root: Path) -> list[Path]:
    """The generated Python files under modules/ and flows/ (not the empty package files)."""
    return [
        path
        for folder in ("modules", "flows")
        for path in sorted((root / folder).glob("*.py"))
        if path.name != "__init__.py"
    ]


def _run_case(case: Hostile, root: Path) -> Outcome:
    """Write the case's project and notebook, run its command in-process, say what happened."""
    write_project(root)
    write_notebook(root / NB, "%load_ext kit", *case.cells, parameters=case.parameters)
    before = tree_hash(root)
    os.chdir(root)
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    reset_workspace()
    try:
        _run(build_parser().parse_args(list(case.argv)))
        error = None
    except KitError as raised:
        error = raised
    finally:
        forget_project_modules()
    after = tree_hash(root)
    return Outcome(root, error, sorted(k for k in after if before.get(k) != after[k]))


IMPORT_ALL = """\
import importlib.util, json, os, sys
for root in sys.argv[1:]:
    os.chdir(root)
    sys.path.insert(0, root)
    for name in [n for n in sys.modules if n.split(".")[0] in ("modules", "flows")]:
        del sys.modules[name]
    for folder in ("modules", "flows"):
        for file in sorted(os.listdir(folder)):
            if file.endswith(".py") and file != "__init__.py":
                importlib.import_module(f"{folder}.{file[:-3]}")
    sys.path.remove(root)
print("imported")
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every case run; then every generated file imported in one fresh interpreter."""
    base = tmp_path_factory.mktemp("hostile")
    home, path = os.getcwd(), list(sys.path)
    try:
        found = {case.id: _run_case(case, base / case.id) for case in CASES}
    finally:
        os.chdir(home)
        sys.path[:] = path
        kit.project._find_cached.cache_clear()
        reset_workspace()
    written = [str(o.root) for o in found.values() if o.error is None]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *written], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-3000:]
    yield found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_name_is_refused_or_escaped_and_never_runs(
    case: Hostile, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[case.id]
    assert not (outcome.root / CANARY).exists(), "a generated file ran the payload"
    if outcome.error is not None:
        assert outcome.changed == [], f"refused ({outcome.error}) yet files changed"
        assert outcome.error.hint, str(outcome.error)
        return
    files = _generated(outcome.root)
    assert files, "nothing refused and nothing generated"
    for path in files:
        text = path.read_text()
        assert unsafe_character(text) is None, f"{path.name}: raw {text[unsafe_character(text)]!r}"
        tree = ast.parse(text, filename=str(path))
        if path.name == "_runtime.py":  # kit's fixed helper module: no name of the case is in it
            continue
        called = {
            node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        assert not called & CALLS_REFUSED, f"{path.name} calls {called & CALLS_REFUSED}"


def test_the_corpus_has_at_least_25_cases() -> None:
    assert len(CASES) >= 25 and len({case.id for case in CASES}) == len(CASES)
