"""Question 3, how much data the model needs: the learning curve and the minimum training size.
No Spark here.

On each axis (training rows, training periods) every arm is compared with the largest, paired by
origin. An arm is within tolerance when the upper bound of its loss against the largest is; the
minimum is the smallest arm for which it and every larger arm are within tolerance, so a noisy
small arm that happens to look good never undercuts a larger one that fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain_advisor.analyses.comparisons.rules import compare_to_reference
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import acceptable_drop
from retrain_advisor.foundation.vocabulary import ROWS


def learning_curve_rows(per_origin: pd.DataFrame, greater_is_better: bool, tolerance: ToleranceConfig) -> pd.DataFrame:
    """Both axes of one slice's learning curve (the arm values of `arm_values`)."""
    parts = []
    for axis, frame in per_origin.groupby("axis", sort=True):
        size = frame["train_rows"].astype(float) if axis == ROWS else frame["lookback"].astype(float).fillna(np.inf)
        frame = frame.assign(_size=size)
        largest = frame[frame["_size"] == frame["_size"].max()]
        rows = []
        for arm_size, group in frame.groupby("_size", sort=True):
            compared = compare_to_reference(group, largest, greater_is_better)
            first = group.iloc[0]
            rows.append(
                {
                    "slice_value": first["slice_value"],
                    "axis": axis,
                    "train_rows_max": first["train_rows"],
                    "lookback_periods": first["lookback"],
                    "size": arm_size,
                    "n_origins": compared.n_origins,
                    "train_rows_used": compared.train_rows_used,
                    "train_periods": compared.train_periods,
                    "level": compared.level,
                    "difference": compared.difference,
                    "is_largest": bool(arm_size == frame["_size"].max()),
                }
            )
        parts.append(_decide(rows, greater_is_better, tolerance))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _decide(rows: list[dict], greater_is_better: bool, tolerance: ToleranceConfig) -> pd.DataFrame:
    """Within tolerance on bounds, and the monotone minimum, for one axis (rows sorted by size)."""
    confidence = tolerance.confidence
    largest = next(r for r in rows if r["is_largest"])
    limit = acceptable_drop(tolerance, largest["level"].mean, greater_is_better)
    table = []
    for row in rows:
        level, difference = row.pop("level"), row.pop("difference")
        low, high = difference.interval(confidence)
        within = bool(row["is_largest"] or (np.isfinite(low) and -low <= limit))
        table.append(
            {
                **row,
                "mean": level.mean,
                "ci_low": level.interval(confidence)[0],
                "ci_high": level.interval(confidence)[1],
                "drop_from_largest": 0.0 if row["is_largest"] else -difference.mean,
                "drop_ci_low": 0.0 if row["is_largest"] else -high,
                "drop_ci_high": 0.0 if row["is_largest"] else -low,
                "prob_within_tolerance": 1.0 if row["is_largest"] else 1 - difference.probability_at_most(-limit),
                "is_within_tolerance": within,
            }
        )
    frame = pd.DataFrame(table).sort_values("size")
    # the minimum: the smallest arm from which every larger arm is within tolerance
    failing = frame.loc[~frame["is_within_tolerance"], "size"]
    floor = failing.max() if len(failing) else -np.inf
    eligible = frame[frame["size"] > floor]
    frame["is_minimum"] = frame["size"] == eligible["size"].min()
    return frame.drop(columns="size")


def minimum_training_size(curve: pd.DataFrame) -> tuple[int | None, bool]:
    """(rows the minimum arm trained on, whether the largest arm alone is within tolerance: the
    curve still climbs at its end and more data would help)."""
    if curve.empty or "axis" not in curve:
        return None, False
    rows = curve[curve["axis"] == ROWS].sort_values("train_rows_max")
    if rows.empty:
        return None, False
    chosen = rows[rows["is_minimum"]] if rows["is_minimum"].any() else rows.tail(1)
    climbing = len(rows) >= 2 and not bool(rows.iloc[-2]["is_within_tolerance"])
    return int(round(float(chosen["train_rows_used"].iloc[0]))), climbing
