"""Question 4, whether to drop old data: every lookback and recency weighting against all history,
and the verdict. No Spark here.

All arms are compared with all history at once, so their intervals are simultaneous
(Bonferroni over the arms): picking the best of many arms does not make a chance winner look
reliable, and the chosen arm's interval is reported as it is.
- drop_older / down_weight, reason older_data_hurts: some arm is surely better than all
  history (its simultaneous lower bound is above 0); the best of them is chosen;
- drop_older, reason older_data_adds_nothing: no arm is surely better, but some shorter
  lookbacks surely cost less than the tolerance; the shortest of them is chosen (retraining on
  less data is cheaper), and the rationale says what it may cost;
- keep_all, reason older_data_helps: every shorter lookback surely costs more than the tolerance;
- keep_all, reason not_settled: the history cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.analyses.comparisons.rules import compare_to_reference
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import acceptable_drop
from retrain_advisor.foundation.vocabulary import (
    DOWN_WEIGHT,
    DROP_OLDER,
    KEEP_ALL,
    NOT_SETTLED,
    OLDER_DATA_ADDS_NOTHING,
    OLDER_DATA_HELPS,
    OLDER_DATA_HURTS,
)


def window_comparison_rows(
    per_origin: pd.DataFrame, greater_is_better: bool, tolerance: ToleranceConfig
) -> pd.DataFrame:
    """One slice's arms (the arm values of `arm_values`) against all history, unweighted."""
    reference_mask = per_origin["lookback"].isna() & per_origin["half_life"].isna()
    reference = per_origin[reference_mask]
    keys = [per_origin["lookback"].astype(str), per_origin["half_life"].astype(str)]
    groups = list(per_origin.groupby(keys, sort=True))
    family = sum(1 for _, g in groups if not (g["lookback"].isna() & g["half_life"].isna()).all())
    confidence = tolerance.confidence
    reference_level = float(reference["value"].mean()) if len(reference) else np.nan
    limit = acceptable_drop(tolerance, reference_level, greater_is_better)
    rows = []
    for _, group in groups:
        first = group.iloc[0]
        is_reference = bool(pd.isna(first["lookback"]) and pd.isna(first["half_life"]))
        compared = compare_to_reference(group, reference, greater_is_better)
        low, high = (0.0, 0.0) if is_reference else compared.difference.simultaneous(confidence, family)
        rows.append(
            {
                "slice_value": first["slice_value"],
                "lookback_periods": first["lookback"],
                "half_life_periods": first["half_life"],
                "is_reference": is_reference,
                "n_origins": compared.n_origins,
                "train_rows_used": compared.train_rows_used,
                "mean": compared.level.mean,
                "ci_low": compared.level.interval(confidence)[0],
                "ci_high": compared.level.interval(confidence)[1],
                "mean_diff": 0.0 if is_reference else compared.difference.mean,
                "diff_ci_low": low,
                "diff_ci_high": high,
                "family_size": family,
                "prob_within_tolerance": 1.0 if is_reference else 1 - compared.difference.probability_at_most(-limit),
                "tolerance_limit": limit,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LookbackVerdict:
    verdict: str
    reason: str
    lookback: int | None = None
    half_life: float | None = None
    mean_diff: float = 0.0  # the chosen arm against all history; positive = better
    diff_interval: tuple[float, float] = (0.0, 0.0)  # simultaneous over every arm
    rows_share: float | None = None  # the chosen arm's training rows as a share of all history's


def lookback_verdict(windows: pd.DataFrame) -> LookbackVerdict:
    """The verdict from one slice's window_comparison rows (see the module docstring)."""
    if windows.empty or "is_reference" not in windows:
        return LookbackVerdict(KEEP_ALL, NOT_SETTLED)
    arms = windows[~windows["is_reference"].astype(bool)].dropna(subset=["diff_ci_low", "diff_ci_high"])
    if arms.empty:
        return LookbackVerdict(KEEP_ALL, NOT_SETTLED)
    limit = float(arms["tolerance_limit"].iloc[0])
    reference_rows = windows.loc[windows["is_reference"].astype(bool), "train_rows_used"]
    better = arms[arms["diff_ci_low"] > 0]
    if len(better):
        return _chosen(better.sort_values("mean_diff", ascending=False).iloc[0], OLDER_DATA_HURTS, reference_rows)
    lookbacks = arms[arms["half_life_periods"].isna()]
    harmless = lookbacks[lookbacks["diff_ci_low"] >= -limit]
    if len(harmless):
        shortest = harmless.sort_values("lookback_periods").iloc[0]
        return _chosen(shortest, OLDER_DATA_ADDS_NOTHING, reference_rows)
    if len(lookbacks) and (lookbacks["diff_ci_high"] < -limit).all():
        return LookbackVerdict(KEEP_ALL, OLDER_DATA_HELPS)
    return LookbackVerdict(KEEP_ALL, NOT_SETTLED)


def _chosen(arm: pd.Series, reason: str, reference_rows: pd.Series) -> LookbackVerdict:
    interval = (float(arm["diff_ci_low"]), float(arm["diff_ci_high"]))
    share = (
        float(arm["train_rows_used"]) / float(reference_rows.iloc[0])
        if len(reference_rows) and float(reference_rows.iloc[0]) > 0
        else None
    )
    if not pd.isna(arm["half_life_periods"]):
        half_life = float(arm["half_life_periods"])
        return LookbackVerdict(DOWN_WEIGHT, reason, None, half_life, float(arm["mean_diff"]), interval, share)
    lookback = int(arm["lookback_periods"])
    return LookbackVerdict(DROP_OLDER, reason, lookback, None, float(arm["mean_diff"]), interval, share)
