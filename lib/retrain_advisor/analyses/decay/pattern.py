"""The name of a decay: stable, gradual (linear or saturating), abrupt (with a date), recurring or
widening variance. No Spark here.

- abrupt: calendar events explain the loss: the models trained before an event lose more than
  the tolerance after it, while without the cells that straddle an event the regret stays
  under half the tolerance at every age;
- recurring: the regret rises beyond the tolerance and, at an older age, falls back under half
  of it, surely below its peak (a season or a cycle that comes back);
- widening variance: the spread of the regret across origins at the oldest ages is at least
  twice the spread at the youngest and larger than the mean regret there, and a quarter of the
  origins lose more than the tolerance there: models age at different speeds, and their mean
  says little (models that share fewer training
  rows differ more by chance; that alone is not widening);
- gradual: the mean regret reaches half the tolerance; saturating when a curve that levels off,
  c (1 - exp(-a / s)), fits the mean regret clearly better than a line through the origin,
  linear otherwise;
- stable otherwise.
The calibration harness scores these rules on histories whose pattern is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain_advisor.foundation.vocabulary import (
    ABRUPT,
    GRADUAL,
    LINEAR,
    RECURRING,
    SATURATING,
    STABLE,
    WIDENING,
)

SATURATING_FIT = 0.5  # a levelling curve leaving this share of a line's squared error is saturating
WIDENING_RATIO = 2.0


def decay_pattern(
    curve: pd.DataFrame, limit: float, min_origins: int, straddling_regret: float | None = None
) -> tuple[str, str | None]:
    """(pattern, shape) of one metric's ageing curve; `straddling_regret` is the mean regret of
    the cells that straddle a calendar event (None when there is none)."""
    ages = curve[(curve["n_origins"] >= min_origins) & curve["mean_regret"].notna()].sort_values("model_age")
    later = ages[ages["model_age"] >= 1]
    if later.empty or not np.isfinite(limit):
        return STABLE, None
    regret = later["mean_regret"].to_numpy(dtype=float)
    if straddling_regret is not None and straddling_regret > limit and regret.max() <= limit / 2:
        return ABRUPT, None
    if _comes_back(later, limit):
        return RECURRING, None
    if _widens(later, limit):
        return WIDENING, None
    if regret.max() >= limit / 2:
        return GRADUAL, _shape(later["model_age"].to_numpy(dtype=float), regret)
    return STABLE, None


def _widens(later: pd.DataFrame, limit: float) -> bool:
    """Over the oldest third of ages, the interquartile range across origins is twice the youngest
    third's and above the mean regret, and a quarter of the origins lose more than the tolerance
    against the fresh model (the upper quartile reaches it)."""
    spread = (later["regret_q75"] - later["regret_q25"]).to_numpy(dtype=float)
    if len(spread) < 4:
        return False
    third = max(2, len(spread) // 3)
    late, early = float(np.nanmean(spread[-third:])), float(np.nanmean(spread[:third]))
    late_mean = float(np.nanmean(later["mean_regret"].to_numpy(dtype=float)[-third:]))
    worst_quarter = float(np.nanmean(later["regret_q75"].to_numpy(dtype=float)[-third:]))
    return late >= WIDENING_RATIO * max(early, 1e-9) and late > abs(late_mean) and worst_quarter >= limit


def _comes_back(later: pd.DataFrame, limit: float) -> bool:
    """At some age the regret is surely beyond the tolerance, and at an older age it falls under
    half of it, surely below that peak."""
    lows = later["regret_ci_low"].to_numpy(dtype=float)
    highs = later["regret_ci_high"].to_numpy(dtype=float)
    means = later["mean_regret"].to_numpy(dtype=float)
    for peak in np.flatnonzero(lows > limit):
        after = slice(peak + 1, None)
        if np.any((means[after] <= limit / 2) & (highs[after] < lows[peak])):
            return True
    return False


def _shape(ages: np.ndarray, regret: np.ndarray) -> str:
    """Linear or saturating: which of a line through the origin and c (1 - exp(-a / s)) fits."""
    line = _through_origin(ages, regret)
    best = min(_through_origin(1 - np.exp(-ages / scale), regret) for scale in np.geomspace(0.3, 4 * ages.max(), 40))
    return SATURATING if best < SATURATING_FIT * line else LINEAR


def _through_origin(basis: np.ndarray, values: np.ndarray) -> float:
    """Squared error of the least-squares fit values ~ c * basis."""
    scale = float(basis @ values / max(float(basis @ basis), 1e-12))
    return float(((values - scale * basis) ** 2).sum())
