"""The interval of a mean over time-ordered, possibly dependent units."""

import numpy as np
import pytest
from scipy import stats

from retrain_advisor.foundation.statistics import INDEPENDENT, Dependence, estimate_dependence, serial_mean


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    values = np.zeros(n)
    values[0] = rng.normal() / np.sqrt(1 - phi**2)
    for i in range(1, n):
        values[i] = phi * values[i - 1] + rng.normal()
    return values


def test_independent_units_give_the_t_interval():
    values = np.array([0.81, 0.79, 0.84])
    estimate = serial_mean(values)
    half = stats.t.ppf(0.95, 2) * values.std(ddof=1) / np.sqrt(3)
    assert estimate.interval(0.9) == pytest.approx((values.mean() - half, values.mean() + half))
    assert estimate.probability_at_most(values.mean()) == pytest.approx(0.5)


def test_one_or_no_unit_has_no_interval():
    assert np.isnan(serial_mean(np.array([0.8])).interval(0.9)).all()
    assert serial_mean(np.array([])).n == 0
    assert serial_mean(np.array([0.8, np.nan])).n == 1


def test_weights_count_as_fewer_units_when_unequal():
    values = np.array([0.1, 0.2, 0.3, 0.4])
    even = serial_mean(values, np.ones(4))
    uneven = serial_mean(values, np.array([10.0, 1.0, 1.0, 1.0]))
    assert uneven.mean == pytest.approx((1.0 + 0.2 + 0.3 + 0.4) / 13)
    assert uneven.degrees_of_freedom < even.degrees_of_freedom


def test_dependence_is_measured_only_when_it_shows():
    rng = np.random.default_rng(0)
    assert estimate_dependence(rng.normal(size=8)) == INDEPENDENT  # too short to tell
    strong = estimate_dependence(ar1(200, 0.8, rng))
    assert 0.6 < strong.phi < 0.95 and strong.c > 0.5
    assert Dependence(0.8, 0.9).variance_factor(24) > 5 > INDEPENDENT.variance_factor(24)


def test_a_dependent_series_gets_a_wider_interval_than_its_naive_one():
    values = ar1(60, 0.9, np.random.default_rng(3))
    dependent = serial_mean(values)
    naive_half = stats.t.ppf(0.95, 59) * values.std(ddof=1) / np.sqrt(60)
    low, high = dependent.interval(0.9)
    assert high - low > 2 * 2 * naive_half and dependent.degrees_of_freedom < 20


def test_a_longer_series_can_lend_its_dependence_to_a_short_one():
    rng = np.random.default_rng(4)
    long = ar1(80, 0.9, rng)
    borrowed = serial_mean(long[-24:], dependence=estimate_dependence(long))
    assert borrowed.standard_error > serial_mean(long[-24:], dependence=INDEPENDENT).standard_error


@pytest.mark.parametrize(("n", "phi"), [(3, 0.0), (6, 0.0), (62, 0.0), (62, 0.9)])
def test_coverage_holds_its_level_on_a_few_seeds(n, phi):
    """The calibration harness measures this on 500 histories; here a loose check that a
    regression fails the suite: 90% intervals cover the true mean 0 in 80% to 97% of 300 draws."""
    rng = np.random.default_rng(n * 10 + int(phi * 10))
    covered = [low <= 0 <= high for low, high in (serial_mean(ar1(n, phi, rng)).interval(0.9) for _ in range(300))]
    assert 0.80 <= np.mean(covered) <= 0.97


def test_simultaneous_intervals_widen_with_the_family():
    estimate = serial_mean(np.array([0.01, 0.02, 0.015, 0.012, 0.018, 0.011]))
    one, eight = estimate.simultaneous(0.9, 1), estimate.simultaneous(0.9, 8)
    assert one == estimate.interval(0.9) and eight[0] < one[0] and eight[1] > one[1]


def test_a_short_trending_series_keeps_an_interval_of_its_own_scale():
    """Twelve origins whose regret drifts steadily from 0 to -0.03 (a level shift elsewhere in
    the population) look almost perfectly dependent; their interval must still say something:
    it once spanned +-0.45 on a metric that lives in [0, 1]."""
    rng = np.random.default_rng(5)
    values = np.linspace(0.0, -0.03, 12) + rng.normal(0, 0.002, 12)
    low, high = serial_mean(values).interval(0.9)
    spread = values.max() - values.min()
    assert low < values.mean() < high and high - low < 3 * spread
