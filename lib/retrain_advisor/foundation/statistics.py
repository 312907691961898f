"""Statistics every analysis shares: the interval of a mean over time-ordered units, seeds that do
not depend on task order, and the tolerance as one acceptable loss. No Spark here.

The unit of replication is an origin (a training end) or a replayed period. Consecutive units
share training data and conditions, and there may be only a few of them. `serial_mean` gives a
t interval for their mean whose variance allows for that dependence: the series is taken as an
AR(1) process plus independent noise (an ARMA(1, 1): autocorrelation c * phi^k at lag k), whose
two parameters come from the lag-1 and lag-2 autocorrelations (bias-corrected for short series),
measured on the series itself or, better, on a longer series of the same kind; a lag-1
autocorrelation that is not significantly positive (one-sided, 5%) counts as independence. The variance of a
mean of n such values is s^2 / n times 1 + 2 sum_k (1 - k/n) c phi^k, with s^2 corrected for the
dependence, and the t quantile has n_eff - 1 degrees of freedom. n_eff is never taken below
MIN_EFFECTIVE: a short series that looks almost perfectly dependent (a trend, a level shift) says
too little about its own spread for the correction to be trusted, and an uncapped one turns a
dozen consistent values into an interval wider than the metric's range. Below MIN_DEPENDENT units the
dependence cannot be measured and the units are taken as independent: the ordinary t interval,
exact for normal values however few. The calibration harness measures the coverage
(docs/statistics.md).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import special

from retrain_advisor.foundation.config import ToleranceConfig

MAX_AUTOCORRELATION = 0.97
MIN_DEPENDENT = 12  # fewest units on which the dependence is measured
MIN_EFFECTIVE = 3.0  # fewest independent units a dependent series counts as
SIGNIFICANT = 1.645  # the lag-1 autocorrelation must exceed this many standard errors (1 / sqrt(n))
NAN = float("nan")


@dataclass(frozen=True)
class Dependence:
    """Autocorrelation c * phi^k at lag k >= 1 (c = 0: independent units)."""

    c: float = 0.0
    phi: float = 0.0

    def variance_factor(self, n: float) -> float:
        """Var(mean of n consecutive units) over Var(unit) / n."""
        if self.c <= 0 or self.phi <= 0 or n < 2:
            return 1.0
        lags = np.arange(1, math.ceil(n))
        return float(1 + 2 * self.c * ((1 - lags / n) * self.phi**lags).sum())


INDEPENDENT = Dependence()


def _autocorrelation(centred: np.ndarray, lag: int) -> float:
    return float(centred[lag:] @ centred[:-lag]) / float(centred @ centred)


def _unbiased(raw: float, n: int) -> float:
    return raw + (1 + 4 * raw) / n  # the first-order bias of a short series' estimate


def estimate_dependence(values: np.ndarray) -> Dependence:
    """The ARMA(1, 1) dependence of a time-ordered series (see the module docstring)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < MIN_DEPENDENT:
        return INDEPENDENT
    centred = values - values.mean()
    if float(centred @ centred) <= 0:
        return INDEPENDENT
    n = len(values)
    raw = _autocorrelation(centred, 1)
    if raw <= SIGNIFICANT / math.sqrt(n):  # not measurably dependent: noise in r2 / r1 would decide
        return INDEPENDENT
    r1 = min(_unbiased(raw, n), MAX_AUTOCORRELATION)
    r2 = _unbiased(_autocorrelation(centred, 2), n)
    phi = min(max(r2 / r1, r1), MAX_AUTOCORRELATION)  # a pure AR(1) at least
    return Dependence(c=min(r1 / phi, 1.0), phi=phi)


@dataclass(frozen=True)
class MeanEstimate:
    """A mean over n time-ordered units with its standard error and t degrees of freedom.

    With fewer than two units there is no interval: bounds and probabilities are NaN.
    """

    mean: float
    standard_error: float
    degrees_of_freedom: float
    n: int

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and math.isfinite(self.standard_error)

    def interval(self, confidence: float) -> tuple[float, float]:
        """The two-sided interval; each bound is a one-sided bound at (1 + confidence) / 2."""
        if not self.has_interval:
            return NAN, NAN
        half = float(special.stdtrit(self.degrees_of_freedom, 0.5 + confidence / 2)) * self.standard_error
        return self.mean - half, self.mean + half

    def simultaneous(self, confidence: float, family: int) -> tuple[float, float]:
        """The interval that holds jointly with `family - 1` others at `confidence` (Bonferroni)."""
        return self.interval(1 - (1 - confidence) / max(family, 1))

    def probability_at_most(self, limit: float) -> float:
        """How sure the true mean is at most `limit`: the confidence of the one-sided upper bound
        that sits at `limit`."""
        if not self.has_interval:
            return NAN
        if self.standard_error == 0:
            return 1.0 if self.mean <= limit else 0.0
        return float(special.stdtr(self.degrees_of_freedom, (limit - self.mean) / self.standard_error))

    def negated(self) -> MeanEstimate:
        return MeanEstimate(-self.mean, self.standard_error, self.degrees_of_freedom, self.n)


def serial_mean(
    values: np.ndarray,
    weights: np.ndarray | None = None,
    dependence: Dependence | None = None,
) -> MeanEstimate:
    """The (weighted) mean of a time-ordered series and its standard error.

    `dependence`: measured on a longer series of the same kind, used unless this series itself
    shows a stronger one; None measures it on this series alone.
    Non-finite values (and units with no weight) are left out. Unequal weights count as
    kish = sum(w)^2 / sum(w^2) units.
    """
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        keep &= np.isfinite(weights) & (weights > 0)
    values = values[keep]
    n = len(values)
    if n == 0:
        return MeanEstimate(NAN, NAN, NAN, 0)
    share = np.full(n, 1.0 / n) if weights is None else weights[keep] / weights[keep].sum()
    mean = float(share @ values)
    if n == 1:
        return MeanEstimate(mean, NAN, NAN, 1)
    kish = 1.0 / float(share @ share)
    variance = float(share @ (values - mean) ** 2) * kish / (kish - 1)
    factor = estimate_dependence(values).variance_factor(kish)
    if dependence is not None:
        factor = max(factor, dependence.variance_factor(kish))
    factor = min(factor, max(kish / MIN_EFFECTIVE, 1.0))
    # a dependent series spreads less around its own mean than around the true one
    variance /= 1 - (factor - 1) / (kish - 1)
    effective = max(kish / factor, 2.0)
    return MeanEstimate(mean, math.sqrt(variance * factor / kish), effective - 1, n)


def derive_seed(seed: int, key: str) -> int:
    """A per-fit seed that depends on the study seed and the fit, never on task order."""
    return zlib.crc32(f"{seed}:{key}".encode()) & 0x7FFFFFFF


def acceptable_drop(tolerance: ToleranceConfig, reference: float, greater_is_better: bool) -> float:
    """The tolerance as one absolute loss from `reference` (fresh quality, or a comparison's
    reference arm): the smallest of the absolute, relative and floor limits that are set. A
    reference already beyond the floor allows no loss."""
    scales = []
    if tolerance.absolute is not None:
        scales.append(tolerance.absolute)
    if tolerance.relative is not None and np.isfinite(reference):
        scales.append(tolerance.relative * abs(reference))
    if tolerance.floor is not None and np.isfinite(reference):
        room = reference - tolerance.floor if greater_is_better else tolerance.floor - reference
        scales.append(max(0.0, room))
    return min(scales) if scales else NAN
