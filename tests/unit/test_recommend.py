import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.learning_curve.rules import minimum_training_size
from retrain_advisor.analyses.recommendation.rules import Evidence, recommend
from retrain_advisor.analyses.schedule.replay import ReplaySettings, replay
from retrain_advisor.analyses.schedule.rules import feasible_interval
from retrain_advisor.analyses.window_comparison.rules import lookback_verdict
from retrain_advisor.foundation.vocabulary import DOWN_WEIGHT, DROP_OLDER, KEEP_ALL
from tests.configs import make_config

START, LAST = 100, 123


BASE = {
    "name": "t",
    "source": {"table": "h"},
    "columns": {"event_time": "t", "label": "y"},
    "tolerance": {"absolute": 0.02},
    "execution": {"bootstrap_samples": 200},
    "output": {"path": "/tmp/o"},
}


def config(**sections):
    return make_config(BASE, **sections)


def decaying_matrix(slope: float, max_age: int = 6) -> pd.DataFrame:
    """Quality 0.9 when fresh, losing `slope` per period of age."""
    cells = [
        (t, j, 0.9 - slope * (j - t), 1000)
        for t in range(START - max_age + 1, LAST + 1)
        for j in range(max(t, START), min(t + max_age, LAST + 1))
    ]
    return pd.DataFrame(cells, columns=["train_end", "period_id", "value", "rows"])


def replayed(slope: float, intervals=(1, 2, 3, 4, 6), **kw):
    matrix = decaying_matrix(slope)
    settings = ReplaySettings(START, LAST, intervals, (0.02,), max_age=6, samples=200, **kw)
    return replay(matrix, set(matrix["train_end"]), settings)


def arrival(cadence=1, delay=0, rows=5000.0) -> ArrivalSummary:
    return ArrivalSummary(cadence, delay, rows)


def curve(drops: dict[int, float], tolerance=0.02) -> pd.DataFrame:
    sizes = sorted(drops)
    return pd.DataFrame(
        {
            "axis": "rows",
            "train_rows_max": sizes,
            "train_rows_used": [0.98 * s for s in sizes],  # a sample is about its cap
            "drop_from_largest": [drops[s] for s in sizes],
            "is_within_tolerance": [drops[s] <= tolerance for s in sizes],
            "is_minimum": [s == min(x for x in sizes if drops[x] <= tolerance) for s in sizes],
        }
    )


def windows(arms: list[tuple]) -> pd.DataFrame:
    """(lookback, half_life, mean_diff, ci_low, ci_high) per arm, plus the all-history reference."""
    rows = [(np.nan, np.nan, True, 0.0, 0.0, 0.0, 0.8)]
    rows += [(lb, hl, False, d, lo, hi, 0.8 + d) for lb, hl, d, lo, hi in arms]
    return pd.DataFrame(
        rows,
        columns=[
            "lookback_periods",
            "half_life_periods",
            "is_reference",
            "mean_diff",
            "diff_ci_low",
            "diff_ci_high",
            "mean",
        ],
    )


def evidence(slope: float, **kw) -> Evidence:
    defaults = {
        "metric": "roc_auc",
        "greater_is_better": True,
        "shelf": {"shelf_life_periods": 7, "is_censored": True, "decay_pattern": "gradual", "fresh_quality": 0.9},
        "arrival": arrival(),
        "learning_curve": curve({1000: 0.05, 4000: 0.01, 8000: 0.0}),
        "windows": windows([(4, np.nan, -0.05, -0.08, -0.02)]),
        "schedule": replayed(slope),
        "rows_per_period": 5000.0,
    }
    return Evidence(**(defaults | kw))


def test_no_decay_recommends_the_longest_interval():
    row = recommend(evidence(0.0, shelf=None), config())
    assert row["recommended_interval_periods"] == 6 and row["recommended_policy"] == "periodic"
    assert row["expected_quality"] == pytest.approx(0.9)


def test_steeper_decay_recommends_a_shorter_interval():
    gentle = recommend(evidence(0.004), config())["recommended_interval_periods"]
    steep = recommend(evidence(0.015), config())["recommended_interval_periods"]
    assert steep < gentle
    # a model loses slope * age; retraining every R periods serves ages 0..R-1, losing slope * (R - 1) / 2 on average
    assert steep == max(r for r in (1, 2, 3, 4, 6) if 0.015 * (r - 1) / 2 <= 0.02) == 3


def test_interval_is_never_below_the_feasible_minimum():
    shelf = {"shelf_life_periods": 3, "is_censored": False, "decay_pattern": "gradual", "fresh_quality": 0.9}
    row = recommend(evidence(0.05, arrival=arrival(delay=4), shelf=shelf), config())
    assert row["min_feasible_interval_periods"] == 4 and row["feasible_interval_limited_by"] == "label delay"
    assert row["recommended_interval_periods"] == 4
    assert row["decays_before_new_data"], "a 3-period shelf life is shorter than the 4-period minimum"
    assert "raised" in row["rationale"]


def test_costs_pick_the_cheapest_interval():
    cheap_quality = config(schedule={"cost_per_retrain": 1.0, "cost_per_quality_unit": 0.001})
    costly_quality = config(schedule={"cost_per_retrain": 1.0, "cost_per_quality_unit": 10_000.0})
    results = dict(cost_per_retrain=1.0, cost_per_quality_unit=0.001)
    assert (
        recommend(evidence(0.02, schedule=replayed(0.02, **results)), cheap_quality)["recommended_interval_periods"]
        == 6
    )
    results = dict(cost_per_retrain=1.0, cost_per_quality_unit=10_000.0)
    row = recommend(evidence(0.02, schedule=replayed(0.02, **results)), costly_quality)
    assert row["recommended_interval_periods"] == 1 and row["expected_cost"] is not None


def test_minimum_training_size_and_plateau():
    assert minimum_training_size(curve({1000: 0.05, 4000: 0.01, 8000: 0.0})) == (3920, False)
    assert minimum_training_size(curve({1000: 0.09, 4000: 0.05, 8000: 0.0})) == (7840, True)


def test_feasible_interval_takes_the_longest_constraint():
    assert feasible_interval(arrival(cadence=2, delay=1), 3) == (3, "training size")
    assert feasible_interval(arrival(cadence=4, delay=1), 1) == (4, "batch cadence")


@pytest.mark.parametrize(
    ("arms", "expected"),
    [
        ([(2, np.nan, 0.05, 0.02, 0.08), (8, np.nan, 0.01, -0.01, 0.03)], (DROP_OLDER, 2, None)),
        ([(2, np.nan, -0.06, -0.09, -0.03), (8, np.nan, 0.0, -0.01, 0.01)], (DROP_OLDER, 8, None)),
        ([(2, np.nan, -0.06, -0.09, -0.03), (8, np.nan, -0.03, -0.05, -0.01)], (KEEP_ALL, None, None)),
        ([(2, np.nan, 0.01, 0.005, 0.02), (None, 4.0, 0.03, 0.01, 0.05)], (DOWN_WEIGHT, None, 4.0)),
    ],
)
def test_lookback_verdict(arms, expected):
    verdict = lookback_verdict(windows(arms), 0.02)
    assert (verdict.verdict, verdict.lookback, verdict.half_life) == expected


def test_rationale_quotes_the_numbers():
    row = recommend(evidence(0.004), config())
    text = row["rationale"]
    assert f"Retrain every {row['recommended_interval_periods']} weeks" in text
    assert f"{row['expected_quality']:.3f}" in text and f"{row['quality_every_period']:.3f}" in text
    assert "keep all history" in text and "3920 rows" in text


def test_models_never_serve_past_a_measured_shelf_life():
    shelf = {"shelf_life_periods": 3, "is_censored": False, "decay_pattern": "gradual", "fresh_quality": 0.9}
    row = recommend(evidence(0.004, shelf=shelf), config())
    assert row["recommended_interval_periods"] == 3, "the replayed average alone would allow 6"
    assert "serve past their 3-week shelf life" in row["rationale"]
    censored = {**shelf, "is_censored": True}
    assert recommend(evidence(0.004, shelf=censored), config())["recommended_interval_periods"] == 6


def test_a_drift_trigger_is_recommended_when_it_beats_the_calendar():
    """A concept change at one period: drift shows at once, labels take 2 periods. Watching drift
    loses one period and retrains least; the calendar needs short intervals to lose as little."""
    change = START + 7
    cells = [
        (t, j, 0.7 if t < change <= j else 0.9, 1000)
        for t in range(START - 5, LAST + 1)
        for j in range(max(t, START), min(t + 6, LAST + 1))
    ]
    matrix = pd.DataFrame(cells, columns=["train_end", "period_id", "value", "rows"])
    drift = {(t, j): 1.0 if t < change <= j else 0.0 for t, j, _, _ in cells}
    settings = ReplaySettings(
        START, LAST, (1, 2, 3, 4, 6), (0.02,), drift_triggers=[("js_distance:x", 0.5)], max_age=6, gap=2, samples=200
    )
    schedule = replay(matrix, set(matrix["train_end"]), settings, {"js_distance:x": drift})
    row = recommend(evidence(0.0, schedule=schedule), config())
    assert row["recommended_policy"] == "drift"
    assert row["recommended_drift_signal"] == "js_distance:x" and row["recommended_drift_threshold"] == 0.5
    assert "js_distance:x" in row["rationale"] and "needs no labels" in row["rationale"]
