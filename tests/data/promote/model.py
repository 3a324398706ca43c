"""A least-squares model of the label, its predictions (saved to CSV) and its score."""

import numpy as np
import pandas as pd
from hamilton.function_modifiers import save_to, source, tag

CALLS: list[str] = []


def design(scaled: pd.DataFrame) -> pd.DataFrame:
    CALLS.append("design")
    return scaled.assign(intercept=1.0)


@tag(prefect_task="train")
def weights(design: pd.DataFrame, label: pd.Series) -> pd.Series:
    """Least-squares weights of the design columns."""
    CALLS.append("weights")
    solution, *_ = np.linalg.lstsq(design.to_numpy(), label.to_numpy(), rcond=None)
    return pd.Series(solution, index=design.columns)


def predictions(design: pd.DataFrame, weights: pd.Series) -> pd.Series:
    CALLS.append("predictions")
    return design @ weights


@save_to.csv(path=source("predictions_path"), output_name_="save_predictions")
def prediction_table(predictions: pd.Series, label: pd.Series) -> pd.DataFrame:
    CALLS.append("prediction_table")
    return pd.DataFrame({"prediction": predictions, "label": label})


@tag(prefect_task="evaluate")
def score(predictions: pd.Series, label: pd.Series) -> float:
    """Mean absolute error."""
    CALLS.append("score")
    return float((predictions - label).abs().mean())
