"""Shared fixtures: a quiet, private Prefect home; a throwaway kit project; a real IPython shell."""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="kit-tests-prefect-"))
os.environ.setdefault("PREFECT_HOME", str(_PREFECT_HOME))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

REPO = Path(__file__).resolve().parents[1]


def forget_project_modules(package: str = "modules") -> None:
    """Drop `modules` and `modules.*` from sys.modules so each test imports its own."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def write_project(root: Path) -> Path:
    """A minimal kit project at `root`: pyproject with [tool.kit] and the three folders."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "example"
            version = "0.0.1"

            [tool.kit]
            notebooks = "notebooks"
            modules = "modules"
            flows = "flows"
            """
        )
    )
    for folder in ("notebooks", "modules", "flows"):
        (root / folder).mkdir(exist_ok=True)
    (root / "modules" / "__init__.py").touch()
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh kit project as working directory, with the workspace and `modules.*` reset."""
    import kit.project
    from kit.workspace import reset_workspace

    root = write_project(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    reset_workspace()
    yield root
    forget_project_modules()
    kit.project._find_cached.cache_clear()
    reset_workspace()


@pytest.fixture
def shell(project: Path):
    """A real IPython shell with `%load_ext kit`, run in the fresh project."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.reset(new_session=True)
    ip.run_line_magic("load_ext", "kit")
    yield ip
    ip.reset(new_session=True)


def run_cell(ip, source: str):
    """Run a cell and return its result; kit errors are in `result.error_in_exec`."""
    return ip.run_cell(textwrap.dedent(source))


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One real, ephemeral Prefect API (with its own SQLite database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def loop_api(prefect_api: None) -> Iterator[str]:
    """The API the cache and pull tests run their flows on, set for the test: the session's own.

    A process keeps sending a flow's task-run events to the first API it used, so every test
    in this process that runs flows runs them on this one.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PREFECT_API_URL.value()
    assert url, "the session's Prefect API has a URL"
    with temporary_settings({PREFECT_API_URL: url}):
        yield url
