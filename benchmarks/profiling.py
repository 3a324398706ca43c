"""Where a missed row's time goes: py-spy samples of one kit run and its subprocesses, summed up.

`profile_command(command, out, ...)` runs the command under `py-spy record --subprocesses`
(py-spy samples each Python process's stack, leaving out threads it sees idle, so the sums are
mostly CPU time) and writes a short text: per process, the CPU seconds, the share by package (self
time), the share spent importing modules, and the functions with the most self time.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

PROFILES = Path(__file__).parent / "results" / "profiles"
RATE = 100  # samples a second
TOP = 12
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_REPO = Path(__file__).resolve().parent.parent


def py_spy() -> str:
    """The py-spy of this interpreter's environment (`make bench` installs it)."""
    found = Path(sys.executable).with_name("py-spy")
    if not found.exists():
        raise RuntimeError(f"no {found}: `make bench` installs it (the bench extra)")
    return str(found)


def profile_command(
    command: Sequence[str],
    out: Path,
    *,
    title: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run `command` once under py-spy and write the summary to `out`; the summary's text."""
    record = [py_spy(), "record", "--subprocesses", "--format", "speedscope"]
    with tempfile.TemporaryDirectory(prefix="kit-profile-") as folder:
        samples = Path(folder) / "samples.json"
        started = time.perf_counter()
        done = subprocess.run(
            [*record, "--rate", str(RATE), "--output", str(samples), "--", *command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0 or not samples.exists():
            raise RuntimeError(f"py-spy of {command} failed:\n{done.stdout}\n{done.stderr}")
        text = summary(json.loads(samples.read_text()), command, title, wall)
    printed = "\n".join(
        line for line in done.stdout.splitlines() if not line.startswith("py-spy> ")
    ).strip()
    if printed:
        text += f"\nWhat the command printed:\n\n```\n{printed}\n```\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def summary(speedscope: dict, command: Sequence[str], title: str, wall: float) -> str:
    """The text of one profile: its processes, largest CPU first."""
    frames = speedscope["shared"]["frames"]
    processes: dict[str, list[list[int]]] = collections.defaultdict(list)
    for thread in speedscope["profiles"]:
        pid = thread["name"].split()[1]  # "Process PID Thread TID ..."
        processes[pid].extend(thread["samples"])
    lines = [
        f"# {title}",
        "",
        f"`{shlex.join(command)}`, once, under `py-spy record --subprocesses --rate {RATE}`: "
        f"{wall:.1f} s wall. py-spy leaves out the threads it sees idle, so the seconds below are "
        "mostly CPU time per process, but it counts some waits as running (`select`, "
        "`Condition.wait`, `poll`): those lines are waiting, not work. Shares are of that "
        "process's samples.",
        "",
    ]
    ordered = sorted(processes.values(), key=len, reverse=True)
    for stacks in ordered:
        if len(stacks) < RATE / 10:  # under 0.1 s of CPU: a helper process, left out
            continue
        lines += _process_text(stacks, frames)
    return "\n".join(lines) + "\n"


def _process_text(stacks: list[list[int]], frames: list[dict]) -> list[str]:
    by_package: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    importing = 0
    for stack in stacks:
        python = [frames[i] for i in stack if not frames[i]["name"].startswith("process ")]
        if not python:  # the process runs no Python code: start-up, exit, native code
            by_package["(no Python frame)"] += 1
            continue
        leaf = python[-1]
        by_package[_package(leaf["file"])] += 1
        by_function[f"{leaf['name']} ({_short(leaf['file'])}:{leaf['line']})"] += 1
        if any(frame["name"] == "_find_and_load" for frame in python):
            importing += 1
    total = len(stacks)
    # py-spy's root frames: 'process PID:"COMMAND"' of the process and of its parents
    process = [frames[i]["name"] for i in stacks[0] if frames[i]["name"].startswith("process ")][-1]
    pid, _, quoted = process.removeprefix("process ").partition(":")
    command = " ".join(quoted.strip('"').split()) or f"process {pid} (its command line unread)"
    share = ", ".join(f"{name} {count / total:.0%}" for name, count in by_package.most_common(8))
    lines = [
        f"## `{command[:120]}`: {total / RATE:.1f} s of CPU",
        "",
        f"- by package (self time): {share}",
        f"- importing modules (inclusive): {importing / total:.0%}",
        "- most self time:",
    ]
    lines += [f"  - {count / total:.0%} {name}" for name, count in by_function.most_common(TOP)]
    return [*lines, ""]


@functools.cache
def _package(file: str) -> str:
    """The installed package, `kit`, or `python` (the standard library, the import system)."""
    if "site-packages" + os.sep in file:
        top = file.split("site-packages" + os.sep, 1)[1].split(os.sep, 1)[0]
        return top.removesuffix(".py")
    path = Path(file)
    if file.startswith("<frozen") or (path.is_absolute() and _under(path, _STDLIB)):
        return "python"
    if path.is_absolute() and _under(path, _REPO):
        return path.resolve().relative_to(_REPO).parts[0].removesuffix(".py")
    return "other"


def _under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder)


@functools.cache
def _short(file: str) -> str:
    if "site-packages" + os.sep in file:
        return file.split("site-packages" + os.sep, 1)[1]
    path = Path(file)
    if path.is_absolute() and path.resolve().is_relative_to(_REPO):
        return str(path.resolve().relative_to(_REPO))
    if path.is_absolute() and path.resolve().is_relative_to(_STDLIB):
        return str(path.resolve().relative_to(_STDLIB))
    return file
