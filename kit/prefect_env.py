"""kit's Prefect defaults: the environment of every Prefect process kit starts (submit, server).

A setting the user gave in the environment wins; kit only fills in the ones left unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The local Prefect's home and SQLite database, below the project root (the embedded API's and the
# kit server's: runs made on either are seen by the other).
PREFECT_HOME = Path(".kit") / "prefect"

DEFAULTS: dict[str, str] = {
    # a busy machine needs more than Prefect's 20 s to start an embedded API
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # no analytics: DO_NOT_TRACK for the client, and the server's own switch, which also turns off
    # its `send_telemetry_heartbeat` service (the source of "database is locked" tracebacks)
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # quiet: flow and task run INFO lines and the server's access log stay out of the terminal
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
}

# Settings that would point a local Prefect at another API or database than the project's own.
ELSEWHERE = (
    "PREFECT_API_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
)


def prefect_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with kit's defaults for what it leaves unset."""
    env = dict(os.environ if base is None else base)
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)
    return env


def local_prefect_environment(root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a Prefect whose home and database are the project's .kit/prefect."""
    env = prefect_environment(base)
    for name in ELSEWHERE:
        env.pop(name, None)
    home = root / PREFECT_HOME
    home.mkdir(parents=True, exist_ok=True)
    env["PREFECT_HOME"] = str(home)  # the database defaults to PREFECT_HOME/prefect.db
    return env


def configured_api_url() -> str | None:
    """The PREFECT_API_URL the user set: Prefect's own setting when Prefect is already imported
    here (a kernel, a test harness), else the environment, else the active Prefect profile."""
    import sys

    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    return _profile_api_url()


def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active profile in Prefect's profiles.toml, read without importing
    Prefect (which takes seconds)."""
    import tomllib

    prefect_home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", prefect_home / "profiles.toml"))
    try:
        profiles = tomllib.loads(path.expanduser().read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None
