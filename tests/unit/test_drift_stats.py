import math

import numpy as np
import pytest
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from retrain_advisor.analyses.drift.statistics import EPSILON, EXACT_KS_ROWS, Histogram, compare, ks_test

SEEDS = range(8)
NUMERIC = ("ks_statistic", "ks_pvalue", "wasserstein_distance")
CATEGORICAL = ("chi_squared_statistic", "chi_squared_pvalue", "tv_distance", "l_infinity_distance")


def random_pair(seed: int) -> tuple[Histogram, Histogram]:
    """Two histograms of moderate size over the same ascending centers, with bins empty on one side or both."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 25))
    empty_in_both = int(rng.integers(k))
    sides = []
    for _ in range(2):
        counts = rng.integers(1, 300, k)
        counts[rng.random(k) < 0.2] = 0
        counts[(empty_in_both + 1) % k] += 1  # never an empty side
        counts[empty_in_both] = 0
        sides.append(counts)
    centers = np.cumsum(rng.exponential(1.0, k)) - 3.0
    return Histogram(sides[0], int(rng.integers(0, 50)), centers), Histogram(sides[1], 0, centers)


def shares(h: Histogram) -> np.ndarray:
    return h.counts / h.counts.sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_js_distance_matches_scipy(seed):
    current, baseline = random_pair(seed)
    expected = jensenshannon(shares(current), shares(baseline), base=2)
    assert compare(current, baseline, numeric=False).js_distance == pytest.approx(expected, abs=1e-12)
    assert compare(current, baseline, numeric=True).js_distance == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_matches_scipy(seed):
    current, baseline = random_pair(seed)
    centers = current.centers
    expected = stats.wasserstein_distance(centers, centers, current.counts, baseline.counts)
    assert compare(current, baseline, numeric=True).wasserstein_distance == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_chi_squared_matches_scipy(seed):
    current, baseline = random_pair(seed)
    table = np.vstack([current.counts, baseline.counts])
    expected = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    result = compare(current, baseline, numeric=False)
    assert result.chi_squared_statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.chi_squared_pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_matches_ks_2samp_on_the_rows_placed_at_the_centers(seed):
    current, baseline = random_pair(seed)
    rows = np.repeat(current.centers, current.counts.astype(int))
    rows_cmp = np.repeat(baseline.centers, baseline.counts.astype(int))
    expected = stats.ks_2samp(rows, rows_cmp, method="asymp")
    result = compare(current, baseline, numeric=True)
    assert result.ks_statistic == pytest.approx(expected.statistic, abs=1e-12)
    # ks_2samp's asymptotic p-value is kstwo.sf(D, round(n*m/(n+m))), the same effective size
    assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_psi_matches_the_direct_formula(seed):
    current, baseline = random_pair(seed)
    expected = sum(
        (p - q) * math.log(max(p, EPSILON) / max(q, EPSILON))
        for p, q in zip(shares(current), shares(baseline), strict=True)
    )
    assert compare(current, baseline, numeric=False).population_stability_index == pytest.approx(expected, rel=1e-12)


def test_psi_known_values():
    # shares (1/2, 1/2) against (1/4, 3/4): 1/4 ln 2 + 1/4 ln 3/2 = ln(3) / 4
    result = compare(Histogram([50, 50], 0), Histogram([25, 75], 0), numeric=False)
    assert result.population_stability_index == pytest.approx(math.log(3) / 4, rel=1e-12)
    # an empty bin is floored at EPSILON: 1/2 ln(1 / (1/2)) + 1/2 ln((1/2) / 1e-4) = ln(10^4) / 2
    result = compare(Histogram([10, 0], 0), Histogram([5, 5], 0), numeric=False)
    assert result.population_stability_index == pytest.approx(2 * math.log(10), rel=1e-12)


@pytest.mark.parametrize("numeric", [True, False])
def test_identical_distributions_have_no_drift(numeric):
    counts = np.array([30, 0, 120, 45, 7])
    centers = np.array([-2.0, -1.0, 0.5, 1.0, 4.0])
    result = compare(Histogram(3 * counts, 9, centers), Histogram(counts, 3, centers), numeric)
    assert result.population_stability_index == pytest.approx(0, abs=1e-12)
    assert result.js_distance == pytest.approx(0, abs=1e-7)  # sqrt of a divergence rounded near 0
    if numeric:
        assert result.ks_statistic == pytest.approx(0, abs=1e-12)
        assert result.ks_pvalue == pytest.approx(1)
        assert result.wasserstein_distance == pytest.approx(0, abs=1e-12)
    else:
        assert result.chi_squared_statistic == pytest.approx(0, abs=1e-12)
        assert result.chi_squared_pvalue == pytest.approx(1)
        assert result.tv_distance == pytest.approx(0, abs=1e-12)
        assert result.l_infinity_distance == pytest.approx(0, abs=1e-12)
    assert result.null_rate_delta == pytest.approx(0, abs=1e-12)


def test_disjoint_supports_are_maximally_distant():
    current, baseline = Histogram([5, 5, 0, 0], 0), Histogram([0, 0, 3, 7], 0)
    result = compare(current, baseline, numeric=False)
    assert result.js_distance == pytest.approx(1)
    assert result.tv_distance == pytest.approx(1)
    assert result.l_infinity_distance == pytest.approx(0.7)
    centers = np.arange(4.0)
    numeric = compare(Histogram(current.counts, 0, centers), Histogram(baseline.counts, 0, centers), numeric=True)
    assert numeric.ks_statistic == pytest.approx(1)
    # the baseline lies wholly above, so W1 is the difference of the means: (.3 * 2 + .7 * 3) - .5 * 1
    assert numeric.wasserstein_distance == pytest.approx(2.2)


def test_tv_and_l_infinity_by_hand():
    # shares differ by .3, .1, -.1, -.3
    result = compare(Histogram([40, 30, 20, 10], 0), Histogram([10, 20, 30, 40], 0), numeric=False)
    assert result.tv_distance == pytest.approx(0.4)
    assert result.l_infinity_distance == pytest.approx(0.3)


def test_counts_and_null_rates():
    result = compare(Histogram([60, 30], 10), Histogram([100, 50], 50), numeric=False)
    assert (result.count, result.count_cmp) == (100, 200)
    assert result.count_delta == pytest.approx(-0.5)
    assert result.null_rate == pytest.approx(0.1)
    assert result.null_rate_delta == pytest.approx(0.1 - 0.25)
    # nulls do not enter the distribution: the non-null shares are identical
    assert result.population_stability_index == pytest.approx(0, abs=1e-12)


def test_an_empty_baseline_gives_nan_rather_than_an_error():
    result = compare(Histogram([3, 4], 1), Histogram([0, 0], 0), numeric=False)
    assert result.count_cmp == 0
    assert math.isnan(result.count_delta) and math.isnan(result.null_rate_delta)
    assert math.isnan(result.js_distance) and math.isnan(result.chi_squared_pvalue)


@pytest.mark.parametrize("numeric", [True, False])
def test_an_all_null_side_gives_nan_distribution_statistics(numeric):
    centers = np.array([0.0, 1.0, 2.0])
    result = compare(Histogram([0, 0, 0], 20, centers), Histogram([5, 6, 7], 2, centers), numeric)
    assert (result.count, result.count_cmp) == (20, 20)
    assert result.null_rate == 1.0
    assert result.null_rate_delta == pytest.approx(0.9)
    applicable, not_applicable = (NUMERIC, CATEGORICAL) if numeric else (CATEGORICAL, NUMERIC)
    for name in ("population_stability_index", "js_distance", *applicable):
        assert math.isnan(getattr(result, name)), name
    for name in not_applicable:
        assert getattr(result, name) is None, name


@pytest.mark.parametrize("numeric", [True, False])
def test_statistics_of_the_other_kind_are_none(numeric):
    current, baseline = random_pair(0)
    result = compare(current, baseline, numeric)
    applicable, not_applicable = (NUMERIC, CATEGORICAL) if numeric else (CATEGORICAL, NUMERIC)
    assert all(isinstance(getattr(result, name), float) for name in applicable)
    assert all(getattr(result, name) is None for name in not_applicable)


def test_fine_cells_grouped_into_the_baselines_deciles_give_the_psi_of_its_own_deciles():
    """The cells are percentiles of a history whose later part lives far away (three quarters of
    it near 6), so the baseline fills a quarter of them; all-history deciles would leave it three
    bins, where a narrower spread all but vanishes. Grouped by its own deciles, PSI and JS match
    those on its exact deciles."""
    from scipy.spatial.distance import jensenshannon

    from retrain_advisor.analyses.drift.query import grid_edges

    rng = np.random.default_rng(3)
    baseline_rows, current_rows = rng.normal(0, 1, 20_000), rng.normal(0, 0.7, 20_000)  # narrower
    history = np.concatenate([baseline_rows, current_rows, rng.normal(6, 1, 120_000)])
    cells = np.asarray(grid_edges(history))

    def counted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).astype(float)

    centers = np.r_[cells[0] - 1, (cells[1:] + cells[:-1]) / 2, cells[-1] + 1]
    result = compare(
        Histogram(counted(current_rows, cells), 0, centers),
        Histogram(counted(baseline_rows, cells), 0, centers),
        numeric=True,
        deciles=True,
    )
    exact = np.quantile(baseline_rows, np.arange(1, 10) / 10)
    p, q = counted(current_rows, exact) / 20_000, counted(baseline_rows, exact) / 20_000
    exact_psi = float(np.sum((p - q) * np.log(p / q)))
    assert result.population_stability_index == pytest.approx(exact_psi, rel=0.1)
    assert result.js_distance == pytest.approx(jensenshannon(p, q, base=2), rel=0.1)
    everything = np.quantile(history, np.arange(1, 10) / 10)
    p, q = counted(current_rows, everything) / 20_000, counted(baseline_rows, everything) / 20_000
    assert float(np.sum((p - q) * np.log(np.maximum(p, EPSILON) / np.maximum(q, EPSILON)))) < 0.5 * exact_psi


def test_decile_groups_split_the_baseline_in_tenths_and_never_split_a_cell():
    from retrain_advisor.analyses.drift.statistics import decile_groups, in_deciles

    even = np.full(40, 5.0)
    groups = decile_groups(even)
    assert np.all(np.diff(groups) >= 0) and np.all(np.bincount(groups) == 4)
    np.testing.assert_array_equal(in_deciles(even, groups), np.full(10, 20.0))
    # one value holds 35% of the baseline (10% to 45%): it is one bin, two deciles stay empty
    lumpy = np.array([10.0, 35.0, 5.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    summed = in_deciles(lumpy, decile_groups(lumpy))
    assert summed.sum() == 100 and summed.max() == 35 and (summed == 0).sum() == 2
    np.testing.assert_array_equal(decile_groups(np.zeros((2, 4))), np.zeros((2, 4), dtype=int))


def test_deciles_are_for_numeric_columns_only():
    with pytest.raises(ValueError, match="numeric"):
        compare(Histogram([1, 2], 0), Histogram([2, 1], 0), numeric=False, deciles=True)


def test_compare_rejects_mismatched_bins_naming_both_lengths():
    with pytest.raises(ValueError, match="3 and 2"):
        compare(Histogram([1, 2, 3], 0), Histogram([1, 2], 0), numeric=False)


@pytest.mark.parametrize(("counts", "nulls"), [([1, -1, 2], 0), ([1, 2], -1), ([1.0, float("nan")], 0)])
def test_negative_or_missing_counts_raise(counts, nulls):
    with pytest.raises(ValueError, match="non-negative"):
        Histogram(counts, nulls)


def test_numeric_comparison_needs_centers():
    with pytest.raises(ValueError, match="centers"):
        compare(Histogram([1, 2], 0), Histogram([2, 1], 0), numeric=True)


def test_wasserstein_ignores_centers_of_bins_empty_on_both_sides():
    # no value ever fell in the middle bin, so it has no mean
    with_gap = compare(Histogram([3, 0, 1], 0, [0.0, np.nan, 5.0]), Histogram([1, 0, 3], 0, [0.0, np.nan, 5.0]), True)
    without = compare(Histogram([3, 1], 0, [0.0, 5.0]), Histogram([1, 3], 0, [0.0, 5.0]), True)
    assert with_gap.wasserstein_distance == pytest.approx(without.wasserstein_distance)
    assert with_gap.wasserstein_distance == pytest.approx(0.5 * 5.0)
    with pytest.raises(ValueError, match="ascending"):
        compare(Histogram([3, 1], 0, [5.0, 0.0]), Histogram([1, 3], 0, [5.0, 0.0]), True)


def test_shifting_the_mean_increases_every_distance():
    rng = np.random.default_rng(7)
    history = rng.normal(0.0, 1.0, 20_000)
    edges = np.quantile(history, np.linspace(0, 1, 11)[1:-1])  # deciles of the baseline

    def histogram(values: np.ndarray) -> Histogram:
        return Histogram(np.bincount(np.searchsorted(edges, values), minlength=10), 0, centers)

    centers = np.array([history[np.searchsorted(edges, history) == i].mean() for i in range(10)])
    baseline = histogram(history)
    noise = rng.normal(0.0, 1.0, 20_000)
    shifts = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0]
    results = [compare(histogram(noise + shift), baseline, numeric=True) for shift in shifts]
    for name in ("population_stability_index", "js_distance", "ks_statistic", "wasserstein_distance"):
        values = [getattr(r, name) for r in results]
        assert np.all(np.diff(values) > 0), (name, values)
    # a tenth of a standard deviation: a negligible PSI, yet a KS p-value that calls it certain
    assert results[1].population_stability_index < 0.05
    assert results[1].ks_pvalue < 1e-6


def test_large_samples_use_the_limiting_ks_distribution_within_two_percent():
    baseline = np.array([30_000.0, 40_000.0, 30_000.0])
    current = np.array([29_000.0, 40_000.0, 31_000.0])
    d, pvalue = ks_test(current, baseline)
    effective = round(1e5 * 1e5 / 2e5)
    assert effective > EXACT_KS_ROWS and d == pytest.approx(0.01)
    assert pvalue == pytest.approx(stats.kstwo.sf(d, effective), rel=0.02)


@pytest.mark.parametrize(
    ("numeric", "deciles", "exact_ks"), [(True, False, False), (False, False, False), (True, True, True)]
)
def test_many_pairs_at_once_give_what_each_pair_gives(numeric, deciles, exact_ks):
    """compare_many against compare, pair by pair, on histograms with empty bins, empty sides,
    nulls, disjoint supports, small and large samples (both KS p-value paths); with deciles,
    each pair has centers of its own (the mean value of each cell on its two sides)."""
    from dataclasses import asdict

    from retrain_advisor.analyses.drift.statistics import compare_many

    rng = np.random.default_rng(7)
    bins = 6
    shared = np.array([-2.0, -1.0, np.nan, 0.5, 1.0, 3.0]) if numeric else None  # bin 2: never occupied
    pairs, own_centers = [], []
    for _ in range(300):
        centers = shared
        if deciles:  # empty bins of a pair have no center
            centers = shared + rng.uniform(-0.2, 0.2, bins)
        size = rng.choice([0, 3, 40, 20_000])
        shares = rng.dirichlet(np.ones(bins) * rng.choice([0.2, 1.0, 5.0]))
        counts = rng.multinomial(size, shares).astype(float)
        other = rng.multinomial(rng.choice([0, 5, 500, 50_000]), rng.dirichlet(np.ones(bins))).astype(float)
        if numeric:
            counts[2] = other[2] = 0.0
        if deciles:
            centers = np.where((counts + other) > 0, centers, np.nan)
        own_centers.append(centers)
        pairs.append(
            (Histogram(counts, int(rng.integers(0, 5)), centers), Histogram(other, int(rng.integers(0, 5)), centers))
        )
    many = compare_many(
        np.vstack([c.counts for c, _ in pairs]),
        np.array([c.nulls for c, _ in pairs], dtype=float),
        np.vstack([b.counts for _, b in pairs]),
        np.array([b.nulls for _, b in pairs], dtype=float),
        np.vstack(own_centers) if deciles else shared,
        deciles=deciles,
        exact_ks=exact_ks,
    )
    for i, (current, baseline) in enumerate(pairs):
        for name, expected in asdict(compare(current, baseline, numeric, deciles)).items():
            got = many[name]
            if name == "ks_pvalue" and expected is not None and np.isfinite(expected) and not exact_ks:
                # always the limiting distribution, as ks_test above EXACT_KS_ROWS effective rows
                n, m = current.counts.sum(), baseline.counts.sum()
                effective = max(1.0, float(np.round(n * m / (n + m))))
                limiting = special.kolmogorov(np.sqrt(effective) * many["ks_statistic"][i])
                assert got[i] == pytest.approx(limiting, rel=1e-9, abs=1e-300)
                if effective > EXACT_KS_ROWS:
                    assert got[i] == pytest.approx(expected, rel=1e-9, abs=1e-300)
            elif expected is None:
                assert got is None, name
            else:
                assert got[i] == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True), (name, i)
