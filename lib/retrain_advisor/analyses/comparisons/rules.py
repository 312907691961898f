"""Paired comparisons of arms that share training ends and test periods (questions 3 and 4).
No Spark here.

Each arm (a training size, a lookback, a recency weighting) has one value per origin: the
primary metric averaged over its usable test periods. It is compared with a reference arm
origin by origin; the mean difference over origins gets a `serial_mean` interval (origins in
time order, few of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from retrain_advisor.foundation.statistics import MeanEstimate, serial_mean
from retrain_advisor.foundation.vocabulary import LEARNING_CURVE, WINDOW_COMPARISON
from retrain_advisor.planning.plan import Plan

ARM_KEY = ["analysis", "axis", "train_rows", "lookback", "half_life"]


def arm_values(performance: pd.DataFrame, plan: Plan, metric: str, test_periods: int) -> pd.DataFrame:
    """Per slice, arm and origin: the metric averaged over the usable test periods.

    A fit other analyses share is scored at more ages; only the test periods count, so every arm
    is measured on the same periods.
    """
    arms = pd.DataFrame(
        [
            {
                "fit_id": a.fit_id,
                "analysis": a.analysis,
                "axis": a.axis,
                "train_end": a.train_end,
                "train_rows": a.train_rows,
                "lookback": a.lookback,
                "half_life": a.half_life,
                "train_periods": plan.fits[a.fit_id].train_stop - plan.fits[a.fit_id].train_start,
            }
            for a in plan.sorted_arms()
            if a.analysis in (LEARNING_CURVE, WINDOW_COMPARISON)
        ]
    )
    if arms.empty:
        return pd.DataFrame(columns=["slice_value", *ARM_KEY, "train_end", "value", "train_rows_used", "train_periods"])
    tested = performance[
        (performance["metric"] == metric) & (performance["model_age"] < test_periods) & performance["usable"]
    ]
    joined = tested[["slice_value", "fit_id", "train_end", "value", "train_rows_used"]].merge(
        arms, on=["fit_id", "train_end"]
    )
    keys = [joined["slice_value"].fillna(""), *[joined[k].astype(str) for k in ARM_KEY], joined["train_end"]]
    grouped = joined.groupby(keys, sort=True)
    firsts = grouped[["slice_value", *ARM_KEY, "train_end", "train_rows_used", "train_periods"]].first()
    return firsts.assign(value=grouped["value"].mean()).reset_index(drop=True)


@dataclass(frozen=True)
class ArmComparison:
    """One arm against the reference: its own level and the paired difference (positive: the
    arm is better)."""

    level: MeanEstimate
    difference: MeanEstimate
    n_origins: int
    train_rows_used: float
    train_periods: float


def compare_to_reference(group: pd.DataFrame, reference: pd.DataFrame, greater_is_better: bool) -> ArmComparison:
    """`group` and `reference` hold one arm's and the reference arm's values per origin; only
    origins measured in both pair up."""
    sign = 1.0 if greater_is_better else -1.0
    group = group.sort_values("train_end")
    paired = group.set_index("train_end")["value"].align(reference.set_index("train_end")["value"], join="inner")
    differences = sign * (paired[0] - paired[1]).to_numpy(dtype=float)
    return ArmComparison(
        level=serial_mean(group["value"].to_numpy(dtype=float)),
        difference=serial_mean(differences),
        n_origins=int(len(group)),
        train_rows_used=float(group["train_rows_used"].mean()),
        train_periods=float(group["train_periods"].mean()),
    )
