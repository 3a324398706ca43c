"""--cache: each task's key is the code and data it depends on, so a fixed flow resumes where it
failed. Counted on a real `prefect server start` (127.0.0.1): which nodes each run computes.

The flow `counted` has three tasks: source_data (base), scaled_data (scaled) and report (total,
label); `prefix` is an input of label only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loop_examples import (
    FAILING_REPORT,
    REPORT,
    SOURCE_DATA,
    export,
    loop_project,
    run_flow,
    write_loop_notebook,
)
from prefect.serializers import PickleSerializer

import kit
from kit.promote import promote
from kit.pull import parse_run_record
from kit.steps import workspace_from_notebook

ALL_CACHED = {"source_data": "Cached", "scaled_data": "Cached", "report": "Cached"}


@pytest.fixture
def loop(loop_api: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(project))
    return loop_project(project)


def test_a_second_run_computes_nothing_and_each_run_records_its_code_versions(
    loop: Path,
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    first, first_calls, first_states = run_flow()
    second, second_calls, second_states = run_flow()

    assert first_calls == {"base": 1, "scaled": 1, "total": 1, "label": 1}
    assert set(first_states.values()) == {"Completed"}
    assert sum(second_calls.values()) == 0
    assert second_states == ALL_CACHED
    assert second.result() == first.result() == {"scaled": [0, 2, 4, 6, 8], "label": "total=20"}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[second.state_details.flow_run_id])
            )
        )
    record = next(a for a in artifacts if a.key == "counted-run-record")
    parsed = parse_run_record(str(record.data))
    ws = workspace_from_notebook(loop / "notebooks" / "loop.ipynb")
    assert parsed.notebook == "notebooks/loop.ipynb"
    assert parsed.config == {}
    assert parsed.versions == {
        name: ws.graph().nodes[name].version for name in ("base", "scaled", "total", "label")
    }


def test_a_body_edit_recomputes_only_the_tasks_it_reaches_a_docstring_edit_nothing(
    loop: Path,
) -> None:
    run_flow()
    edited = REPORT.replace('return f"{prefix}={total}"', 'return f"{prefix}: {total}"')
    write_loop_notebook(loop, report=edited)
    export(loop)
    state, calls, states = run_flow()
    assert calls == {"total": 1, "label": 1}  # the report task only
    assert states == {**ALL_CACHED, "report": "Completed"}
    assert state.result()["label"] == "total: 20"

    documented = SOURCE_DATA.replace('"""The numbers 0 .. rows - 1."""', '"""0, 1, 2, ..."""')
    documented = documented.replace("    return list(", "    # a comment only\n    return list(")
    assert documented.count("a comment only") == 1 and "0, 1, 2" in documented
    write_loop_notebook(loop, source_data=documented, report=edited)
    export(loop)
    assert "a comment only" in (loop / "modules" / "source_data.py").read_text()
    _, calls, states = run_flow()
    assert sum(calls.values()) == 0
    assert states == ALL_CACHED


def test_a_failing_last_task_fixed_in_the_notebook_reruns_alone_and_gives_what_execute_gives(
    loop_api: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    loop_project(project, report=FAILING_REPORT)
    failed, calls, states = run_flow()
    assert failed.is_failed()
    assert states["report"] == "Failed"
    assert states["source_data"] == states["scaled_data"] == "Completed"
    assert calls["base"] == calls["scaled"] == 1

    write_loop_notebook(project, report=REPORT)
    export(project)
    fixed, calls, states = run_flow()
    assert calls == {"total": 1, "label": 1}  # 0 of the tasks that had completed
    assert states == {**ALL_CACHED, "report": "Completed"}
    ws = workspace_from_notebook(project / "notebooks" / "loop.ipynb")
    expected = ws.execute(["scaled", "label"], inputs={"rows": 5, "factor": 2})
    assert fixed.result() == expected


def test_a_parameter_only_the_last_task_uses_recomputes_only_that_task(loop: Path) -> None:
    run_flow()
    state, calls, states = run_flow(prefix="sum")
    assert calls == {"total": 1, "label": 1}
    assert states == {**ALL_CACHED, "report": "Completed"}
    assert state.result()["label"] == "sum=20"
    _, calls, states = run_flow(factor=3)  # an input of scaled: it and what follows rerun
    assert calls == {"scaled": 1, "total": 1, "label": 1}
    assert states == {**ALL_CACHED, "scaled_data": "Completed", "report": "Completed"}


def test_results_persist_under_the_project_and_a_storage_block_is_named_in_the_flow(
    loop: Path,
) -> None:
    run_flow()
    records = list((loop / ".kit" / "results").iterdir())
    assert len(records) == 3  # one result per task
    for record in map(json.loads, (path.read_text() for path in records)):
        assert record["metadata"]["serializer"]["type"] == "kit-one-line-pickle"
        assert "\n" not in record["result"], "one base64 line (Prefect's pickle has one per 76)"
        value = PickleSerializer().loads(record["result"].encode())  # as stock Prefect decodes
        assert isinstance(value, dict) and value, "a dict of the task's nodes"
    ws = workspace_from_notebook(loop / "notebooks" / "loop.ipynb")
    path = promote(ws, "stored", ["label"], cache=True, result_storage="s3-bucket/results").path
    text = path.read_text()
    assert 'RESULT_STORAGE = "s3-bucket/results"' in text
    assert "result_storage=RESULT_STORAGE" in text and "local_result_storage" not in text
    with pytest.raises(kit.KitError, match="without --cache"):
        promote(ws, "stored", ["label"], result_storage="s3-bucket/results")
