"""Question 4, whether to drop old data: the lookback verdict from the paired differences
against all history. No Spark here."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from retrain_advisor.foundation.vocabulary import DOWN_WEIGHT, DROP_OLDER, KEEP_ALL


@dataclass(frozen=True)
class LookbackVerdict:
    verdict: str
    lookback: int | None = None
    half_life: float | None = None
    mean_diff: float = 0.0  # the chosen arm against all history; positive = better
    diff_interval: tuple[float, float] = (0.0, 0.0)


def lookback_verdict(windows: pd.DataFrame, tolerance_limit: float) -> LookbackVerdict:
    """Keep all, drop older than L, or down-weight, from the paired differences against all history."""
    arms = windows[~windows["is_reference"].astype(bool)].dropna(subset=["mean_diff"])
    best = arms.sort_values("mean_diff", ascending=False).head(1)
    harmless = arms[arms["half_life_periods"].isna() & (arms["diff_ci_low"] >= -tolerance_limit)]
    if len(best) and best.iloc[0]["diff_ci_low"] > 0:
        chosen = best.iloc[0]
    elif len(harmless):
        chosen = harmless.sort_values("lookback_periods").iloc[0]
    else:
        return LookbackVerdict(KEEP_ALL)
    interval = (float(chosen["diff_ci_low"]), float(chosen["diff_ci_high"]))
    if not pd.isna(chosen["half_life_periods"]):
        return LookbackVerdict(DOWN_WEIGHT, None, float(chosen["half_life_periods"]), chosen["mean_diff"], interval)
    return LookbackVerdict(DROP_OLDER, int(chosen["lookback_periods"]), None, float(chosen["mean_diff"]), interval)
