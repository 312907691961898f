"""Question 3, how much data the model needs: the learning-curve rule. No Spark here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain_advisor.analyses.comparisons.rules import compare_arms
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import acceptable_drop
from retrain_advisor.foundation.vocabulary import ROWS


def learning_curve_rows(
    per_origin: pd.DataFrame, greater_is_better: bool, tolerance: ToleranceConfig, samples: int, seed: int
) -> pd.DataFrame:
    """Both axes of one slice's learning curve, each against its largest arm.

    The minimum is the smallest arm whose mean drop from the largest is within tolerance.
    """
    parts = []
    for axis, frame in per_origin.groupby("axis"):
        size = frame["train_rows"] if axis == ROWS else frame["lookback"].fillna(np.inf)
        compared = compare_arms(
            frame, size == size.max(), greater_is_better, tolerance.confidence, samples, seed
        ).rename(columns={"is_reference": "is_largest"})
        compared["drop_from_largest"] = -compared["mean_diff"]
        compared["drop_ci_low"] = -compared["diff_ci_high"]
        compared["drop_ci_high"] = -compared["diff_ci_low"]
        largest = compared.loc[compared["is_largest"], "mean"]
        limit = acceptable_drop(tolerance, float(largest.iloc[0]) if len(largest) else np.nan, greater_is_better)
        compared["is_within_tolerance"] = compared["drop_from_largest"] <= limit
        order = compared["train_rows"] if axis == ROWS else compared["lookback"].fillna(np.inf)
        smallest = order[compared["is_within_tolerance"]].min()
        compared["is_minimum"] = compared["is_within_tolerance"] & (order == smallest)
        parts.append(compared)
    return pd.concat(parts, ignore_index=True)


def minimum_training_size(curve: pd.DataFrame) -> tuple[int | None, bool]:
    """(rows the smallest arm within tolerance of the largest trained on, whether the curve still
    climbs at its end)."""
    rows = curve[curve["axis"] == ROWS].sort_values("train_rows_max")
    if rows.empty:
        return None, False
    chosen = rows[rows["is_minimum"]] if rows["is_minimum"].any() else rows.tail(1)
    climbing = len(rows) >= 2 and not bool(rows.iloc[-2]["is_within_tolerance"])
    return int(round(float(chosen["train_rows_used"].iloc[0]))), climbing
