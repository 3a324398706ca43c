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


KERNEL = """
import json, os, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in json.load(open(os.environ["JPY_SESSION_NAME"]))["cells"]:
    assert shell.run_cell("".join(cell["source"])).success
found = {"flow": os.path.exists("flows/doubled.py"), "jsonschema": "jsonschema" in sys.modules}
found["grammar"] = GRAMMAR in sys.modules
"""


def test_a_validated_kernel_that_promotes_does_not_build_the_grammar(
    tmp_path: Path, monkeypatch
) -> None:
    import nbformat

    from kit.cli import main

    assert main(["init", str(tmp_path / "project")]) == 0
    notebook = tmp_path / "project" / "notebooks" / "promoting.ipynb"
    cells = [
        "%load_ext kit",
        "%%hamilton doubling\ndef total(count: int) -> int:\n    return count * 2\n",
        "%hamilton_promote doubled --outputs total",
    ]
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), notebook
    )
    monkeypatch.chdir(notebook.parent.parent)
    assert main(["export"]) == 0  # what a validated notebook needs: its files up to date
    # the kernel as `kit validate` and `kit submit` start it: told its notebook, validating
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    monkeypatch.setenv("KIT_VALIDATE", "1")
    found = python(f"GRAMMAR = {GRAMMAR!r}\n" + KERNEL, cwd=tmp_path / "project")
    assert found == {"flow": True, "jsonschema": True, "grammar": False}
