from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.decay.rules import decay_pattern, shelf_life, summarize_age
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import bootstrap_mean_interval
from retrain_advisor.foundation.vocabulary import ABRUPT, GRADUAL, STABLE, WIDENING


def curve(drops, spread=None, fresh=0.85, low_margin=0.005, origins=20) -> pd.DataFrame:
    """A decay curve whose interval of the drop is drop +- low_margin."""
    drops = np.asarray(drops, dtype=float)
    spread = np.full(len(drops), 0.02) if spread is None else np.asarray(spread, dtype=float)
    mean = fresh - drops
    return pd.DataFrame(
        {
            "model_age": np.arange(len(drops)),
            "n_origins": origins,
            "mean": mean,
            "q25": mean - spread / 2,
            "q75": mean + spread / 2,
            "ci_low": mean - low_margin,
            "ci_high": mean + low_margin,
            "mean_drop": drops,
            "drop_ci_low": drops - low_margin,
            "relative_drop_ci_low": drops / fresh - low_margin,
        }
    )


TOL = ToleranceConfig(absolute=0.02, persistence=2)


def test_bootstrap_interval_covers_the_mean_and_is_seeded():
    values = np.random.default_rng(0).normal(0.8, 0.02, size=30)
    low, high = bootstrap_mean_interval(values, 0.9, 1000, seed=1)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_mean_interval(values, 0.9, 1000, seed=1)
    assert high - low < 0.02
    assert bootstrap_mean_interval(np.array([0.7]), 0.9, 100, 0) == (0.7, 0.7)


def test_summary_counts_origins_and_quartiles():
    stats = summarize_age(np.array([0.8, 0.82, 0.84, 0.86]), np.zeros(4), np.zeros(4), 0.9, 200, 0)
    assert stats["n_origins"] == 4 and stats["median"] == pytest.approx(0.83)


def test_shelf_life_ends_where_the_breach_persists():
    result = shelf_life(curve([0, 0.0, 0.01, 0.04, 0.05, 0.06, 0.07]), TOL, True, min_origins=3)
    assert (result.periods, result.censored, result.breach) == (3, False, "absolute")


def test_one_noisy_age_does_not_end_the_shelf_life():
    result = shelf_life(curve([0, 0.0, 0.05, 0.0, 0.01, 0.0, 0.04, 0.05]), TOL, True, min_origins=3)
    assert result.periods == 6


def test_no_breach_is_censored_at_the_largest_age_plus_one():
    result = shelf_life(curve([0, 0.001, 0.0, 0.005, 0.01]), TOL, True, min_origins=3)
    assert result.censored and result.periods == 5 and result.max_age_tested == 4


def test_interval_must_clear_the_tolerance_not_just_the_mean():
    wide = curve([0, 0.03, 0.03, 0.03], low_margin=0.02)
    assert shelf_life(wide, TOL, True, 3).censored


def test_ages_with_too_few_origins_do_not_count():
    few = curve([0, 0.0, 0.05, 0.05, 0.05])
    few.loc[few.model_age >= 2, "n_origins"] = 2
    assert shelf_life(few, TOL, True, min_origins=3).censored


def test_floor_and_relative_tolerances():
    floor = ToleranceConfig(absolute=None, floor=0.80, persistence=1)
    assert shelf_life(curve([0, 0.02, 0.06, 0.07]), floor, True, 3).periods == 2
    relative = ToleranceConfig(absolute=None, relative=0.05, persistence=1)
    result = shelf_life(curve([0, 0.02, 0.03, 0.06]), relative, True, 3)
    assert (result.periods, result.breach) == (3, "relative")


def test_loss_metrics_breach_the_floor_from_below():
    floor = ToleranceConfig(absolute=None, floor=0.40, persistence=1)
    losses = curve([0, -0.02, -0.06], fresh=0.35)  # mean = 0.35, 0.37, 0.41: a loss getting worse
    assert shelf_life(losses, floor, greater_is_better=False, min_origins=3).periods == 2


@pytest.mark.parametrize(
    "drops, spread, expected",
    [
        ([0, 0.002, -0.003, 0.001, 0.0, 0.002], None, STABLE),
        ([0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06], None, GRADUAL),
        ([0, 0.0, 0.001, 0.08, 0.081, 0.079, 0.08], None, ABRUPT),
        ([0, 0.001, 0.0, 0.002, 0.001, 0.0], [0.01, 0.01, 0.02, 0.04, 0.05, 0.06], WIDENING),
    ],
)
def test_decay_patterns(drops, spread, expected):
    assert decay_pattern(curve(drops, spread), TOL, True) == expected


def test_curve_summary_does_not_depend_on_row_order():
    from retrain_advisor.analyses.decay.query import summarize_group

    rng = np.random.default_rng(3)
    group = pd.DataFrame(
        {
            "run_id": "r",
            "slice_key": None,
            "slice_value": None,
            "granularity": "1 week",
            "metric": "roc_auc",
            "greater_is_better": True,
            "model_age": 3,
            "fit_id": [f"f{i}" for i in range(15)],
            "value": rng.normal(0.8, 0.02, 15),
            "drop": rng.normal(0.02, 0.02, 15),
            "relative_drop": rng.normal(0.03, 0.02, 15),
            "usable": True,
        }
    )
    summarize = summarize_group(0.9, 500, seed=1)
    shuffled = group.sample(frac=1.0, random_state=5)
    pd.testing.assert_frame_equal(summarize(group), summarize(shuffled))
