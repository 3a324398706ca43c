"""Project root discovery: the nearest pyproject.toml with a [tool.kit] table names the folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_project

from kit.errors import ProjectError
from kit.project import find_project_root, load_project, require_project


def test_root_is_found_from_a_notebook_folder(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    assert find_project_root(root / "notebooks") == root
    project = load_project(root)
    assert (project.modules, project.flows, project.notebooks) == (
        (root / "modules").resolve(),
        (root / "flows").resolve(),
        (root / "notebooks").resolve(),
    )
    assert project.modules_package == "modules"


def test_a_pyproject_without_tool_kit_is_passed_over(tmp_path: Path) -> None:
    root = write_project(tmp_path / "outer")
    inner = root / "notebooks" / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert find_project_root(inner) == root


def test_custom_folders_and_unknown_keys(tmp_path: Path) -> None:
    root = tmp_path / "custom"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.kit]\nmodules = "src/dataflows"\n')
    project = load_project(root)
    assert project.modules_package == "src.dataflows"
    assert project.flows == (root / "flows").resolve()
    (root / "pyproject.toml").write_text('[tool.kit]\nmodule = "x"\n')
    with pytest.raises(ProjectError, match=r"unknown \[tool.kit\] keys \['module'\]"):
        load_project(root)


def test_outside_a_project_the_error_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="kit init"):
        require_project(tmp_path)
