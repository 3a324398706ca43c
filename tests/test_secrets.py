"""`secret:NAME` config values and flow parameters: Prefect Secret blocks, loaded only to execute.

On the session's real Prefect API: each test saves Secret blocks holding random values, uses them
from a kernel (a real IPython shell) and from `kit submit` (papermill validation, then the flow on
Prefect), checks that what ran used the values, then greps everything kit and Prefect kept for
them: every file of the project (modules/, flows/ with flows/_runtime.py, the executed notebook
under runs/, .kit/), the output of `kit submit`, the flow run's parameters, its task runs, its
artifacts and its logs (read through the API), and the API's database file.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from conftest import run_cell
from test_validate import write_notebook

import kit
from kit.cli import main
from kit.errors import MissingSecretError, SecretError


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def save_secret(value: str) -> str:
    """A Secret block holding `value` on the API of this test; its (random) name."""
    from prefect.blocks.system import Secret

    name = f"kit-test-{secrets.token_hex(4)}"
    Secret(value=value).save(name, overwrite=True, _sync=True)
    return name


@pytest.fixture
def token(loop_api: str) -> Iterator[tuple[str, str]]:
    """(block name, value): a random value in a Secret block of the session's API."""
    value = secrets.token_urlsafe(24)
    yield save_secret(value), value


def files_holding(root: Path, value: str) -> list[str]:
    """Every file below `root` whose bytes hold `value`."""
    needle = value.encode()
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def api_database() -> Path:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    assert url and url.startswith("sqlite+aiosqlite:///"), url
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def database_holds(value: str) -> list[str]:
    """The API's SQLite files (the database and its write-ahead log) whose bytes hold `value`."""
    database = api_database()
    files = [database, database.with_name(database.name + "-wal")]
    return [str(f) for f in files if f.exists() and value.encode() in f.read_bytes()]


# -- in the kernel -----------------------------------------------------------------------------


def test_a_kernel_loads_the_secret_to_execute_and_records_only_the_reference(
    shell, project: Path, token: tuple[str, str]
) -> None:
    block, value = token
    other_block = save_secret(other := secrets.token_urlsafe(24))
    shell.user_ns["api_token"] = f"secret:{other_block}"  # as a parameters cell would set it
    assert run_cell(shell, f"%hamilton_config token=secret:{block} rows=3").success
    done = run_cell(
        shell,
        '''\
        %%hamilton auth -x token_digest api_digest
        import hashlib


        def token_digest(token: str) -> str:
            """The sha256 of the config's token."""
            return hashlib.sha256(token.encode()).hexdigest()


        def api_digest(api_token: str) -> str:
            """The sha256 of the input api_token."""
            return hashlib.sha256(api_token.encode()).hexdigest()


        def leaky(token: str) -> str:
            raise ValueError(f"the server refused {token}")
        ''',
    )
    assert done.success, done.error_in_exec
    assert shell.user_ns["token_digest"] == sha(value)
    assert shell.user_ns["api_digest"] == sha(other)
    ws = kit.workspace()
    assert ws.config == {"token": f"secret:{block}", "rows": 3}
    assert ws.execute(["token_digest"]) == {"token_digest": sha(value)}

    with pytest.raises(ValueError) as raised:
        ws.execute(["leaky"])
    assert str(raised.value) == f"the server refused secret:{block}", "the value is masked"

    assert run_cell(shell, "%hamilton_export auth").success
    assert run_cell(shell, "%hamilton_promote tokens --outputs token_digest api_digest").success
    flow = (project / "flows" / "tokens.py").read_text()
    assert f"'token': 'secret:{block}'" in flow or f'"token": "secret:{block}"' in flow
    assert files_holding(project, value) == [] and files_holding(project, other) == []
    assert database_holds(value) == [] and database_holds(other) == []
    assert database_holds(block), "the search reads the API's database (it holds the block name)"


def test_a_missing_block_is_an_error_naming_it_the_key_and_the_fix(
    shell, project: Path, loop_api: str
) -> None:
    missing = f"kit-test-missing-{secrets.token_hex(4)}"
    assert run_cell(shell, f"%hamilton_config token=secret:{missing}").success
    done = run_cell(
        shell,
        """\
        %%hamilton auth -x
        def token_length(token: str) -> int:
            return len(token)
        """,
    )
    error = done.error_in_exec
    assert isinstance(error, MissingSecretError) and isinstance(error, kit.KitError)
    assert (error.block, error.key, error.kind) == (missing, "token", "config key")
    assert f"config key 'token' is secret:{missing}" in str(error)
    assert loop_api in str(error)
    assert "prefect block create secret" in str(error) and "Secret(value=" in str(error)

    assert run_cell(shell, "%hamilton_config token=secret:Not_A_Block").success
    with pytest.raises(SecretError, match="names no Prefect block") as raised:
        kit.workspace().execute(["token_length"])
    assert "always a secret reference" in str(raised.value)


# -- kit submit: validation in a kernel, then the flow on Prefect ------------------------------

AUTH = '''\
%%hamilton auth -x token_digest
import hashlib


def token_digest(token: str) -> str:
    """The sha256 of the config's token."""
    return hashlib.sha256(token.encode()).hexdigest()
'''
REPORT = '''\
%%hamilton api
import hashlib
from pathlib import Path


def report(token_digest: str, api_token: str) -> str:
    """Both digests."""
    return f"{token_digest}:{hashlib.sha256(api_token.encode()).hexdigest()}"


def written(report: str, out_file: str) -> str:
    """The report, written to out_file (only the flow computes it)."""
    Path(out_file).write_text(report)
    return out_file
'''


def test_kit_submit_runs_the_flow_on_the_secrets_and_keeps_them_nowhere(
    project: Path,
    token: tuple[str, str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    block, value = token
    api_block = save_secret(api_value := secrets.token_urlsafe(24))
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")  # the run's INFO logs go to the API too
    write_notebook(
        project / "notebooks" / "tokens.ipynb",
        "%load_ext kit",
        f"%hamilton_config token=secret:{block}",
        AUTH,
        REPORT,
        "%hamilton_promote tokens --outputs written --tasks by-module --cache",
        parameters='api_token = "secret:placeholder"\nout_file = "runs/tokens.txt"',
    )
    assert main(["export"]) == 0
    flow_text = (project / "flows" / "tokens.py").read_text()
    assert f"secret:{block}" in flow_text and 'api_token: str = "secret:placeholder"' in flow_text
    capfd.readouterr()

    status = main(["submit", "notebooks/tokens.ipynb", "-p", "api_token", f"secret:{api_block}"])
    out, err = capfd.readouterr()
    assert status == 0, out + err
    assert (project / "runs" / "tokens.txt").read_text() == f"{sha(value)}:{sha(api_value)}"
    executed = (project / "runs" / "notebooks" / "tokens.ipynb").read_text()
    assert sha(value) in executed, "the validation kernel loaded the config's secret"
    line = next(line for line in out.splitlines() if line.startswith("flow tokens: run "))
    run_id = UUID(line.split()[4].rstrip(":"))

    # the flow-side error: a block the flow's API lacks fails the run, naming it and the fix
    missing = f"kit-test-missing-{secrets.token_hex(4)}"
    status = main(
        [
            "submit",
            "notebooks/tokens.ipynb",
            "-p",
            "api_token",
            f"secret:{api_block}",
            "--flow-param",
            "api_token",
            f"secret:{missing}",
        ]
    )
    out_missing, err_missing = capfd.readouterr()
    assert status == 1
    assert f"input 'api_token' is secret:{missing}" in out_missing + err_missing
    assert "prefect block create secret" in out_missing + err_missing

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        assert flow_run.state is not None and flow_run.state.is_completed()
        assert flow_run.parameters["hamilton_config"] == {"token": f"secret:{block}"}
        assert flow_run.parameters["api_token"] == f"secret:{api_block}"
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
        assert len(task_runs) == 2
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        assert {a.key for a in artifacts} >= {"tokens-run-record", "kit-validation"}
        record = next(a for a in artifacts if a.key == "tokens-run-record")
        assert f"secret:{block}" in str(record.data)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        assert logs, "the run's INFO logs reached the API"
    prefect_kept = "\n".join(
        [
            flow_run.model_dump_json(),
            *(task_run.model_dump_json() for task_run in task_runs),
            *(artifact.model_dump_json() for artifact in artifacts),
            *(log.model_dump_json() for log in logs),
        ]
    )
    assert f"secret:{api_block}" in prefect_kept and f"secret:{block}" in prefect_kept
    assert files_holding(project, sha(value)), "the search reads the project's files"
    for secret in (value, api_value):
        assert secret not in out + err + out_missing + err_missing
        assert secret not in prefect_kept
        assert files_holding(project, secret) == []
        assert database_holds(secret) == []
