"""Question 1, how quickly quality goes down: the shelf-life rule on the regret curve. No Spark here.

Two readings of one curve, both on bounds, never on point estimates:
- the shelf life: the first age a >= 1 whose regret surely exceeds the tolerance (the interval's
  lower bound clears it) at a and at the next persistence - 1 ages;
- the ages surely within tolerance: ages 0 .. n - 1 whose regret's upper bound is within it.
Between the two lies what the history cannot settle. The recommendation never serves a model
at an age that is not surely within tolerance.

Ages measured on fewer than `min_origins` origins are neither a breach nor surely within.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from retrain_advisor.foundation.config import ToleranceConfig


@dataclass(frozen=True)
class ShelfLife:
    """`periods`: the first age surely beyond tolerance; when censored (no such age up to the
    largest tested), at least `periods` (= largest age + 1). `within_periods`: ages
    0..within_periods - 1 are surely within tolerance."""

    periods: int
    censored: bool
    breach: str | None
    within_periods: int
    max_age_tested: int


def breached(row: pd.Series, tolerance: ToleranceConfig, greater_is_better: bool) -> str | None:
    """Which tolerance the age's interval surely exceeds (absolute, relative, floor), or None."""
    if tolerance.absolute is not None and row["regret_ci_low"] > tolerance.absolute:
        return "absolute"
    if tolerance.relative is not None and row["relative_regret_ci_low"] > tolerance.relative:
        return "relative"
    if tolerance.floor is not None:
        beyond = row["ci_high"] < tolerance.floor if greater_is_better else row["ci_low"] > tolerance.floor
        if beyond:
            return "floor"
    return None


def surely_within(row: pd.Series, tolerance: ToleranceConfig, greater_is_better: bool) -> bool:
    """Whether every tolerance that is set holds at the interval's far end."""
    if row["model_age"] == 0:
        return True  # the fresh model is its own reference
    checks = []
    if tolerance.absolute is not None:
        checks.append(row["regret_ci_high"] <= tolerance.absolute)
    if tolerance.relative is not None:
        checks.append(row["relative_regret_ci_high"] <= tolerance.relative)
    if tolerance.floor is not None:
        checks.append(row["ci_low"] >= tolerance.floor if greater_is_better else row["ci_high"] <= tolerance.floor)
    return bool(checks) and all(bool(c) for c in checks)


def shelf_life(curve: pd.DataFrame, tolerance: ToleranceConfig, greater_is_better: bool) -> ShelfLife:
    """Both readings of one metric's curve (the rows of one slice and season, every age)."""
    curve = curve.sort_values("model_age")
    max_age = int(curve["model_age"].max()) if len(curve) else 0
    eligible = curve[curve["n_origins"] >= tolerance.min_origins]
    flags = {int(r["model_age"]): breached(r, tolerance, greater_is_better) for _, r in eligible.iterrows()}
    flags = {age: kind for age, kind in flags.items() if age >= 1}
    breach_age, kind = max_age + 1, None
    for age in sorted(flags):
        run = [flags.get(age + k) for k in range(tolerance.persistence)]
        if all(run):
            breach_age, kind = age, run[0]
            break
    sure = {int(r["model_age"]): surely_within(r, tolerance, greater_is_better) for _, r in eligible.iterrows()}
    within = 0
    while sure.get(within, False):
        within += 1
    return ShelfLife(breach_age, kind is None, kind, within, max_age)
