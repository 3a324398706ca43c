"""`kit diff [REV]`: the DAG at a git revision against the working tree, across notebooks,
modules and flows.

The revision's side is what its generated files record: the code versions in the headers of its
modules/ and flows/ files, read with `git cat-file` (nothing of the revision is imported or run).
The working tree's side is what each notebook derives now, built without a kernel as `kit export`
builds it, so an edit not exported yet shows too. Headers rather than a build of the revision's
notebooks: such a build would import the working tree's modules for its `%hamilton_use` lines (or
need a checkout and a process of its own) and run the revision's code; since `kit check` keeps the
headers equal to what the notebooks derive, a commit that passed it records its DAG exactly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import generated, versions
from kit.errors import KitError
from kit.project import Project, require_project
from kit.promote import runtime
from kit.sync import derive, drift_of, project_notebooks

SAME_DAG = "text changed, same DAG"  # docstrings, comments, functions moved between cells


@dataclass(frozen=True)
class DiffReport:
    """What differs between revision `rev` and the working tree."""

    rev: str
    changes: Sequence[versions.DagChanges]  # per notebook, its DAG (and flows) since `rev`
    files: Mapping[str, str]  # generated file -> how it differs from `rev` (see FILE_STATES)
    unexported: Sequence[str]  # files on disk that differ from what their notebook derives

    @property
    def differs(self) -> bool:
        """True when the DAG differs: a function, a task rerun, a file added, removed or remade.

        A file whose text alone changed (a docstring, a comment) leaves the DAG as it was.
        """
        return bool(self.changes) or any(state != SAME_DAG for state in self.files.values())

    def text(self) -> str:
        """The report as `kit diff` prints it."""
        lines = [line for found in self.changes for line in found.lines(self.rev)]
        lines += [f"{path}: {state} since {self.rev}" for path, state in self.files.items()]
        lines += [
            f"{path}: differs from what its notebook derives (run `kit export`)"
            for path in self.unexported
        ]
        return "\n".join(lines or [f"kit diff: no change since {self.rev}"])

    def as_json(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "differs": self.differs,
            "notebooks": [found.as_json() for found in self.changes],
            "files": dict(self.files),
            "unexported": list(self.unexported),
        }


def _git(root: Path, *arguments: str, stdin: bytes | None = None) -> bytes:
    try:
        completed = subprocess.run(["git", *arguments], cwd=root, input=stdin, capture_output=True)
    except FileNotFoundError:
        raise KitError("kit diff needs git, which is not on PATH", hint="install git") from None
    if completed.returncode != 0:
        raise KitError(
            f"git {' '.join(arguments[:2])} failed in {root}: "
            f"{completed.stderr.decode(errors='replace').strip()}",
            hint="run kit diff inside a git repository",
        )
    return completed.stdout


def _commit(root: Path, rev: str) -> str:
    """The commit that `rev` names."""
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except KitError as error:
        raise KitError(
            f"kit diff: {rev!r} names no commit of the repository at {root}",
            hint="give a branch, a tag or a commit (default HEAD; a new repository needs a commit)",
        ) from error


def headers_at(project: Project, rev: str) -> dict[str, generated.Header]:
    """The headers of the generated files under modules/ and flows/ at `rev`, by path."""
    root = project.root
    commit = _commit(root, rev)
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    folders = [project.relative(project.modules), project.relative(project.flows)]
    listed = _git(root, "ls-tree", "-r", "--name-only", "--full-name", commit, "--", *folders)
    paths = [p for p in listed.decode().splitlines() if p.endswith(".py")]
    if not paths:
        return {}
    batch = _git(
        root, "cat-file", "--batch", stdin="".join(f"{commit}:{p}\n" for p in paths).encode()
    )
    found = {}
    position = 0
    for path in paths:  # each blob: "<sha> blob <size>\n<content>\n"
        end = batch.index(b"\n", position)
        size = int(batch[position:end].split()[2])
        text = batch[end + 1 : end + 1 + size].decode(errors="replace")
        position = end + 1 + size + 1
        parsed = generated.parse(text)
        if parsed is not None:
            found[path.removeprefix(prefix)] = parsed[0]
    return found


def diff(rev: str = "HEAD") -> DiffReport:
    """The DAG changes and the generated files that differ between `rev` and the working tree."""
    project = require_project()
    before = headers_at(project, rev)
    derivations = [derive(notebook) for notebook in project_notebooks(project)]
    changes = []
    changed = set()  # the notebooks whose DAG changed
    for derivation in derivations:
        found = derivation.changes(before)
        if found:
            changes.append(found)
            changed.add(derivation.source)
    derived = {d.source for d in derivations}
    helper = project.relative(runtime.runtime_path(project))  # no notebook owns it
    named = {h.notebook for path, h in before.items() if h.notebook and path != helper}
    for notebook in sorted(named - derived):
        gone = versions.record({p: h for p, h in before.items() if h.source == notebook})
        changes.append(versions.compare(notebook, gone, versions.record({}), {}))
    now = {d.relative(path): text for d in derivations for path, text in d.wanted.items()}
    files = {path: "added" for path in sorted(set(now) - set(before))}
    for path, header in before.items():
        if path not in now:
            on_disk = (project.root / path).is_file()
            files[path] = "no longer derived (orphaned)" if on_disk else "removed"
            continue
        parsed = generated.parse(now[path])
        if parsed is None or parsed[0] == header:
            continue
        if parsed[0].recipe != header.recipe:
            files[path] = f"made by `{parsed[0].recipe}`, was `{header.recipe}`"
        elif header.source in changed:
            files[path] = "changed"
        else:  # a docstring, a comment, a function moved to another cell
            files[path] = SAME_DAG
    unexported = [d.relative(item.path) for d in derivations for item in drift_of(d)]
    return DiffReport(rev, changes, files, sorted(set(unexported)))
