"""Pure statistics of the decay curve: bootstrap intervals, the shelf-life rule, the decay pattern.

The unit of replication is the origin (a fit's training end). No Spark here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import acceptable_drop, bootstrap_mean_interval
from retrain_advisor.foundation.vocabulary import ABRUPT, GRADUAL, STABLE, WIDENING

ABRUPT_FIT = 0.5  # a one-step curve explaining the drops this much better than a line is abrupt
WIDENING_RATIO = 2.0  # late spread this many times the early spread makes the variance widening


def summarize_age(
    values: np.ndarray, drops: np.ndarray, relative_drops: np.ndarray, confidence: float, samples: int, seed: int
) -> dict[str, float | int]:
    """Spread and intervals across origins at one model age."""
    low, high = bootstrap_mean_interval(values, confidence, samples, seed)
    drop_low, drop_high = bootstrap_mean_interval(drops, confidence, samples, seed + 1)
    rel_low, rel_high = bootstrap_mean_interval(relative_drops, confidence, samples, seed + 2)
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75]) if len(values) else (np.nan,) * 3
    return {
        "n_origins": int(len(values)),
        "mean": float(np.mean(values)) if len(values) else float("nan"),
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
        "ci_low": low,
        "ci_high": high,
        "mean_drop": float(np.mean(drops)) if len(drops) else float("nan"),
        "drop_ci_low": drop_low,
        "drop_ci_high": drop_high,
        "mean_relative_drop": float(np.mean(relative_drops)) if len(relative_drops) else float("nan"),
        "relative_drop_ci_low": rel_low,
        "relative_drop_ci_high": rel_high,
    }


def breached(row: pd.Series, tolerance: ToleranceConfig, greater_is_better: bool) -> str | None:
    """Which tolerance the age's interval reliably exceeds (absolute, relative, floor), or None."""
    if tolerance.absolute is not None and row["drop_ci_low"] > tolerance.absolute:
        return "absolute"
    if tolerance.relative is not None and row["relative_drop_ci_low"] > tolerance.relative:
        return "relative"
    if tolerance.floor is not None:
        beyond = row["ci_high"] < tolerance.floor if greater_is_better else row["ci_low"] > tolerance.floor
        if beyond:
            return "floor"
    return None


@dataclass(frozen=True)
class ShelfLife:
    """`periods`: ages 0..periods-1 stay within tolerance. Censored: no breach up to the largest age
    tested, so the true shelf life is at least `periods` (= largest age + 1)."""

    periods: int
    censored: bool
    breach: str | None
    max_age_tested: int
    pattern: str


def shelf_life(curve: pd.DataFrame, tolerance: ToleranceConfig, greater_is_better: bool, min_origins: int) -> ShelfLife:
    """Apply the shelf-life rule to one metric's curve (columns of `summarize_age` plus model_age).

    The shelf life ends at the first age a >= 1 whose interval clears the tolerance at a and at
    the next persistence - 1 ages too, so one noisy period does not end it. Ages measured on
    fewer than `min_origins` origins never count as a breach.
    """
    curve = curve.sort_values("model_age")
    eligible = curve[(curve["model_age"] >= 1) & (curve["n_origins"] >= min_origins)]
    flags = {int(r.model_age): breached(r, tolerance, greater_is_better) for _, r in eligible.iterrows()}
    max_age = int(curve["model_age"].max()) if len(curve) else 0
    pattern = decay_pattern(curve, tolerance, greater_is_better, min_origins)
    for age in sorted(flags):
        run = [flags.get(age + k) for k in range(tolerance.persistence)]
        if all(run):
            return ShelfLife(age, False, run[0], max_age, pattern)
    return ShelfLife(max_age + 1, True, None, max_age, pattern)


def _drop_scale(curve: pd.DataFrame, tolerance: ToleranceConfig, greater_is_better: bool) -> float:
    """The tolerance expressed as an absolute drop from fresh quality, for naming the pattern."""
    fresh = curve.loc[curve["model_age"] == 0, "mean"]
    return acceptable_drop(tolerance, float(fresh.iloc[0]) if len(fresh) else float("nan"), greater_is_better)


def decay_pattern(
    curve: pd.DataFrame, tolerance: ToleranceConfig, greater_is_better: bool, min_origins: int = 1
) -> str:
    """stable, gradual, abrupt or widening_variance, from the mean drop and the quartile spread by age.

    Only ages measured on at least `min_origins` origins, with a mean drop, take part.
    """
    curve = curve.sort_values("model_age")
    measured = curve[(curve["n_origins"] >= min_origins) & curve["mean_drop"].notna()]
    later = measured[measured["model_age"] >= 1]
    if later.empty:
        return STABLE
    scale = _drop_scale(curve, tolerance, greater_is_better)
    ages = np.concatenate([[0.0], later["model_age"].to_numpy(dtype=float)])
    drops = np.concatenate([[0.0], later["mean_drop"].to_numpy(dtype=float)])
    largest = float(drops.max())
    spread = (measured["q75"] - measured["q25"]).to_numpy(dtype=float)
    third = max(2, len(spread) // 3)
    widening = np.nanmean(spread[-third:]) >= WIDENING_RATIO * max(float(np.nanmean(spread[:third])), 1e-9)
    if not np.isfinite(scale) or largest < scale / 2:
        return WIDENING if widening else STABLE
    return ABRUPT if _step_beats_line(ages, drops) else GRADUAL


def _step_beats_line(ages: np.ndarray, drops: np.ndarray) -> bool:
    """Compare the best single jump (two flat levels) with a straight line through the origin."""
    slope = float(ages @ drops / max(ages @ ages, 1e-12))
    line_error = float(((drops - slope * ages) ** 2).sum())
    step_error = min(
        float(((drops[:cut] - drops[:cut].mean()) ** 2).sum() + ((drops[cut:] - drops[cut:].mean()) ** 2).sum())
        for cut in range(1, len(drops))
    )
    return step_error < ABRUPT_FIT * line_error
