"""Question 1: decay as regret on the same period, the shelf-life readings, events and patterns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.decay.analysis import analyse_decay
from retrain_advisor.analyses.decay.curve import decay_curve
from retrain_advisor.analyses.decay.events import calendar_events
from retrain_advisor.analyses.decay.pattern import decay_pattern
from retrain_advisor.analyses.decay.regret import regret_cells
from retrain_advisor.analyses.decay.rules import shelf_life
from retrain_advisor.analyses.performance import PERFORMANCE_COLUMNS
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.vocabulary import ABRUPT, GRADUAL, LINEAR, RECURRING, SATURATING, STABLE, WIDENING
from retrain_advisor.modelling.metrics import METRICS
from retrain_advisor.planning.study_plan import DecayDesign

TOL = ToleranceConfig(absolute=0.02, persistence=2)
ORIGINS = range(0, 40)
MAX_AGE = 8


def design(origins=ORIGINS, max_age=MAX_AGE) -> DecayDesign:
    periods = range(min(origins), max(origins) + max_age + 1)
    return DecayDesign({t: f"t{t}" for t in origins}, {j: f"t{j}" for j in periods})


def matrix(quality: Callable[[int, int], float], origins=ORIGINS, max_age=MAX_AGE, noise=0.0, seed=0) -> pd.DataFrame:
    """The performance frame of one metric: the fit trained at t scored on t..t+max_age (and the
    fresh fit of every later period on its own period)."""
    rng = np.random.default_rng(seed)
    last = max(origins) + max_age
    rows = [
        (
            None,
            f"t{t}",
            t,
            j,
            j - t,
            "roc_auc",
            True,
            quality(t, j) + rng.normal(0, noise),
            True,
            1000.0,
            5e4,
            True,
            np.nan,
        )
        for t in range(min(origins), last + 1)
        for j in range(t, min(t + max_age, last) + 1 if t in origins else t + 1)
    ]
    return pd.DataFrame(rows, columns=PERFORMANCE_COLUMNS)


def curve_of(frame: pd.DataFrame, tolerance: ToleranceConfig = TOL) -> pd.DataFrame:
    return decay_curve(regret_cells(frame, design()), tolerance)


def test_a_calendar_trend_that_hits_every_model_alike_is_not_decay():
    """Quality falls 0.005 a period for every model (a trend), without any ageing: the change
    since fresh calls it decay; the regret on the same period is zero."""
    cells = regret_cells(matrix(lambda t, j: 0.85 - 0.005 * j), design())
    assert cells["regret"].abs().max() < 1e-12
    assert cells.loc[cells["model_age"] == 6, "change_since_fresh"].mean() == pytest.approx(0.03)
    result = shelf_life(decay_curve(cells, TOL), TOL, True)
    assert result.censored and result.within_periods == MAX_AGE + 1


def test_regret_is_the_fresh_model_of_the_same_period_minus_the_older_one():
    frame = matrix(lambda t, j: 0.9 - 0.01 * (j - t) - 0.002 * j)
    cells = regret_cells(frame, design()).set_index(["origin", "model_age"])
    assert cells.loc[(10, 3), "regret"] == pytest.approx(0.03)
    assert cells.loc[(10, 3), "reference_value"] == pytest.approx(0.9 - 0.002 * 13)
    assert cells.loc[(10, 0), "regret"] == 0


def test_loss_metrics_count_a_higher_value_as_worse():
    frame = matrix(lambda t, j: 0.3 + 0.01 * (j - t)).assign(metric="log_loss", greater_is_better=False)
    cells = regret_cells(frame, design())
    assert cells.loc[cells["model_age"] == 2, "regret"].mean() == pytest.approx(0.02)


def test_an_unusable_reference_leaves_the_cell_out():
    frame = matrix(lambda t, j: 0.9 - 0.01 * (j - t))
    frame.loc[(frame["fit_id"] == "t12") & (frame["period_id"] == 12), "usable"] = False
    cells = regret_cells(frame, design())
    assert not cells.loc[cells["period_id"] == 12, "usable"].any()
    curve = decay_curve(cells, TOL).set_index("model_age")
    assert curve.loc[2, "n_excluded"] == 1 and curve.loc[2, "n_origins"] == len(ORIGINS) - 1


def test_both_readings_of_the_shelf_life_rest_on_bounds():
    """Linear decay of 0.004 a period with noise: ages surely within tolerance end before the
    tolerance is reached, and the shelf life (surely beyond) starts after it."""
    curve = curve_of(matrix(lambda t, j: 0.9 - 0.004 * (j - t), noise=0.003))
    result = shelf_life(curve, TOL, True)
    assert 3 <= result.within_periods <= 5  # regret 0.016 at age 4, 0.02 at age 5
    assert not result.censored and 6 <= result.periods <= 7
    assert result.within_periods < result.periods


def test_one_noisy_age_does_not_end_the_shelf_life():
    curve = curve_of(matrix(lambda t, j: 0.9 - (0.05 if j - t == 3 else 0.0)))
    assert shelf_life(curve, TOL, True).censored


def test_ages_with_too_few_origins_count_for_neither_reading():
    curve = curve_of(matrix(lambda t, j: 0.9 - 0.015 * (j - t)))
    curve.loc[curve["model_age"] >= 2, "n_origins"] = 2
    result = shelf_life(curve, TOL, True)
    assert result.censored and result.within_periods == 2


def test_relative_tolerance_alone_applies_alone():
    """A loss metric in the label's units (RMSE near 3): a relative tolerance of 5% allows 0.15."""
    frame = matrix(lambda t, j: 3.0 + 0.015 * (j - t)).assign(metric="rmse", greater_is_better=False)
    relative = ToleranceConfig(relative=0.05)
    result = shelf_life(decay_curve(regret_cells(frame, design()), relative), relative, False)
    assert result.censored and result.within_periods == MAX_AGE + 1


def test_a_saturating_decay_is_gradual_not_abrupt():
    """0.03 (1 - exp(-a / 2)): the loss levels off; it happens to every model at its own age."""
    curve = curve_of(matrix(lambda t, j: 0.9 - 0.03 * (1 - np.exp(-(j - t) / 2)), noise=0.002))
    assert decay_pattern(curve[curve["season"].isna()], 0.02, 3) == (GRADUAL, SATURATING)


@pytest.mark.parametrize(
    "quality, expected",
    [
        (lambda t, j: 0.9, (STABLE, None)),
        (lambda t, j: 0.9 - 0.005 * (j - t), (GRADUAL, LINEAR)),
        (lambda t, j: 0.9 - 0.05 * (1 - np.cos(2 * np.pi * (j - t) / 6)) / 2, (RECURRING, None)),
    ],
)
def test_decay_patterns(quality, expected):
    curve = curve_of(matrix(quality, noise=0.002))
    assert decay_pattern(curve[curve["season"].isna()], 0.02, 3) == expected


def test_widening_variance():
    slopes = np.random.default_rng(4).normal(0, 0.006, 100)
    curve = curve_of(matrix(lambda t, j: 0.9 - slopes[t] * (j - t), noise=0.001))
    assert decay_pattern(curve[curve["season"].isna()], 0.02, 3)[0] == WIDENING


def test_models_that_age_at_random_speeds_are_widening_even_when_their_mean_loses():
    """Here the origins happen to lose a little on average (half the tolerance by the oldest age):
    the spread, not the mean, is what the curve says."""
    slopes = np.random.default_rng(4).normal(0, 0.006, 100)
    rates = slopes - slopes.mean() + 0.0018
    curve = curve_of(matrix(lambda t, j: 0.9 - rates[t] * (j - t), noise=0.001))
    assert decay_pattern(curve[curve["season"].isna()], 0.02, 3)[0] == WIDENING


def test_older_models_that_diverge_but_beat_the_fresh_one_are_not_widening():
    """A spread that grows with age while older models are better on average: no quarter of them
    loses the tolerance against a fresh model."""
    slopes = np.random.default_rng(4).normal(0, 0.006, 100)
    rates = slopes - slopes.mean() - 0.004
    curve = curve_of(matrix(lambda t, j: 0.9 - rates[t] * (j - t), noise=0.001))
    assert decay_pattern(curve[curve["season"].isna()], 0.02, 3)[0] == STABLE


def concept_change(on: int, size: float = 0.06, lookback: int = 4) -> Callable[[int, int], float]:
    """Models lose `size` times the share of their training window from before `on`, from then on."""

    def quality(t: int, j: int) -> float:
        before = min(max(on - (t - lookback), 0), lookback) / lookback
        return 0.85 - (size * before if j >= on else 0.0)

    return quality


def test_one_change_on_one_date_is_named_abrupt_with_its_date():
    """Pooled by age, a one-off change looks like a slope; per origin it is a date."""
    frame = matrix(concept_change(24), noise=0.002)
    result = analyse_decay(frame, design(), METRICS["roc_auc"], TOL)
    decay = result.by_slice[None]
    assert decay.pattern == ABRUPT and decay.explained_by_events
    assert [e.period_id for e in decay.events] == [24]
    event = decay.events[0]
    assert event.drop == pytest.approx(0.06, abs=0.01) and event.retraining_recovers
    assert event.recovery_periods is not None and 2 <= event.recovery_periods <= 4
    assert decay.shelf.censored, "apart from the change, models keep their quality"
    straddling = result.curve[result.curve["season"].isna()]["n_straddling"]
    assert straddling.sum() > 0
    events = result.events.iloc[0]
    assert events["period_id"] == 24 and events["explains_decay"]


def test_a_level_shift_that_hits_every_model_is_an_event_retraining_does_not_undo():
    frame = matrix(lambda t, j: 0.85 - (0.05 if j >= 24 else 0.0), noise=0.002)
    decay = analyse_decay(frame, design(), METRICS["roc_auc"], TOL).by_slice[None]
    assert [e.period_id for e in decay.events] == [24]
    assert not decay.events[0].retraining_recovers and decay.events[0].recovery_periods is None
    assert decay.pattern == STABLE and not decay.explained_by_events


def test_steady_noise_and_a_trend_are_not_events():
    for quality in (lambda t, j: 0.85, lambda t, j: 0.85 - 0.002 * j):
        decay = analyse_decay(matrix(quality, noise=0.004, seed=2), design(), METRICS["roc_auc"], TOL)
        assert decay.by_slice[None].events == []


def test_each_season_of_the_origins_gets_its_own_curve_and_shelf_life():
    season_of = {t: "Q1" if t < 20 else "Q2" for t in ORIGINS}
    frame = matrix(lambda t, j: 0.9 - (0.006 if t >= 20 else 0.0) * (j - t), noise=0.001)
    result = analyse_decay(frame, design(), METRICS["roc_auc"], TOL, season_of)
    seasons = result.by_slice[None].seasons
    assert seasons["Q1"].censored and not seasons["Q2"].censored
    assert set(result.curve["season"].dropna()) == {"Q1", "Q2"}
    pooled = result.shelf_life[result.shelf_life["fit_id"].isna()]
    assert pooled["season"].tolist() == [None, "Q1", "Q2"]


def test_a_change_that_takes_two_periods_is_one_event():
    """Half the change lands in one week and half in the next (a change mid-week): one event that
    starts on the first, with both weeks' loss."""

    def quality(t: int, j: int) -> float:
        before = min(max(20 - (t - 4), 0), 4) / 4
        return 0.85 - 0.04 * before * ((j >= 20) + (j >= 21))

    frame = matrix(quality, noise=0.001)
    (event,) = calendar_events(frame, design(), 0.02, 0.9)
    assert (event.period_id, event.n_periods) == (20, 2)
    assert event.drop == pytest.approx(0.08, abs=0.01)
