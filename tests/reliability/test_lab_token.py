"""JupyterLab as the README starts it (`make lab`) listens on 127.0.0.1 only and asks for its token.

The addresses are read from /proc/net/tcp{,6}; the token from the URL JupyterLab prints. A
request without the token must be refused, the same request with it answered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

from .test_listening import listening_addresses

START_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[tuple[int, int, str]]:
    """`make lab ARGS="--no-browser --port P"` from the repository: its pid, port and token."""
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
    }
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "-s", "lab", f"ARGS=--no-browser --port={port} --ServerApp.port_retries=0"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    printed = re.compile(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)")
    deadline = time.monotonic() + START_SECONDS
    try:
        while not (found := printed.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-3000:]
                raise AssertionError(f"`make lab` did not print its URL:\n{tail}")
            time.sleep(0.2)  # polling the log for the printed URL, not hiding a race
        yield process.pid, port, found.group(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_lab_listens_on_127_0_0_1_and_refuses_requests_without_its_token(
    make_lab: tuple[int, int, str],
) -> None:
    pid, port, token = make_lab
    addresses = listening_addresses(pid)
    assert f"127.0.0.1:{port}" in addresses, addresses
    assert all(address.startswith("127.0.0.1:") for address in addresses), addresses
    assert len(token) >= 32, "the token is too short to be a secret"
    contents = f"http://127.0.0.1:{port}/api/contents"
    assert _status(contents) == 403
    assert _status(f"{contents}?token={'0' * len(token)}") == 403
    assert _status(f"{contents}?token={token}") == 200
