"""`kit validate`: run notebooks with papermill in this environment's kernel, and check what
they derive.

A notebook passes when every cell runs clean (the kernel knows its notebook from JPY_SESSION_NAME
and that it validates from KIT_VALIDATE=1, so it writes no generated file) and the modules and
flows it owns match it. Every executed notebook is kept under the --out folder, also when it failed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.parameters import KERNEL_NAME, LANGUAGE, collect_parameters, notebook_parameters
from kit.project import find_project

HEAD_LINES = 4
DIFF_LINES = 20


@dataclass(frozen=True)
class CellFailure:
    """The cell a run stopped at (its index in the notebook as saved) and the error it gave."""

    index: int | None  # None: papermill's injected-parameters cell, or no cell had started
    source: str
    ename: str
    evalue: str

    @property
    def where(self) -> str:
        return "the injected parameters cell" if self.index is None else f"cell {self.index}"

    def head(self, lines: int = HEAD_LINES) -> str:
        """The first lines of the cell's text."""
        text = self.source.splitlines()
        return "\n".join(text[:lines] + (["..."] if len(text) > lines else []))


@dataclass(frozen=True)
class NotebookReport:
    """How one notebook fared: its run, where it stopped, what drifted, its executed copy."""

    notebook: Path
    parameters: dict[str, Any]
    executed: Path
    duration: float
    failure: CellFailure | None = None
    drift: tuple[Any, ...] = ()  # kit.sync.Drift: path, state, diff, command
    error: str | None = None  # the drift check itself could not run
    kernel_log: Path | None = None  # what the kernel process itself wrote, kept when it died

    @property
    def passed(self) -> bool:
        return self.failure is None and not self.drift and self.error is None

    def text(self) -> str:
        """The report as the command line prints it."""
        status = "PASSED" if self.passed else "FAILED"
        lines = [
            f"{status} {_shown(self.notebook)} in {self.duration:.1f} s; "
            f"executed notebook: {_shown(self.executed)}"
        ]
        if self.parameters:
            lines.append(
                "  parameters: " + ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
            )
        if self.failure is not None:
            lines.append(f"  {self.failure.where} failed:")
            lines += [f"  | {line}" for line in self.failure.head().splitlines()]
            lines.append(f"  {self.failure.ename}: {self.failure.evalue}")
            if self.kernel_log is not None:
                lines.append(f"  kernel log: {_shown(self.kernel_log)}")
        for item in self.drift:
            lines.append(f"  {_shown(Path(item.path))} {_state(item)}; fix: {item.command}")
            diff = item.diff.splitlines()
            lines += [f"    {line}" for line in diff[:DIFF_LINES]]
            if len(diff) > DIFF_LINES:
                lines.append(f"    ... ({len(diff) - DIFF_LINES} more diff lines)")
        if self.error is not None:
            lines += [f"  {line}" for line in self.error.splitlines()]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The report as a markdown section (a Prefect artifact, a pytest failure)."""
        status = "passed" if self.passed else "**failed**"
        lines = [
            f"### `{_shown(self.notebook)}`: {status}",
            "",
            f"- executed notebook: `{self.executed}`",
            f"- duration: {self.duration:.1f} s",
            "- parameters: "
            + (", ".join(f"`{k}={v!r}`" for k, v in self.parameters.items()) or "the defaults"),
        ]
        if self.failure is not None:
            lines += [
                f"- {self.failure.where} failed with `{self.failure.ename}: {self.failure.evalue}`",
                "",
                "```python",
                self.failure.head(),
                "```",
            ]
        for item in self.drift:
            lines.append(f"- `{item.path}` {_state(item)}; fix: `{item.command}`")
        if self.error is not None:
            lines += ["", "```", self.error, "```"]
        return "\n".join(lines)


@dataclass(frozen=True)
class ValidationReport:
    """The reports of every notebook validated, in the order they were named."""

    notebooks: tuple[NotebookReport, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.notebooks)

    @property
    def failed(self) -> list[NotebookReport]:
        return [report for report in self.notebooks if not report.passed]

    def __iter__(self) -> Iterator[NotebookReport]:
        return iter(self.notebooks)

    def __len__(self) -> int:
        return len(self.notebooks)

    def __getitem__(self, index: int) -> NotebookReport:
        return self.notebooks[index]

    def summary(self) -> str:
        passed = len(self.notebooks) - len(self.failed)
        plural = "s" if len(self.notebooks) != 1 else ""
        return f"{passed} of {len(self.notebooks)} notebook{plural} passed"

    def text(self) -> str:
        return "\n".join([*(report.text() for report in self.notebooks), self.summary()])

    def markdown(self) -> str:
        return "\n\n".join(
            ["## kit validation", self.summary(), *(report.markdown() for report in self.notebooks)]
        )

    def __str__(self) -> str:
        return self.text()


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _state(drift: Any) -> str:
    return str(getattr(drift.state, "value", drift.state))


@dataclass(frozen=True)
class _Job:
    """One notebook to validate, as handed to a worker process."""

    notebook: Path
    parameters: dict[str, Any]
    executed: Path
    timeout: float | None
    progress_position: int | None  # None: no progress bar
    kernel_env: tuple[tuple[str, str], ...] = ()  # added to the kernel's environment


def validate(
    notebooks: str | Path | Iterable[str | Path],
    parameters: Mapping[str, Any] | None = None,
    *,
    parameters_file: str | Path | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    kernel_env: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Run each notebook with papermill, then check its modules and flows; the report of them all.

    `parameters` (already typed) override those of `parameters_file`; every name must be one the
    notebook's parameters cell defines, or nothing runs. `jobs` notebooks run at once, in separate
    processes; `timeout` bounds each cell in seconds; executed notebooks go under `out` (default
    the project's runs/ folder). `kernel_env` is added to each kernel's environment (`kit submit`
    gives it the Prefect API the runs go to, where `secret:NAME` config values load from).
    """
    paths = (
        [Path(notebooks)] if isinstance(notebooks, (str, Path)) else [Path(n) for n in notebooks]
    )
    if not paths:
        raise KitError("no notebook to validate", hint="name one or more .ipynb files")
    if jobs < 1:
        raise KitError(f"--jobs {jobs} is not a number of processes", hint="give 1 or more")
    if timeout is not None and timeout <= 0:
        raise KitError(
            f"--timeout {timeout} is not a number of seconds", hint="give a positive number"
        )
    values = collect_parameters(file=parameters_file) if parameters_file else {}
    values.update(parameters or {})
    found = [notebook for path in paths for notebook in _notebooks_at(path)]
    resolved = list(dict.fromkeys(found))  # each notebook once
    declared = {notebook: notebook_parameters(notebook) for notebook in resolved}
    for notebook, cell in declared.items():
        cell.check(notebook, values)
    folder = _out_folder(resolved[0], out)
    run_jobs = [
        _Job(
            notebook=notebook,
            parameters=declared[notebook].conform(values),
            executed=_executed_path(folder, notebook),
            timeout=timeout,
            progress_position=(index % jobs) if progress else None,
            kernel_env=tuple(sorted((kernel_env or {}).items())),
        )
        for index, notebook in enumerate(resolved)
    ]
    if jobs == 1 or len(run_jobs) == 1:
        return ValidationReport(tuple(_validate_one(job) for job in run_jobs))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    main = sys.modules["__main__"]
    if not hasattr(
        main, "__spec__"
    ):  # IPython's user module (in a kernel) has none; spawn reads it
        main.__spec__ = None

    from kit.deferred_imports import defer_iri_grammar

    with ProcessPoolExecutor(
        max_workers=min(jobs, len(run_jobs)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=defer_iri_grammar,
    ) as pool:
        return ValidationReport(tuple(pool.map(_validate_one, run_jobs)))


def _notebooks_at(path: Path) -> list[Path]:
    """The notebook `path` names, or the notebooks in the folder `path` (not in its subfolders,
    such as .ipynb_checkpoints), in name order."""
    if not path.is_dir():
        return [_check_notebook(path)]
    notebooks = sorted(
        found.resolve() for found in path.glob("*.ipynb") if not found.name.startswith(".")
    )
    if not notebooks:
        raise KitError(f"no notebook (.ipynb) in the folder {path}", hint="name a notebook file")
    return notebooks


def _check_notebook(path: Path) -> Path:
    if path.suffix != ".ipynb":
        raise KitError(
            f"{path} is not a notebook (.ipynb)", hint="name the notebook file to validate"
        )
    if not path.is_file():
        raise KitError(f"no notebook at {path}", hint="check the path")
    return path.resolve()


def _out_folder(notebook: Path, out: str | Path | None) -> Path:
    if out is not None:
        return Path(out).resolve()
    project = find_project(notebook.parent)
    return (project.root if project else Path.cwd()) / "runs"


def _executed_path(folder: Path, notebook: Path) -> Path:
    """Where the executed copy goes: its path below the project root, mirrored under `folder`."""
    project = find_project(notebook.parent)
    if project is not None and notebook.is_relative_to(project.root):
        return folder / notebook.relative_to(project.root)
    return folder / notebook.name


def _validate_one(job: _Job) -> NotebookReport:
    """Run one notebook and check its drift meanwhile (it reads only files that the run does not
    write); the drift counts when the run was clean."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kit-drift") as checking:
        checked = checking.submit(_drift, job.notebook)
        failure, kernel_log = _run(job)
        drift, error = checked.result()
    if failure is not None:
        drift, error = (), None
    return NotebookReport(
        notebook=job.notebook,
        parameters=job.parameters,
        executed=job.executed,
        duration=time.monotonic() - started,
        failure=failure,
        drift=drift,
        error=error,
        kernel_log=kernel_log,
    )


def _drift(notebook: Path) -> tuple[tuple[Any, ...], str | None]:
    """The generated files that differ from what `notebook` derives, or why that check failed."""
    from kit.sync import drift

    try:
        return tuple(drift(notebook)), None
    except KitError as kit_error:
        return (), f"checking modules and flows against the notebook failed: {kit_error}"


def _run(job: _Job) -> tuple[CellFailure | None, Path | None]:
    """Execute the notebook with papermill; the failure (if any), the kernel's log (if it died)."""
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    job.executed.parent.mkdir(parents=True, exist_ok=True)
    log = job.executed.with_suffix(".kernel.log")
    cells: list[tuple[int, Any]] = []
    bar: bool | dict[str, Any] = False
    if job.progress_position is not None:
        bar = {"desc": job.notebook.name, "position": job.progress_position, "leave": True}
    try:
        papermill.execute_notebook(
            str(job.notebook),
            str(job.executed),
            parameters=job.parameters or None,
            kernel_name=KERNEL_NAME,
            language=LANGUAGE,
            cwd=str(job.notebook.parent),
            progress_bar=bar,
            execution_timeout=job.timeout,
            kernel_manager_class=_kernel_manager_class(
                {
                    **dict(job.kernel_env),
                    "JPY_SESSION_NAME": str(job.notebook),
                    "KIT_VALIDATE": "1",
                },
                log,
            ),
            on_cell_start=lambda cell, cell_index: cells.append((cell_index, cell)),
        )
        failure = None
    except PapermillExecutionError as error:
        failure = _failure(job.notebook, cells, error.ename, error.evalue)
    except CellTimeoutError:
        failure = _failure(
            job.notebook,
            cells,
            "CellTimeoutError",
            f"the cell ran longer than {job.timeout:g} s (--timeout)",
        )
    except DeadKernelError:
        failure = _failure(
            job.notebook, cells, "DeadKernelError", "the kernel died while the cell ran"
        )
    if (
        failure is None or failure.ename != "DeadKernelError"
    ):  # only a dead kernel's own output explains it
        log.unlink(missing_ok=True)
    if (
        not job.executed.exists()
    ):  # papermill saves as it goes; make sure a copy is there whatever happened
        nbformat.write(nbformat.read(str(job.notebook), as_version=4), str(job.executed))
    return failure, (log if log.exists() else None)


def _failure(
    notebook: Path, cells: Sequence[tuple[int, Any]], ename: str, evalue: str
) -> CellFailure:
    """The failure at the last cell that started, indexed as in the notebook on disk.

    papermill inserts its injected-parameters cell after the parameters cell (or replaces one the
    notebook already has); cells after an inserted one are one further down in the executed copy.
    """
    if not cells:
        return CellFailure(index=None, source="", ename=ename, evalue=evalue)
    index, cell = cells[-1]
    if _injected(cell):
        return CellFailure(index=None, source=cell.source, ename=ename, evalue=evalue)
    inserted = [i for i, c in cells if _injected(c)]
    if inserted and inserted[0] < index and not _source_has_injected_cell(notebook):
        index -= 1
    return CellFailure(index=index, source=cell.source, ename=ename, evalue=evalue)


def _injected(cell: Any) -> bool:
    return "injected-parameters" in cell.get("metadata", {}).get("tags", [])


def _source_has_injected_cell(notebook: Path) -> bool:
    import nbformat

    return any(_injected(cell) for cell in nbformat.read(str(notebook), as_version=4).cells)


def _kernel_manager_class(env: Mapping[str, str], log: Path) -> type:
    """A kernel manager for the IPython kernel of this Python environment, with `env` added to the
    kernel's environment and its own output (not the cells') appended to `log`.

    It ignores installed kernelspecs: a user-level `python3` spec may point at another Python.
    """
    import zmq
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class ValidationKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            return KernelSpec(resource_dir="", **get_kernel_dict())

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]  # papermill awaits it with keywords only
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            if zmq.has(
                "curve"
            ):  # this environment's ipykernel takes CurveZMQ keys: encrypt, and no warning
                kw.setdefault("transport_encryption", "auto")
            with log.open("ab") as stream:
                await super().start_kernel(stdout=stream, stderr=stream, **kw)

    return ValidationKernelManager
