"""environment.yml (conda-forge) and pyproject.toml name the same runtime packages and bounds.

The conda environment also holds the `dask` extra (prefect-dask), which conda has no way to
leave optional.
"""

from __future__ import annotations

import re
import tomllib

from conftest import REPO

# conda-forge names that differ from PyPI's
CONDA_NAMES = {"igraph": "python-igraph"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*pyproject["dependencies"], *pyproject["optional-dependencies"]["dask"]]
    wanted = dict(_split(r) for r in requirements)
    wanted = {CONDA_NAMES.get(name, name): bound for name, bound in wanted.items()}
    wanted["python"] = pyproject["requires-python"].replace(" ", "")

    conda: dict[str, str] = {}
    pip_section: list[str] = []
    in_pip = False
    text = (REPO / "environment.yml").read_text()
    dependencies = text.split("dependencies:", 1)[1]
    for line in dependencies.splitlines():
        stripped = line.strip()
        if stripped.startswith("- pip:"):
            in_pip = True
            continue
        if in_pip and line.startswith("      - "):
            pip_section.append(stripped[2:])
            continue
        in_pip = False
        if line.startswith("  - ") and stripped != "- pip":
            name, bound = _split(stripped[2:])
            conda[name] = bound

    pip_packages = dict(_split(r) for r in pip_section if not r.startswith("-e"))
    assert {**conda, **pip_packages} == wanted
    assert "-e ." in pip_section, "environment.yml must install kit itself with pip -e ."
