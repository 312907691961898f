"""Drift statistics of one column between two periods, computed from binned counts.

Spark reduces each period to a histogram (counts in bins shared by all periods, plus the nulls); this
module compares two such histograms on the driver. Numeric columns are counted in fine cells; their
PSI and JS distance are measured on the deciles of the baseline side (`deciles=True`), so the bins
come from the window a comparison is made against and from nothing else. Every statistic is a
direct numpy formula on the binned data, so it costs nothing per row and the tests can check it
against scipy's own functions.

Distribution statistics describe the non-null values only; the nulls are compared separately as a rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

# Floor of a bin's share inside PSI's logarithm: an empty bin on one side would make PSI infinite.
EPSILON = 1e-4

# PSI and JS distance of a numeric column compare the shares of this many bins of the baseline.
DECILES = 10

# Effective sample size above which the KS p-value uses the limiting distribution (see ks_test).
EXACT_KS_ROWS = 5_000

# DriftStatistics fields by the kind of column they apply to
_SHARED = ("population_stability_index", "js_distance")
_NUMERIC = ("ks_statistic", "ks_pvalue", "wasserstein_distance")
_CATEGORICAL = ("chi_squared_statistic", "chi_squared_pvalue", "tv_distance", "l_infinity_distance")


@dataclass(frozen=True, eq=False)
class Histogram:
    """Counts of one column's values in shared bins, plus the nulls.

    Numeric columns: bins in ascending order with a representative value (`centers`, the mean of the
    values that fell in each bin on the two sides compared; NaN for a bin empty on both);
    categorical: one bin per category (centers None).
    Equality is identity (eq=False): field-wise equality would compare arrays, which has no truth value.
    """

    counts: np.ndarray
    nulls: int
    centers: np.ndarray | None = None

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=float)
        if counts.ndim != 1:
            raise ValueError(f"histogram counts must be one-dimensional, got shape {counts.shape}")
        if not np.all(np.isfinite(counts)) or np.any(counts < 0) or self.nulls < 0:
            raise ValueError("histogram counts and nulls must be finite and non-negative")
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "nulls", int(self.nulls))
        if self.centers is not None:
            centers = np.asarray(self.centers, dtype=float)
            if centers.shape != counts.shape:
                raise ValueError(f"{len(counts)} bins but centers of shape {centers.shape}")
            object.__setattr__(self, "centers", centers)

    @property
    def non_null(self) -> int:
        return int(round(float(self.counts.sum())))

    @property
    def total(self) -> int:
        return self.non_null + self.nulls


def _check_same_bins(a: Histogram, b: Histogram) -> None:
    if len(a.counts) != len(b.counts):
        raise ValueError(f"histograms have different bins: {len(a.counts)} and {len(b.counts)}")


def decile_groups(baseline: np.ndarray) -> np.ndarray:
    """Which of the baseline's deciles each bin falls in (the last axis holds the bins): the decile
    of the baseline's share below the bin's middle. Grouped so, fine cells make DECILES bins that
    each hold a tenth of the baseline to within half a cell; a cell holding more than a tenth (a
    frequent value) leaves some deciles empty on both sides, where they add nothing."""
    counts = np.asarray(baseline, dtype=float)
    total = counts.sum(axis=-1, keepdims=True)
    shares = counts / np.where(total > 0, total, 1.0)
    middle = np.cumsum(shares, axis=-1) - shares / 2
    return np.clip(np.floor(middle * DECILES), 0, DECILES - 1).astype(int)


def in_deciles(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Counts summed into the deciles `decile_groups` assigned their bins to."""
    counts = np.asarray(counts, dtype=float)
    return np.stack([np.where(groups == g, counts, 0.0).sum(axis=-1) for g in range(DECILES)], axis=-1)


@dataclass(frozen=True)
class DriftStatistics:
    """How `current` differs from `baseline`. Statistics that do not apply to the column's kind are None;
    distribution statistics are NaN when either side has no non-null value."""

    count: int
    count_cmp: int
    count_delta: float
    null_rate: float
    null_rate_delta: float
    population_stability_index: float
    js_distance: float
    ks_statistic: float | None
    ks_pvalue: float | None
    wasserstein_distance: float | None
    chi_squared_statistic: float | None
    chi_squared_pvalue: float | None
    tv_distance: float | None
    l_infinity_distance: float | None


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def population_stability_index(p: np.ndarray, q: np.ndarray) -> float:
    """PSI = sum((p - q) * ln(p' / q')), with p', q' the shares floored at EPSILON.

    The floor only enters the logarithm: a bin empty on one side then counts as a large but finite
    term instead of making PSI infinite.
    """
    return float(np.sum((p - q) * np.log(np.maximum(p, EPSILON) / np.maximum(q, EPSILON))))


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> float:
    """KL(p || m) in bits, with 0 * log 0 = 0; m > 0 wherever p > 0."""
    support = p > 0
    return float(np.sum(p[support] * np.log2(p[support] / m[support])))


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2: symmetric, finite on disjoint supports, and within [0, 1]."""
    m = (p + q) / 2
    divergence = 0.5 * _kl_to_mixture(p, m) + 0.5 * _kl_to_mixture(q, m)
    # rounding can leave the divergence an ulp outside [0, 1]
    return float(np.sqrt(np.clip(divergence, 0.0, 1.0)))


def _cdf(counts: np.ndarray) -> np.ndarray:
    """Cumulative shares, from cumulative counts: for integer counts, exactly the step heights of the
    empirical CDFs (and what ks_2samp computes on the rows)."""
    return np.cumsum(counts) / counts.sum()


def ks_test(current: np.ndarray, baseline: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value of binned counts.

    D = max |CDF_current - CDF_baseline| over the bins, the KS statistic of the data rounded into the bins.
    The p-value is the asymptotic two-sided Kolmogorov distribution at the effective size n*m/(n+m), as
    scipy.stats.ks_2samp(method="asymp") computes it. On binned (tied) data it is only an approximation,
    and with the large samples drift is measured on it is tiny for any visible shift: it measures how
    sure the shift is, not how big, which is why PSI and JS distance are the better drift signals.

    Above EXACT_KS_ROWS effective rows the limiting distribution (Kolmogorov's, at sqrt(n) D) is used:
    beyond a few thousand rows scipy's finite-n distribution costs 10 to 100 ms per call (a study
    makes thousands), and from 5,000 rows on the two differ by under 2% (relative) for p-values above
    1e-3, and more only in the far tail, where both are all but zero.
    """
    d = float(np.max(np.abs(_cdf(current) - _cdf(baseline))))
    n, m = current.sum(), baseline.sum()
    effective = max(1.0, float(np.round(n * m / (n + m))))
    if effective > EXACT_KS_ROWS:
        return d, float(special.kolmogorov(np.sqrt(effective) * d))
    return d, float(stats.kstwo.sf(d, effective))


def wasserstein_distance(current: np.ndarray, baseline: np.ndarray, centers: np.ndarray) -> float:
    """W1 distance between the two distributions placed at the bin centers: the area between their CDFs.

    Bins empty on both sides carry no mass and are dropped first, so their centers (undefined when no
    value ever fell in them) are never used; the remaining centers must be finite and ascending.
    """
    occupied = (current > 0) | (baseline > 0)
    current, baseline, centers = current[occupied], baseline[occupied], centers[occupied]
    steps = np.diff(centers)
    if not np.all(np.isfinite(centers)) or np.any(steps < 0):
        raise ValueError("the centers of occupied bins must be finite and in ascending order")
    return float(np.sum(np.abs(_cdf(current) - _cdf(baseline))[:-1] * steps))


def chi_squared_test(current: np.ndarray, baseline: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square test of homogeneity on the 2 x k table of counts, k - 1 degrees of freedom.

    Categories empty on both sides are dropped (their expected count would be 0); with fewer than two
    categories left there is nothing to compare: statistic 0, p-value 1.
    """
    table = np.vstack([current, baseline])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def _psi_shares(p: np.ndarray, q: np.ndarray, deciles: bool) -> tuple[np.ndarray, np.ndarray]:
    """The shares PSI and JS distance compare: the bins' own, or summed into the deciles of the
    baseline `q` when `deciles`."""
    if not deciles:
        return p, q
    groups = decile_groups(q)
    return in_deciles(p, groups), in_deciles(q, groups)


def _distribution_statistics(
    c: np.ndarray, b: np.ndarray, centers: np.ndarray | None, deciles: bool
) -> dict[str, float]:
    """The statistics of two non-empty count vectors; numeric (with centers) or categorical (without);
    PSI and JS on the baseline's deciles when `deciles`."""
    p, q = c / c.sum(), b / b.sum()
    coarse_p, coarse_q = _psi_shares(p, q, deciles)
    result = {
        "population_stability_index": population_stability_index(coarse_p, coarse_q),
        "js_distance": js_distance(coarse_p, coarse_q),
    }
    if centers is not None:
        result["ks_statistic"], result["ks_pvalue"] = ks_test(c, b)
        result["wasserstein_distance"] = wasserstein_distance(c, b, centers)
    else:
        result["chi_squared_statistic"], result["chi_squared_pvalue"] = chi_squared_test(c, b)
        result["tv_distance"] = float(0.5 * np.sum(np.abs(p - q)))
        result["l_infinity_distance"] = float(np.max(np.abs(p - q)))
    return result


def compare(current: Histogram, baseline: Histogram, numeric: bool, deciles: bool = False) -> DriftStatistics:
    """Drift of `current` against `baseline` (e.g. a scored period against the training window).

    Numeric columns get KS and Wasserstein, categorical ones chi-squared, TV and L-infinity; both get
    PSI and JS distance, numeric ones on the baseline's deciles when `deciles` (their bins are then
    fine cells). A side with no non-null value (a column all null in a period) gives NaN
    distribution statistics, not an error: the counts and null rates still say what happened.
    """
    _check_same_bins(current, baseline)
    if numeric and current.centers is None:
        raise ValueError("a numeric comparison needs the bin centers")
    if deciles and not numeric:
        raise ValueError("deciles apply to numeric columns only")
    applicable, not_applicable = (_NUMERIC, _CATEGORICAL) if numeric else (_CATEGORICAL, _NUMERIC)
    if current.counts.sum() > 0 and baseline.counts.sum() > 0:
        centers = current.centers if numeric else None
        distribution = _distribution_statistics(current.counts, baseline.counts, centers, deciles)
    else:
        distribution = dict.fromkeys(_SHARED + applicable, float("nan"))
    null_rate = _ratio(current.nulls, current.total)
    return DriftStatistics(
        count=current.total,
        count_cmp=baseline.total,
        count_delta=_ratio(current.total - baseline.total, baseline.total),
        null_rate=null_rate,
        null_rate_delta=null_rate - _ratio(baseline.nulls, baseline.total),
        **distribution,
        **dict.fromkeys(not_applicable),  # type: ignore[arg-type]  # None: not applicable to this kind
    )


def compare_many(
    current: np.ndarray,
    current_nulls: np.ndarray,
    baseline: np.ndarray,
    baseline_nulls: np.ndarray,
    centers: np.ndarray | None,
    deciles: bool = False,
    exact_ks: bool = False,
) -> dict[str, np.ndarray]:
    """`compare` of many pairs at once: row i of `current` (counts, pairs x bins) against row i of
    `baseline`, numeric when `centers` are given (one per bin, or one row per pair). Each
    statistic is an array over the pairs (None where it does not apply to the kind), equal to
    what `compare` gives pair by pair but for the KS p-value, which takes the limiting
    distribution at every size unless `exact_ks` (`ks_test` does above EXACT_KS_ROWS effective
    rows; below, scipy's finite-n one costs 0.2 ms a pair): every evaluation of every
    fit against its training window costs one numpy pass per column, not one call per pair."""
    if deciles and centers is None:
        raise ValueError("deciles apply to numeric columns only")
    current, baseline = np.asarray(current, dtype=float), np.asarray(baseline, dtype=float)
    n_current, n_baseline = current.sum(axis=1), baseline.sum(axis=1)
    total = np.round(n_current) + current_nulls
    total_cmp = np.round(n_baseline) + baseline_nulls
    with np.errstate(divide="ignore", invalid="ignore"):
        null_rate = np.where(total > 0, current_nulls / total, np.nan)
        result: dict[str, np.ndarray | None] = {
            "count": total.astype(int),
            "count_cmp": total_cmp.astype(int),
            "count_delta": np.where(total_cmp > 0, (total - total_cmp) / total_cmp, np.nan),
            "null_rate": null_rate,
            "null_rate_delta": null_rate - np.where(total_cmp > 0, baseline_nulls / total_cmp, np.nan),
        }
        both = (n_current > 0) & (n_baseline > 0)
        p = current / np.where(n_current > 0, n_current, 1.0)[:, None]
        q = baseline / np.where(n_baseline > 0, n_baseline, 1.0)[:, None]
        coarse_p, coarse_q = _psi_shares(p, q, deciles)
        psi = np.sum(
            (coarse_p - coarse_q) * np.log(np.maximum(coarse_p, EPSILON) / np.maximum(coarse_q, EPSILON)), axis=1
        )
        m = (coarse_p + coarse_q) / 2
        kl_p = np.sum(np.where(coarse_p > 0, coarse_p * np.log2(coarse_p / np.where(m > 0, m, 1.0)), 0.0), axis=1)
        kl_q = np.sum(np.where(coarse_q > 0, coarse_q * np.log2(coarse_q / np.where(m > 0, m, 1.0)), 0.0), axis=1)
        distribution = {
            "population_stability_index": psi,
            "js_distance": np.sqrt(np.clip(0.5 * kl_p + 0.5 * kl_q, 0.0, 1.0)),
        }
        if centers is not None:
            distribution |= _numeric_many(current, baseline, p, q, np.asarray(centers, float), exact_ks)
        else:
            distribution |= _categorical_many(current, baseline, p, q)
        # a side with no non-null value: NaN, as in `compare`
        result |= {name: np.where(both, values, np.nan) for name, values in distribution.items()}
        result |= dict.fromkeys(_CATEGORICAL if centers is not None else _NUMERIC)
    return result  # type: ignore[return-value]  # None only for the statistics of the other kind


def _numeric_many(
    current: np.ndarray, baseline: np.ndarray, p: np.ndarray, q: np.ndarray, centers: np.ndarray, exact_ks: bool
) -> dict[str, np.ndarray]:
    """KS and Wasserstein of many pairs; `p`, `q` their shares; `centers` per bin or per pair and bin."""
    n_current, n_baseline = current.sum(axis=1), baseline.sum(axis=1)
    gap = np.abs(np.cumsum(p, axis=1) - np.cumsum(q, axis=1))
    d = gap.max(axis=1) if gap.shape[1] else np.zeros(len(p))
    effective = np.maximum(1.0, np.round(n_current * n_baseline / np.maximum(n_current + n_baseline, 1.0)))
    centers = np.broadcast_to(centers, current.shape)
    known = np.isfinite(centers)
    if np.any(~known & ((current > 0) | (baseline > 0))):
        raise ValueError("the centers of occupied bins must be finite and in ascending order")
    steps = np.diff(_filled(centers, known), axis=1)
    if np.any(steps < 0):
        raise ValueError("the centers of occupied bins must be finite and in ascending order")
    return {
        "ks_statistic": d,
        "ks_pvalue": _ks_pvalue(d, effective, exact_ks),
        "wasserstein_distance": np.sum(gap[:, :-1] * steps, axis=1),
    }


def _ks_pvalue(d: np.ndarray, effective: np.ndarray, exact: bool) -> np.ndarray:
    """The limiting distribution at every size; with `exact`, the finite-n one up to
    EXACT_KS_ROWS effective rows, as `ks_test`."""
    pvalue = special.kolmogorov(np.sqrt(effective) * d)
    small = exact & (effective <= EXACT_KS_ROWS)
    if np.any(small):
        pvalue[small] = stats.kstwo.sf(d[small], effective[small])
    return pvalue


def _filled(centers: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Centers with each unknown one (a bin empty on both sides) set to the known one before it,
    or after it at the start of a row. The CDF gap does not change across an empty bin, so the
    area it adds is the same as if the bin were dropped, and a zero step adds none."""
    positions = np.arange(centers.shape[1])
    previous = np.maximum.accumulate(np.where(known, positions, 0), axis=1)
    filled = np.take_along_axis(centers, previous, axis=1)
    first = np.take_along_axis(centers, np.argmax(known, axis=1)[:, None], axis=1)
    filled = np.where(np.isfinite(filled), filled, first)
    return np.where(np.isfinite(filled), filled, 0.0)


def _categorical_many(current: np.ndarray, baseline: np.ndarray, p: np.ndarray, q: np.ndarray) -> dict[str, np.ndarray]:
    """Chi-squared, TV and L-infinity of many pairs; `p`, `q` their shares."""
    columns = current + baseline
    kept = columns > 0  # categories empty on both sides are dropped, as in chi_squared_test
    total = columns.sum(axis=1)
    expected_current = current.sum(axis=1)[:, None] * columns / np.where(total > 0, total, 1.0)[:, None]
    expected_baseline = columns - expected_current
    terms = (current - expected_current) ** 2 / np.where(kept, expected_current, 1.0) + (
        baseline - expected_baseline
    ) ** 2 / np.where(kept, expected_baseline, 1.0)
    categories = kept.sum(axis=1)
    statistic = np.where(categories >= 2, np.sum(np.where(kept, terms, 0.0), axis=1), 0.0)
    difference = np.abs(p - q)
    return {
        "chi_squared_statistic": statistic,
        "chi_squared_pvalue": np.where(categories >= 2, stats.chi2.sf(statistic, np.maximum(categories - 1, 1)), 1.0),
        "tv_distance": 0.5 * difference.sum(axis=1),
        "l_infinity_distance": difference.max(axis=1) if difference.shape[1] else np.zeros(len(p)),
    }
