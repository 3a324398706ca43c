"""Features of each shape, scaled by the method the config chooses."""

import pandas as pd
from hamilton.function_modifiers import config

CALLS: list[str] = []


def area(height: pd.Series, width: pd.Series) -> pd.Series:
    CALLS.append("area")
    return height * width


def ratio(height: pd.Series, width: pd.Series) -> pd.Series:
    CALLS.append("ratio")
    return height / width


def feature_frame(area: pd.Series, ratio: pd.Series) -> pd.DataFrame:
    CALLS.append("feature_frame")
    return pd.DataFrame({"area": area, "ratio": ratio})


@config.when(scaling="standard")
def scaled__standard(feature_frame: pd.DataFrame) -> pd.DataFrame:
    """Zero mean, unit variance."""
    CALLS.append("scaled__standard")
    return (feature_frame - feature_frame.mean()) / feature_frame.std()


@config.when(scaling="minmax")
def scaled__minmax(feature_frame: pd.DataFrame) -> pd.DataFrame:
    """Between 0 and 1."""
    CALLS.append("scaled__minmax")
    low, high = feature_frame.min(), feature_frame.max()
    return (feature_frame - low) / (high - low)


@config.when(scaling="by_label")
def scaled__by_label(feature_frame: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    """Divided by the label's mean: this variant needs a node (label) the others do not."""
    CALLS.append("scaled__by_label")
    return feature_frame / label.mean()
