"""`kit init DIR`: a new project with the layout kit expects.

It comes with a starter notebook that validates.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from kit.errors import ProjectError
from kit.version import __version__

PACKAGE = "hamilton-notebook-kit"

GITIGNORE = """\
__pycache__/
.ipynb_checkpoints/
.*.lock
runs/
.prefect/
"""

STARTER_CELLS = [
    (
        "markdown",
        """\
        # Starter

        Each `%%hamilton NAME` cell becomes module `modules/NAME.py` of one Hamilton DAG.
        Change a cell, run it, and run `kit export` (or `%hamilton_export`) to write the modules;
        `kit check` says when they drifted from this notebook.""",
    ),
    ("code", "%load_ext kit"),
    ("parameters", "# parameters\nscale = 2.0"),
    ("code", "%hamilton_config scale=$scale"),
    (
        "code",
        '''\
        %%hamilton readings
        """The raw readings."""
        import pandas as pd


        def measurements() -> pd.DataFrame:
            """A small table of readings per sensor."""
            return pd.DataFrame({"sensor": ["a", "b", "a", "b"], "reading": [1.0, 2.0, 3.0, 4.0]})''',  # noqa: E501 -- starter cell text, 90 characters once dedented
    ),
    (
        "code",
        '''\
        %%hamilton summary -x mean_by_sensor
        """Scaled readings and their mean per sensor."""
        import pandas as pd


        def scaled(measurements: pd.DataFrame, scale: float) -> pd.DataFrame:
            """Readings multiplied by `scale`."""
            return measurements.assign(reading=measurements["reading"] * scale)


        def mean_by_sensor(scaled: pd.DataFrame) -> pd.Series:
            """The mean scaled reading of each sensor."""
            return scaled.groupby("sensor")["reading"].mean()''',
    ),
    (
        "code",
        'assert mean_by_sensor.to_dict() == {"a": 2.0 * scale, "b": 3.0 * scale}\nmean_by_sensor',
    ),
    ("code", "%hamilton_dag mean_by_sensor"),
]


def _distribution_name(folder: Path) -> str:
    """A project name pip accepts, from the folder name."""
    return re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-") or "kit-project"


def _pyproject(name: str) -> str:
    return textwrap.dedent(
        f"""\
        [project]
        name = "{name}"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = ["{PACKAGE}>={__version__}"]

        [tool.kit]
        notebooks = "notebooks"
        modules = "modules"
        flows = "flows"
        """
    )


def _environment(name: str) -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        channels:
          - conda-forge
        dependencies:
          - python>=3.11
          - pip
          - pip:
              - {PACKAGE}>={__version__}
        """
    )


def _starter_notebook() -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = []
    for kind, source in STARTER_CELLS:
        text = textwrap.dedent(source)
        if kind == "markdown":
            cells.append(new_markdown_cell(text))
        else:
            metadata: dict[str, Any] = {"tags": ["parameters"]} if kind == "parameters" else {}
            cells.append(new_code_cell(text, metadata=metadata))
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return nbformat.writes(new_notebook(cells=cells, metadata=metadata)) + "\n"


def create_project(folder: Path) -> Path:
    """Create (or fill an empty) `folder` as a kit project.

    Refuse to touch a folder with files in it.
    """
    if folder.exists() and not folder.is_dir():
        raise ProjectError(
            f"{folder} is a file", path=str(folder), hint="name a new folder for the project"
        )
    if folder.is_dir() and any(folder.iterdir()):
        raise ProjectError(
            f"{folder} is not empty; kit init creates a new project and overwrites nothing",
            path=str(folder),
            hint="name a new or empty folder, "
            "or add a [tool.kit] table to the pyproject.toml that is there",
        )
    name = _distribution_name(folder)
    files = {
        "pyproject.toml": _pyproject(name),
        "environment.yml": _environment(name),
        ".gitignore": GITIGNORE,
        "modules/__init__.py": (
            '"""Hamilton modules exported from the notebooks (`kit export`)."""\n'
        ),
        "flows/__init__.py": (
            '"""Prefect flows promoted from the notebooks (`%hamilton_promote`, `kit export`)."""\n'
        ),
        "notebooks/starter.ipynb": _starter_notebook(),
    }
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder
