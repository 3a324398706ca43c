"""kit's processes defer the IRI grammar that jsonschema imports, and still check IRIs alike.

Each case runs in a fresh interpreter: what is imported is a property of a whole process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GRAMMAR = "rfc3987_syntax.syntax_helpers"  # the module that builds the parser as it is imported


def python(code: str, cwd: Path | None = None) -> dict[str, object]:
    """What `code` (which sets the dict `found`) found, run in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json; print(json.dumps(found))"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


CHECKS = """
from jsonschema import Draft202012Validator
checker = Draft202012Validator.FORMAT_CHECKER
found["loaded before a check"] = GRAMMAR in sys.modules
found["answers"] = [
    Draft202012Validator({"format": kind}, format_checker=checker).is_valid(value)
    for kind, value in [
        ("iri", "https://example.org/été"),
        ("iri", "no scheme here"),
        ("iri-reference", "../a/b?c#d"),
        ("iri-reference", "bad ref <>"),
    ]
]
found["loaded after"] = GRAMMAR in sys.modules
"""


def test_iri_formats_are_checked_alike_with_the_grammar_deferred() -> None:
    prologue = f"import sys\nGRAMMAR = {GRAMMAR!r}\nfound = {{}}\n"
    deferred = python(
        prologue + "from kit.deferred_imports import defer_iri_grammar\n"
        "defer_iri_grammar()\nimport jsonschema\n" + CHECKS
    )
    plain = python(prologue + "import jsonschema\n" + CHECKS)
    assert plain["loaded before a check"] is True, "jsonschema builds the grammar as it imports"
    assert deferred["loaded before a check"] is False
    assert deferred["answers"] == plain["answers"] == [True, False, True, False]
    assert deferred["loaded after"] is True, "the first IRI check loaded the real grammar"


def test_kit_commands_read_notebooks_without_building_the_grammar(tmp_path: Path) -> None:
    found = python(
        "import os, sys\nfrom kit.cli import main\n"
        "found = {'init': main(['init', 'project'])}\nos.chdir('project')\n"
        "found |= {'export': main(['export']), 'check': main(['check'])}\n"
        f"found['nbformat'] = 'nbformat' in sys.modules\nfound['grammar'] = {GRAMMAR!r} in "
        "sys.modules",
        cwd=tmp_path,
    )
    assert found == {"init": 0, "export": 0, "check": 0, "nbformat": True, "grammar": False}
