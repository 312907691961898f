"""Paired comparisons of arms that share training ends and test periods (questions 3 and 4).

Each arm (a training size, a lookback, a recency weighting) has one value per origin; it is
compared with a reference arm origin by origin, with a seeded bootstrap over origins. No Spark here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain_advisor.foundation.schemas import RUN_KEY
from retrain_advisor.foundation.statistics import bootstrap_mean_interval, group_seed


def _arm_label(frame: pd.DataFrame) -> pd.Series:
    return frame[["train_rows", "lookback", "half_life"]].astype(str).agg("|".join, axis=1)


def compare_arms(
    per_origin: pd.DataFrame,
    reference: pd.Series,
    greater_is_better: bool,
    confidence: float,
    samples: int,
    seed: int,
) -> pd.DataFrame:
    """One row per arm: spread across origins, and the paired difference arm - reference.

    `reference` marks the reference arm's rows. Differences are in the better direction:
    positive means the arm beats the reference. Only origins measured in both arms pair up.
    """
    sign = 1.0 if greater_is_better else -1.0
    per_origin = per_origin.assign(arm=_arm_label(per_origin))
    base = per_origin[reference].set_index("train_end")["value"]
    rows = []
    for arm, group in per_origin.groupby("arm", sort=False):
        group = group.sort_values("train_end")
        first = group.iloc[0]
        arm_seed = group_seed(seed, first["slice_value"], first["analysis"], first["axis"], arm)
        values = group["value"].to_numpy(float)
        low, high = bootstrap_mean_interval(values, confidence, samples, arm_seed)
        paired = group.set_index("train_end")["value"].align(base, join="inner")
        diffs = sign * (paired[0] - paired[1]).to_numpy(float)
        diff_low, diff_high = bootstrap_mean_interval(diffs, confidence, samples, arm_seed + 1)
        rows.append(
            {
                **{k: first[k] for k in [*RUN_KEY, *ARM_KEY]},
                "n_origins": len(group),
                "train_rows_used": float(group["train_rows_used"].mean()),
                "train_periods": float(group["train_periods"].mean()),
                "mean": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "mean_diff": float(diffs.mean()) if len(diffs) else np.nan,
                "diff_ci_low": diff_low,
                "diff_ci_high": diff_high,
                "is_reference": bool(reference[group.index].all()),
            }
        )
    return pd.DataFrame(rows)


ARM_KEY = ["analysis", "axis", "train_rows", "lookback", "half_life"]
