"""Synthetic measurements: one row per shape, split into columns."""

import numpy as np
import pandas as pd
from hamilton.function_modifiers import extract_columns

CALLS: list[str] = []


def raw(rows: int = 40, seed: int = 7) -> pd.DataFrame:
    """Random heights and widths, and a label that depends on both."""
    CALLS.append("raw")
    generator = np.random.default_rng(seed)
    height = generator.uniform(1.0, 5.0, rows)
    width = generator.uniform(1.0, 3.0, rows)
    return pd.DataFrame({"height": height, "width": width, "label": 2.0 * height * width + 1.0})


@extract_columns("height", "width", "label")
def table(raw: pd.DataFrame) -> pd.DataFrame:
    """The raw rows; Hamilton extracts the three columns."""
    CALLS.append("table")
    return raw
