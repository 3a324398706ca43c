"""Follow a `kit submit` run as it prints: its `==> ` phases, its result, its log.

The widget's Submit tab and `%hamilton_submit` both read a submission through this, so a
phase, a result and a log look the same in either.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from kit.errors import SubmitError

LOG_LINES = 400  # lines of `kit submit` output kept
PHASE = "==> "  # how `kit submit` starts a phase line
PROGRESS_BAR = re.compile(r"\d+%\|.*\|")  # a tqdm bar: drawn over itself, noise in a log
RUN_URL = re.compile(r"https?://[^\s<>&\"']+/runs/flow-run/[\w-]+")


class SubmitStream:
    """What `kit submit` prints, read line by line: its `==> ` phases, and every line as a log."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self._log: list[str] = []
        self._after_phase = 0  # index in the log of the first line after the last phase
        self._lock = threading.Lock()  # fed by the reader thread, shown by the following one

    def feed(self, line: str) -> None:
        """Take one line as read, with its ending; of a line drawn over ("\\r"), its last drawing;
        a progress bar not at all."""
        text = line.removesuffix("\n").removesuffix("\r").rsplit("\r", 1)[-1]
        if PROGRESS_BAR.search(text):
            return
        with self._lock:
            if text.startswith(PHASE):
                self.phases.append(text.removeprefix(PHASE))
                self._after_phase = len(self._log) + 1
            self._log.append(text)
            dropped = max(0, len(self._log) - LOG_LINES)
            del self._log[:dropped]
            self._after_phase = max(0, self._after_phase - dropped)

    def lines(self) -> list[str]:
        """The last LOG_LINES lines."""
        with self._lock:
            return list(self._log)

    def summary(self) -> list[str]:
        """The result: what came after the last phase once it is "done", and kit's error lines."""
        with self._lock:
            done = bool(self.phases) and self.phases[-1].startswith("done")
            after = self._log[self._after_phase :] if done else []
            errors = [line for line in self._log if line.startswith("kit submit: ")]
        return [*after, *(line for line in errors if line not in after)]

    def phases_html(self, *, finished: bool, failed: bool) -> str:
        """The phases so far, the last marked as running (or failed)."""
        with self._lock:
            phases = list(self.phases)
        last = "kit-phase-failed" if failed else "" if finished else "kit-phase-current"
        items = [
            f'<li class="kit-phase {last if i == len(phases) - 1 else ""}">{html.escape(p)}</li>'
            for i, p in enumerate(phases)
        ]
        return f'<ol class="kit-phases">{"".join(items)}</ol>' if items else ""


def collect(process: subprocess.Popen, stream: SubmitStream) -> None:
    """Feed the process's output to `stream`, line by line (a lone "\\r" does not end one)."""
    assert process.stdout is not None
    for line in process.stdout:
        stream.feed(line.decode(errors="replace"))


def summary_html(lines: list[str]) -> str:
    """The result lines, each run's page in the Prefect UI a link."""
    text = html.escape("\n".join(lines))
    linked = RUN_URL.sub(lambda m: f'<a href="{m[0]}" target="_blank">{m[0]}</a>', text)
    return f'<pre class="kit-summary">{linked}</pre>'


def log_html(lines: list[str]) -> str:
    return f'<b>Log</b><pre class="kit-submit-log">{html.escape(chr(10).join(lines))}</pre>'


def follow_submission(
    notebook: Path, flows: Sequence[str], parameters: Sequence[tuple[str, str]], cwd: Path
) -> str:
    """Run `kit submit NOTEBOOK [--flow F ...] [-p N V ...]`, printing each phase as it starts;
    the result first, then the log, as HTML. A failed submission is a SubmitError."""
    command = [sys.executable, "-m", "kit.cli", "submit", str(notebook)]
    for flow in flows:
        command += ["--flow", flow]
    for name, value in parameters:
        command += ["-p", name, value]
    stream = SubmitStream()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, "TQDM_DISABLE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    for line in process.stdout:
        seen = len(stream.phases)
        stream.feed(line.decode(errors="replace"))
        for phase in stream.phases[seen:]:
            print(f"{PHASE}{phase}", flush=True)
    code = process.wait()
    summary = stream.summary()
    if code != 0:
        raise SubmitError(
            f"kit submit {notebook.name} failed (exit {code})"
            + ("".join(f"\n  {line}" for line in summary) if summary else ""),
            notebook=str(notebook),
            hint="fix what it names, save the notebook, then submit again",
        )
    return summary_html(summary) + f"<details>{log_html(stream.lines())}</details>"
