"""Generated files obey the project's own rules: `ruff check`, `ruff format --check`, 100 columns.

The repository's modules/ and flows/ are checked as committed; flows that the tests generate are
checked for every split strategy and option, and for names long enough to force line breaks.
kit writes this layout itself (it never runs ruff), so these tests are what keep it honest.

A limit: a flow submits each task on a line `T_future = T_task.submit(` that even ruff cannot
break, so task names (outputs, for per-output; tags, for by-tag) fit up to 36 characters.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from promote_examples import ML_MODULES, ML_OUTPUTS, load_workspace

import kit
from kit.grammar import promote_line
from kit.promote import flow_text, runtime

CONFIG = REPO / "pyproject.toml"
WIDTH = 100

LONG_NAMES = '''\
"""Readings of a weather network, with names long enough to break every line kit writes."""

import datetime

import numpy as np
import pandas as pd
from hamilton.function_modifiers import tag


def station_readings_of_the_northern_hemisphere(
    number_of_stations_in_the_northern_hemisphere_network: int = 12,
    names_of_the_measurements_that_every_station_reports: tuple[str, ...] = (
        "temperature_in_degrees_celsius",
        "relative_humidity_in_percent",
        "wind_speed_in_metres_per_second",
    ),
    first_day_of_the_observation_period: datetime.date = datetime.date(2024, 1, 1),
) -> pd.DataFrame:
    """One row per station and measurement."""
    return pd.DataFrame(
        {
            "station": range(number_of_stations_in_the_northern_hemisphere_network),
            "day": first_day_of_the_observation_period,
        }
    )


@tag(prefect_task="summaries_of_the_northern_network")
def average_reading_per_northern_station(
    station_readings_of_the_northern_hemisphere: pd.DataFrame,
    threshold_for_outliers_among_the_readings_of_a_station: float,
) -> pd.Series:
    """The mean reading of each station, outliers left out."""
    return station_readings_of_the_northern_hemisphere.groupby("station")["station"].mean()


@tag(prefect_task="arrays_for_the_downstream_models")
def readings_as_an_array_for_the_models(
    average_reading_per_northern_station: pd.Series,
    station_readings_of_the_northern_hemisphere: pd.DataFrame,
) -> np.ndarray:
    """The averages as a numpy array."""
    return average_reading_per_northern_station.to_numpy()
'''
LONG_OUTPUTS = [
    "readings_as_an_array_for_the_models",
    "average_reading_per_northern_station",
]
STRATEGIES = ["single", "by-module", "per-output", "by-tag"]
ML_SPLIT = {"prepare": ["area"], "fit": ["score", "save_predictions"]}
LONG_SPLIT = {
    "averages_of_the_northern_stations": [LONG_OUTPUTS[1]],
    "arrays_of_the_northern_stations": [LONG_OUTPUTS[0]],
}
OPTIONS = [
    {},
    {"cache": True},
    {"retries": 3, "retry_delay": 2.5},
    {"tags": ["nightly", "team-of-the-northern-hemisphere-weather-network"]},
    {"cache": True, "retries": 1, "tags": ["nightly"]},
]


def ruff(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ruff with the project's configuration."""
    command = [sys.executable, "-m", "ruff", *map(str, arguments), "--config", str(CONFIG)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO)


def assert_clean(files: list[Path]) -> None:
    """Every file passes `ruff check` and `ruff format --check`, and no line passes 100 columns."""
    assert files
    checked = ruff("check", "--no-cache", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--check", "--diff", "--no-cache", *files)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert len(line) <= WIDTH, f"{path.name}:{number} has {len(line)} columns: {line}"


def write_flows(ws: kit.Workspace, folder: Path, flows: dict[str, tuple]) -> list[Path]:
    """The text of each flow (FLOW -> (outputs, tasks, options)) in `folder`, and the helper."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (outputs, tasks, options) in flows.items():
        _, text = flow_text(ws, promote_line(name, outputs, tasks, **options))
        written.append(folder / f"{name}.py")
        written[-1].write_text(text)
    helper = folder / "_runtime.py"
    helper.write_text(runtime.runtime_text())
    return [*written, helper]


def test_the_committed_modules_and_flows_are_clean() -> None:
    files = sorted((REPO / "modules").glob("*.py")) + sorted((REPO / "flows").glob("*.py"))
    assert REPO / "flows" / "_runtime.py" in files
    assert_clean(files)


def test_flows_of_every_strategy_and_option_are_clean(project: Path, tmp_path: Path) -> None:
    ws = load_workspace(*ML_MODULES, config={"scaling": "standard"})
    flows = {
        f"ml_{strategy.replace('-', '_')}_{index}": (ML_OUTPUTS, strategy, options)
        for strategy in STRATEGIES
        for index, options in enumerate(OPTIONS)
    }
    flows["ml_explicit"] = (ML_OUTPUTS, ML_SPLIT, {"retries": 2})
    files = write_flows(ws, tmp_path / "lint", flows)
    assert len(files) == len(STRATEGIES) * len(OPTIONS) + 2
    assert_clean(files)


@pytest.mark.parametrize("tasks", [*STRATEGIES, "explicit"])
def test_flows_with_long_names_are_clean(project: Path, tmp_path: Path, tasks: str) -> None:
    ws = load_workspace()
    ws.add_cell("readings_of_the_weather_stations_of_the_northern_hemisphere", LONG_NAMES)
    ws.config = {"names_of_the_configured_regions": ["northern_hemisphere"] * 6, "n": 3}
    flow = "summaries_of_the_weather_stations_of_the_northern_hemisphere"
    split = LONG_SPLIT if tasks == "explicit" else tasks
    options = {"cache": True, "retries": 2, "tags": ["team-of-the-northern-hemisphere"]}
    files = write_flows(ws, tmp_path / "lint", {flow: (LONG_OUTPUTS, split, options)})
    text = files[0].read_text()
    assert "\nimport datetime\n" in text  # a parameter annotation needs it
    assert max(map(len, text.splitlines())) > 80  # the names are long enough to matter
    assert_clean(files)
