"""A module whose first node Hamilton loads from a CSV file (@load_from makes the loader nodes)."""

import pandas as pd
from hamilton.function_modifiers import load_from, source, tag

CALLS: list[str] = []


@tag(prefect_task="load")
@load_from.csv(path=source("measurements_path"))
def measurements(df: pd.DataFrame) -> pd.DataFrame:
    CALLS.append("measurements")
    return df


def mean_width(measurements: pd.DataFrame) -> float:
    CALLS.append("mean_width")
    return float(measurements["width"].mean())
