"""A real JupyterLab (one per session, on 127.0.0.1 with a token) driven by Debian's Chromium.

The server runs in a throwaway kit project; each test writes its own notebook there and opens
it, so each gets its own kernel. The server is stopped by its PID at the end of the session.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import write_project
from nbformat.v4 import new_code_cell, new_notebook

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Lab settings for a quiet, deterministic UI: no news toast, no update check, every cell attached.
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}
START_TIMEOUT = 90.0
CELL_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens, its token, the project it serves."""

    url: str
    token: str
    root: Path
    pid: int

    def notebook_url(self, relative: str) -> str:
        return f"{self.url}/lab/tree/{relative}?reset&token={self.token}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready(url: str, token: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root = write_project(base / "project")
    settings = base / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(base / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("KIT_VALIDATE", None)
    env.pop("JPY_SESSION_NAME", None)
    log = (base / "lab.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter")),
            "lab",
            "--no-browser",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--allow-root",
            f"--LabApp.app_settings_dir={settings}",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while not _ready(url, token):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"JupyterLab did not start:\n{(base / 'lab.log').read_text()[-3000:]}"
            )
        time.sleep(0.2)  # polling for readiness, not hiding a race
    try:
        yield Lab(url=url, token=token, root=root, pid=process.pid)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Chromium, closed after the browser tests: Playwright's sync API keeps an event loop running
    while it is open, and Prefect's sync calls in later tests would then hand back coroutines."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.page_errors = errors  # type: ignore[attr-defined]
    yield tab
    context.close()


# -- notebooks and JupyterLab ---------------------------------------------------------------------


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook of code cells (sources dedented), with a kernelspec so Lab asks nothing."""
    cells = [new_code_cell(textwrap.dedent(source).strip("\n")) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def open_notebook(page, lab: Lab, relative: str) -> None:
    """Open a notebook in Lab and wait until its kernel is idle."""
    page.goto(lab.notebook_url(relative))
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for()


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def prompt_number(page, index: int) -> int | None:
    text = cell(page, index).locator(".jp-InputPrompt").inner_text().strip()
    digits = text.strip("[]: ")
    return int(digits) if digits.isdigit() else None


def wait_all_executed(page, count: int) -> None:
    """Every one of the `count` code cells shows an execution number (none pending, none unrun)."""
    page.wait_for_function(
        """count => {
            const prompts = [
                ...document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')
            ];
            return prompts.length === count
                && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
        }""",
        arg=count,
        timeout=CELL_TIMEOUT_MS,
    )


def run_all(page, count: int) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    wait_all_executed(page, count)


def run_cell_again(page, index: int, source: str | None = None) -> None:
    """Run cell `index` again (its text replaced with `source`, if given); wait for it to finish."""
    before = prompt_number(page, index)
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    if source is not None:
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(textwrap.dedent(source).strip("\n"))
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """([index, before]) => {
            const prompt = document.querySelectorAll('.jp-Notebook .jp-Cell')[index]
                .querySelector('.jp-InputPrompt');
            const match = /^\\[(\\d+)\\]:$/.exec(prompt.textContent.trim());
            return match !== null && Number(match[1]) !== before;
        }""",
        arg=[index, before],
        timeout=CELL_TIMEOUT_MS,
    )


def node(page, name: str):
    """The node group of the DAG whose name text is `name`."""
    return page.locator("g.kit-node").filter(
        has=page.locator(f'text.kit-node-name:text-is("{name}")')
    )


def save(page) -> None:
    """Save the notebook and wait until Lab no longer marks it as changed."""
    page.keyboard.press("Control+S")
    page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")
