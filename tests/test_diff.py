"""Code versions in headers, the DAG changes `kit check` lists, and `kit diff` on real git repos."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_notebook import write_notebook
from test_sync import kit_cli  # noqa: F401 (a fixture)

from kit import generated
from kit.errors import KitError

PREP = '''%%hamilton prep
def base() -> int:
    """The base value."""
    return 1


def scaled(base: int, factor: int = 2) -> int:
    return base * factor


def spare(base: int) -> int:
    return base - 1
'''

TRAIN = """%%hamilton train
from hamilton.function_modifiers import config


@config.when(model="small")
def classifier__small(scaled: int) -> int:
    return scaled + 1


@config.when(model="big")
def classifier__big(scaled: int) -> int:
    return scaled + 100


def report(classifier: int) -> str:
    return str(classifier)
"""

SETUP = (
    "%hamilton_config model=small\n%hamilton_promote pipeline --outputs report --tasks by-module"
)


def _git(root: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(project: Path, kit_cli) -> Path:  # noqa: F811
    """The project as a git repository whose one commit holds the notebook and its export."""
    write_notebook(project / "notebooks" / "nb.ipynb", PREP, TRAIN, SETUP)
    assert kit_cli("export")[0] == 0
    _git(project, "init", "-q")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    return project


def _edit(repo: Path, prep: str = PREP, train: str = TRAIN, *more: str) -> None:
    write_notebook(repo / "notebooks" / "nb.ipynb", prep, train, *more, SETUP)


def test_headers_record_function_and_task_versions_within_100_characters(repo: Path) -> None:
    module = generated.read(repo / "modules" / "train.py")
    assert module is not None and module[0].versions is not None
    assert list(module[0].versions) == ["classifier__small", "classifier__big", "report"]
    flow = generated.read(repo / "flows" / "pipeline.py")
    assert flow is not None and flow[0].tasks is not None
    assert [(t.name, t.after, list(t.versions)) for t in flow[0].tasks] == [
        ("prep", (), ["base", "scaled"]),
        ("train", ("prep",), ["classifier", "report"]),
    ]
    # the flow's node `classifier` has the code version of the function the config selects
    small = module[0].versions["classifier__small"].partition(":")[0]
    assert flow[0].tasks[1].versions["classifier"] == small
    for path in (repo / "modules" / "train.py", repo / "flows" / "pipeline.py"):
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert all(len(line) <= 100 for line in header)


def test_a_header_of_an_older_kit_still_parses_and_a_relaid_record_is_current(
    tmp_path: Path,
) -> None:
    old = f"{generated.MARK}nb.ipynb\n# %%hamilton m\n{generated.ADVICE}\n# sha256: x\nbody\n"
    parsed = generated.parse(old)
    assert parsed is not None and parsed[0].versions is None and parsed[1] == "body\n"
    many = {f"function_{i}": "0123abcd:ef01" for i in range(12)}
    text = generated.render("nb.ipynb", "%%hamilton m", "x = 1\n", versions=many)
    assert generated.parse(text)[0].versions == many  # type: ignore[index]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# versions:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("# sha256:"))
    relaid = [*lines[:start], f"# versions: {' '.join(f'{k}={v}' for k, v in many.items())}"]
    path = tmp_path / "m.py"
    path.write_text("\n".join(relaid + lines[end:]) + "\n")
    assert generated.state_of(path, text) is generated.FileState.CURRENT  # nothing to rewrite
    fewer = dict(list(many.items())[1:])
    other = generated.render("nb.ipynb", "%%hamilton m", "x = 1\n", versions=fewer)
    assert generated.state_of(path, other) is generated.FileState.HEADER_ONLY


def test_clean_repository_has_no_diff(repo: Path, kit_cli) -> None:  # noqa: F811
    assert kit_cli("diff") == (0, "kit diff: no change since HEAD\n", "")
    assert kit_cli("check")[0] == 0


def test_a_body_change_is_listed_by_check_and_diff_with_the_tasks_it_reaches(
    repo: Path,
    kit_cli,  # noqa: F811
) -> None:
    _edit(repo, PREP.replace("return 1", "return 5"))
    code, out, _ = kit_cli("check")
    assert code == 1
    assert "notebooks/nb.ipynb: 1 function changed since its last export" in out
    assert "  changed (code): base in prep" in out
    assert "  flows/pipeline.py: task prep reruns (base changed)" in out
    assert "  flows/pipeline.py: task train reruns (after prep)" in out
    assert "modules/prep.py: stale, from notebooks/nb.ipynb" in out  # the file drift as before

    code, out, _ = kit_cli("diff", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["differs"] is True
    (notebook,) = report["notebooks"]
    assert notebook["functions"] == [
        {
            "function": "base",
            "change": "code",
            "module": "prep",
            "nodes": ["base"],
            "selected": True,
            "when": "",
        }
    ]
    assert [(r["task"], r["changed"], r["upstream"]) for r in notebook["reruns"]] == [
        ("prep", ["base"], []),
        ("train", [], ["prep"]),
    ]
    assert report["unexported"] == ["flows/pipeline.py", "modules/prep.py"]

    assert kit_cli("export")[0] == 0  # exported, the diff against HEAD stays; check is clean
    assert kit_cli("check")[0] == 0
    code, out, _ = kit_cli("diff")
    assert code == 1 and "changed (code): base in prep" in out
    assert "modules/prep.py: changed since HEAD" in out


def test_a_docstring_or_comment_change_is_no_dag_change(repo: Path, kit_cli) -> None:  # noqa: F811
    edited = PREP.replace('"""The base value."""', '"""The base value, documented."""  # why')
    _edit(repo, edited)
    code, out, _ = kit_cli("check")
    assert code == 1 and "function" not in out.split("modules/prep.py")[0]  # drift only
    assert kit_cli("export")[0] == 0
    code, out, _ = kit_cli("diff")
    assert code == 0
    assert out == "modules/prep.py: text changed, same DAG since HEAD\n"


def test_a_renamed_parameter_is_a_dependency_change(repo: Path, kit_cli) -> None:  # noqa: F811
    _edit(repo, PREP.replace("factor", "multiplier"))
    code, out, _ = kit_cli("diff")
    assert code == 1
    assert "  changed (dependencies or type): scaled in prep" in out
    assert "  flows/pipeline.py: task prep reruns (scaled changed)" in out


def test_added_and_removed_functions(repo: Path, kit_cli) -> None:  # noqa: F811
    added = PREP + "\n\ndef extra(base: int) -> int:\n    return base + 7\n"
    _edit(repo, added.replace("def spare(base: int) -> int:\n    return base - 1\n", ""))
    code, out, _ = kit_cli("diff")
    assert code == 1
    assert "  added: extra in prep" in out and "  removed: spare (was in prep)" in out
    assert "reruns" not in out  # neither runs in the flow


def test_a_variant_the_config_does_not_select_is_reported_as_such(
    repo: Path,
    kit_cli,  # noqa: F811
) -> None:
    _edit(repo, PREP, TRAIN.replace("scaled + 100", "scaled + 200"))
    code, out, _ = kit_cli("check")
    assert code == 1
    assert (
        "  changed (code): classifier__big in train, a variant the config does not select "
        "(model='small')" in out
    )
    assert "reruns" not in out  # the flow runs classifier__small
    selected = TRAIN.replace("scaled + 1\n", "scaled + 2\n")
    _edit(repo, PREP, selected)
    code, out, _ = kit_cli("check")
    assert "  changed (code): classifier (function classifier__small) in train" in out
    assert "  flows/pipeline.py: task train reruns (classifier changed)" in out


def test_a_function_moved_between_cells_is_no_change(repo: Path, kit_cli) -> None:  # noqa: F811
    spare = "def spare(base: int) -> int:\n    return base - 1\n"
    _edit(repo, PREP.replace(spare, ""), TRAIN + "\n\n" + spare)
    code, out, _ = kit_cli("check")
    assert code == 1 and "modules/train.py: stale" in out  # the files changed...
    assert "function" not in out.split("modules/")[0]  # ...the DAG did not
    assert kit_cli("export")[0] == 0
    code, out, _ = kit_cli("diff")
    assert code == 0 and "changed" not in out.replace("text changed, same DAG", "")


def test_diff_against_an_older_revision_and_an_unknown_one(repo: Path, kit_cli) -> None:  # noqa: F811
    _edit(repo, PREP.replace("return 1", "return 5"))
    assert kit_cli("export")[0] == 0
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "second")
    assert kit_cli("diff")[0] == 0
    code, out, _ = kit_cli("diff", "HEAD~1")
    assert code == 1 and "changed (code): base in prep" in out
    code, _, err = kit_cli("diff", "no-such-branch")
    assert code == 1 and "'no-such-branch' names no commit" in err


def test_diff_outside_a_git_repository_is_a_kit_error(project: Path) -> None:
    from kit.diff import diff

    write_notebook(project / "notebooks" / "nb.ipynb", PREP)
    with pytest.raises(KitError, match="names no commit"):
        diff("HEAD")
