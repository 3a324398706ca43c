"""The panel beside the DAG: the selection, what will run, and the Run, Promote and Submit buttons.

Plain ipywidgets. A button's `on_click` handler that raises only reaches JupyterLab's log
console, so every handler here shows its error in the panel instead (see `_shown_in`).
"""

from __future__ import annotations

import functools
import html
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from IPython.display import HTML

from kit.errors import KitError
from kit.grammar import RUNNERS, STRATEGIES
from kit.watch import SubmitStream, collect, log_html, summary_html
from kit.widget._command_line import CommandLine
from kit.widget._kernel import describe_error, ipython_shell

if TYPE_CHECKING:
    from kit.widget import DagWidget


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _names(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(_code(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _error_html(text: str) -> str:
    return f'<pre class="kit-panel-error">{html.escape(text)}</pre>'


def _shown_in(
    place: Callable[[Panel], w.HTML],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run a handler; put any exception it raises into the panel's HTML `place`, not the log."""

    def decorate(handler: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(handler)
        def guarded(self: Panel, *args: Any) -> None:
            target = place(self)
            target.value = ""
            try:
                handler(self, *args)
            except Exception as error:
                target.value = _error_html(describe_error(error))

        return guarded

    return decorate


# a run of kit submit's summary: `flow FLOW[ (deployment D)]: run 'NAME' ID: STATE`
RUN_LINE = re.compile(r"flow (\S+)(?: \(deployment [^)]*\))?: run '(.+)' ([0-9a-f-]{36}): (\w+)")


class Panel:
    """The ipywidgets of one DagWidget; `box` is what is displayed beside the graph."""

    def __init__(self, widget: DagWidget) -> None:
        self.widget = widget
        self.selection = w.HTML()
        self.will_run = w.HTML()

        self.run_button = w.Button(
            description="Run",
            button_style="primary",
            icon="play",
            tooltip="Execute the selected outputs in this kernel",
        )
        self.run_error = w.HTML()
        self.results = w.Output()
        run_tab = w.VBox([self.run_button, self.run_error, self.results])

        auto = w.Layout(width="auto")
        self.flow_name = w.Text(
            placeholder="flow name, e.g. train_model", description="Flow", layout=auto
        )
        self.strategy = w.Dropdown(
            options=STRATEGIES, value="by-module", description="Tasks", layout=auto
        )
        self.runner = w.Dropdown(
            options=RUNNERS,
            value=RUNNERS[0],
            description="Runner",
            tooltip="threads: Prefect's default; dask: the tasks run on a Dask cluster",
            layout=auto,
        )
        self.promote_button = w.Button(
            description="Promote to flow",
            button_style="success",
            icon="upload",
            tooltip="Write flows/FLOW.py for the selection",
        )
        self.promote_error = w.HTML()
        self.promote_result = w.HTML()
        self.promote_line = CommandLine()
        self.task_graph = w.HTML()
        promote_tab = w.VBox(
            [
                self.flow_name,
                self.strategy,
                self.runner,
                self.task_graph,
                self.promote_button,
                self.promote_error,
                self.promote_result,
                self.promote_line,
            ]
        )

        self.submit_button = w.Button(
            description="Submit",
            button_style="warning",
            icon="paper-plane",
            tooltip="kit submit on this notebook as saved",
        )
        self.submit_note = w.HTML(
            "<small>Runs <code>kit submit</code> on the notebook file as saved: "
            "save it first.</small>"
        )
        self.submit_flows = w.VBox()  # a checkbox per flow the notebook owns
        self.submit_status = w.HTML()
        self.submit_phases = w.HTML()
        self.submit_summary = w.HTML()
        self.submit_error = w.HTML()
        self.submit_log = w.HTML()
        self.pull_buttons = w.HBox()  # "Pull this run", once a submitted run has ended
        self.pulled = w.HTML()
        submit_tab = w.VBox(
            [
                self.submit_note,
                self.submit_flows,
                self.submit_button,
                self.submit_status,
                self.submit_phases,
                self.submit_summary,
                self.submit_error,
                self.pull_buttons,
                self.pulled,
                self.submit_log,
            ]
        )

        self.tabs = w.Tab(children=[run_tab, promote_tab, submit_tab])
        self.tabs.titles = ("Run", "Promote", "Submit")
        self.box = w.VBox(
            [w.HTML("<b>Selection</b>"), self.selection, self.will_run, self.tabs],
            layout=w.Layout(width="340px", min_width="340px", padding="0 0 0 8px"),
        )
        self.box.add_class("kit-panel")

        self.run_button.on_click(lambda _: self.run())
        self.promote_button.on_click(lambda _: self.promote())
        self.submit_button.on_click(lambda _: self.submit())
        widget.observe(lambda _: self.update(), names=["selected", "graph"])
        self.strategy.observe(lambda _: self.preview(), names="value")
        self.flow_name.observe(lambda _: self.preview(), names="value")
        self.tabs.observe(lambda _: self.preview(), names="selected_index")
        self.tabs.observe(lambda _: self.list_flows(), names="selected_index")
        self._submitting: threading.Thread | None = None
        self.update()

    # -- what the selection means -------------------------------------------------------------

    def update(self) -> None:
        """Show the selection and what running it takes; refresh the task preview."""
        selected = list(self.widget.selected)
        if not selected:
            self.selection.value = "<i>Click nodes in the graph to select outputs.</i>"
            self.will_run.value = ""
        else:
            self.selection.value = _names(selected)
            self._describe_run()
        self.preview()

    @_shown_in(lambda panel: panel.run_error)
    def _describe_run(self) -> None:
        self.will_run.value = ""
        ws = self.widget.workspace
        steps = self.widget.will_run()
        text = f"<b>Will run</b> {len(steps)} node{'s' if len(steps) != 1 else ''}: {_names(steps)}"
        missing = ws.graph().required_inputs(self.widget.selected, given=ws.config)
        if missing:
            have = _user_namespace()
            text += "<br><b>Inputs</b> " + ", ".join(
                _code(name) + (" (from the notebook)" if name in have else " <b>(missing)</b>")
                for name in missing
            )
        self.will_run.value = text

    # -- Run ------------------------------------------------------------------------------------

    @_shown_in(lambda panel: panel.run_error)
    def run(self) -> None:
        """Execute the selection (missing inputs from notebook variables); show the results."""
        ws = self.widget.workspace
        outputs = list(self.widget.selected)
        if not outputs:
            raise KitError(
                "nothing is selected", hint="click the nodes to compute in the graph, then Run"
            )
        self.results.clear_output()
        namespace = _user_namespace()
        needed = ws.graph().required_inputs(outputs, given=ws.config)
        inputs = {name: namespace[name] for name in needed if name in namespace}
        started = time.perf_counter()
        results = ws.execute(outputs, inputs=inputs)
        seconds = time.perf_counter() - started
        self.widget.results = results
        took = f"<small>ran in {seconds:.2f} s; also in <code>widget.results</code></small>"
        self.results.append_display_data(HTML(took))
        for name in outputs:
            self.results.append_display_data(HTML(f"<b>{html.escape(name)}</b>"))
            self.results.append_display_data(results[name])

    # -- Promote --------------------------------------------------------------------------------

    @_shown_in(lambda panel: panel.promote_error)
    def preview(self) -> None:
        """While the Promote tab is open, colour the nodes by the task that would run them."""
        selected = list(self.widget.selected)
        if self.tabs.selected_index != 1 or not selected:
            self.widget.plan = {}
            self.task_graph.value = ""
            return
        from kit.dag.page import svg_picture
        from kit.dag.payload import plan_payload
        from kit.promote.plan import make_plan

        self.widget.plan = {}
        self.task_graph.value = ""
        flow_plan = make_plan(self.widget.workspace.graph(), selected, self.strategy.value)
        plan = plan_payload(flow_plan)
        self.widget.plan = {"task_of": plan["task_of"], "tasks": plan["tasks"]}
        count = len(plan["tasks"])
        notes = "".join(
            f'<div class="kit-note">Note: {html.escape(note)}</div>' for note in flow_plan.notes
        )
        self.task_graph.value = (
            f"<b>{count} task{'s' if count != 1 else ''}</b>"
            f'<div class="kit-task-graph">{svg_picture(plan["graph"])}</div>{notes}'
            f"{self._reruns_html(flow_plan)}"
        )

    def _reruns_html(self, flow_plan: Any) -> str:
        """The tasks that would rerun against the flow file of that name (its recorded versions)."""
        from kit import generated, versions

        ws = self.widget.workspace
        flow = self.flow_name.value.strip()
        if not flow or ws.project is None:
            return ""
        path = ws.project.flows / f"{flow}.py"
        shown = ws.project.relative(path)
        existing = generated.read(path)
        if existing is None:
            return f'<div class="kit-reruns">{html.escape(shown)} does not exist yet</div>'
        if existing[0].tasks is None:
            return ""
        new = versions.task_versions(ws.graph(), flow_plan)
        found = versions.reruns(shown, existing[0].tasks, new)
        if not found:
            return f'<div class="kit-reruns">Against {html.escape(shown)}: no task reruns</div>'
        items = "".join(f"<li>{html.escape(r.text().partition(': ')[2])}</li>" for r in found)
        return f'<div class="kit-reruns">Against {html.escape(shown)}:<ul>{items}</ul></div>'

    @_shown_in(lambda panel: panel.promote_error)
    def promote(self) -> None:
        """Write flows/FLOW.py for the selection; show its path and the equivalent magic line."""
        from kit.grammar import promote_line

        flow = self.flow_name.value.strip()
        outputs = list(self.widget.selected)
        if not flow:
            raise KitError(
                "the flow has no name", hint="type a name (a Python identifier) in the Flow box"
            )
        if not outputs:
            raise KitError(
                "nothing is selected", hint="click the outputs the flow should compute in the graph"
            )
        self.promote_result.value = ""
        self.promote_line.text = ""
        ws = self.widget.workspace
        path = ws.promote(flow, outputs, tasks=self.strategy.value, runner=self.runner.value)
        line = promote_line(flow, outputs, self.strategy.value, runner=self.runner.value)
        shown = ws.project.relative(path) if ws.project is not None else str(path)
        self.promote_result.value = f"Wrote {_code(shown)}, as this line in a cell would:"
        self.promote_line.text = line
        self.widget.refresh()  # the modules were exported: no node is changed since any more
        self.preview()

    # -- Submit ---------------------------------------------------------------------------------

    @_shown_in(lambda panel: panel.submit_error)
    def list_flows(self) -> None:
        """While the Submit tab is open, a checkbox per flow the notebook owns (all ticked)."""
        if self.tabs.selected_index != 2:
            return
        from kit.submit import owned_flows

        ws = self.widget.workspace
        notebook = notebook_file(ws)
        names = sorted(owned_flows(ws.project, notebook)) if ws.project is not None else []
        if names == [box.description for box in self.submit_flows.children]:
            return  # keep what the user ticked
        self.submit_flows.children = [
            w.Checkbox(value=True, description=name, indent=False, layout=w.Layout(width="auto"))
            for name in names
        ]

    @_shown_in(lambda panel: panel.submit_error)
    def submit(self) -> None:
        """Run `kit submit NOTEBOOK [--flow NAME ...]` in a subprocess; the panel follows it."""
        if self._submitting is not None and self._submitting.is_alive():
            raise KitError("a submission is still running", hint="wait for it to finish")
        notebook = notebook_file(self.widget.workspace)
        boxes = self.submit_flows.children
        chosen = [box.description for box in boxes if box.value]
        if boxes and not chosen:
            raise KitError("no flow is chosen", hint="tick the flows to submit")
        arguments = [notebook.name]
        if len(chosen) < len(boxes):  # without --flow, kit submit runs every flow the notebook owns
            for name in chosen:
                arguments += ["--flow", name]
        command = [sys.executable, "-m", "kit.cli", "submit", str(notebook), *arguments[1:]]
        project = self.widget.workspace.project
        cwd = project.root if project is not None else notebook.parent
        self.submit_button.disabled = True
        for place in (self.submit_phases, self.submit_summary, self.submit_log):
            place.value = ""
        shown = " ".join(["kit submit", *arguments])
        self.submit_status.value = f"running {_code(shown)}"
        self._submitting = threading.Thread(
            target=self._follow, args=(command, cwd, shown), daemon=True
        )
        self._submitting.start()

    def _follow(self, command: list[str], cwd: Path, shown: str) -> None:
        """Show the subprocess's phases as they come, then its result and log (in a thread)."""
        stream = SubmitStream()
        started = time.monotonic()
        code: int | None = None
        running = f"running {_code(shown)}"
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, "TQDM_DISABLE": "1"},  # progress bars say nothing in a log
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            reader = threading.Thread(target=collect, args=(process, stream), daemon=True)
            reader.start()
            while code is None:
                try:
                    code = process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    self.submit_status.value = f"{running} {time.monotonic() - started:.0f} s"
                    self._show(stream, finished=False)
            reader.join()
        except Exception as error:
            self.submit_error.value = _error_html(describe_error(error))
        finally:
            self.submit_button.disabled = False
        seconds = time.monotonic() - started
        what = _code(shown)
        if code == 0:
            self.submit_status.value = (
                f'<span class="kit-submit-done">&#10003; {what} finished in {seconds:.0f} s</span>'
            )
        elif code is not None:
            self.submit_status.value = (
                f'<span class="kit-submit-failed">&#10007; {what} failed (exit {code}) '
                f"after {seconds:.0f} s</span>"
            )
        self._show(stream, finished=True, failed=code != 0)
        self._offer_pull(stream.summary())

    def _offer_pull(self, summary: list[str]) -> None:
        """A "Pull this run" button for each run the summary names (`flow F: run 'N' ID: STATE`)."""
        buttons: list[w.Button] = []
        for line in summary:
            found = RUN_LINE.match(line)
            if found:
                flow, name, run_id, state = found.groups()
                button = w.Button(
                    description="Pull this run" if len(buttons) == 0 else f"Pull {name!r}",
                    icon="download",
                    tooltip=f"%hamilton_pull {run_id}: run {name!r} of {flow} ({state})",
                )
                button.on_click(lambda _, run=run_id: self.pull(run))
                buttons.append(button)
        self.pull_buttons.children = buttons
        self.pulled.value = ""

    @_shown_in(lambda panel: panel.pulled)
    def pull(self, run: str) -> None:
        """Load run `run` into the workspace, as `%hamilton_pull RUN` does; show what came."""
        from kit.pull import pull

        pulled = pull(self.widget.workspace, run)
        self.pulled.value = f'<pre class="kit-pulled-run">{html.escape(pulled.text())}</pre>'

    def _show(self, stream: SubmitStream, *, finished: bool, failed: bool = False) -> None:
        """Phases first, then the result (once finished), then the log."""
        self.submit_phases.value = stream.phases_html(finished=finished, failed=failed)
        summary = stream.summary() if finished else []
        self.submit_summary.value = summary_html(summary) if summary else ""
        log = stream.lines()
        self.submit_log.value = log_html(log) if log else ""


def notebook_file(ws: Any) -> Path:
    """The notebook file of the workspace's kernel, as saved on disk (found as export finds it)."""
    if not ws.notebook:
        raise KitError(
            "this kernel does not know which notebook it runs",
            hint="open the notebook in JupyterLab (it tells the kernel), "
            "or run `kit submit NOTEBOOK` in a terminal",
        )
    path = ws.notebook_path()
    if path is None or not path.is_file():
        raise KitError(
            f"notebook {ws.notebook} is not a file here (nor in a parent folder or the project)",
            hint="save the notebook, or run `kit submit NOTEBOOK` in a terminal",
        )
    return path.resolve()


def _user_namespace() -> dict[str, Any]:
    """The notebook's variables (empty outside IPython)."""
    shell = ipython_shell()
    return shell.user_ns if shell is not None else {}
