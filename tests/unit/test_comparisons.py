"""Questions 3 and 4: paired comparisons, the learning-curve minimum and the lookback verdict."""

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.comparisons.rules import compare_to_reference
from retrain_advisor.analyses.learning_curve.rules import learning_curve_rows, minimum_training_size
from retrain_advisor.analyses.window_comparison.rules import lookback_verdict, window_comparison_rows
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.vocabulary import (
    DOWN_WEIGHT,
    DROP_OLDER,
    KEEP_ALL,
    NOT_SETTLED,
    OLDER_DATA_ADDS_NOTHING,
    OLDER_DATA_HELPS,
    OLDER_DATA_HURTS,
)

TOL = ToleranceConfig(absolute=0.02)


def per_origin(
    arms: dict[tuple, list[float]], axis: str | None = "rows", analysis: str = "learning_curve"
) -> pd.DataFrame:
    """One row per (arm, origin): arms keyed by (train_rows, lookback, half_life)."""
    rows = []
    for (train_rows, lookback, half_life), values in arms.items():
        for origin, value in enumerate(values, start=100):
            rows.append(
                {
                    "slice_value": None,
                    "analysis": analysis,
                    "axis": axis,
                    "train_rows": train_rows,
                    "lookback": lookback,
                    "half_life": half_life,
                    "train_end": origin,
                    "value": value,
                    # a window arm trains on its share of a 20-period history's rows
                    "train_rows_used": float(train_rows if axis == "rows" else train_rows * (lookback or 20) / 20),
                    "train_periods": float(lookback or 20),
                }
            )
    return pd.DataFrame(rows)


def test_the_paired_difference_removes_what_origins_share():
    base = [0.70, 0.90, 0.75, 0.85, 0.80]  # origins differ a lot, the arm is always 0.01 better
    frame = per_origin({(100, None, None): base, (100, 4, None): [v + 0.01 for v in base]})
    compared = compare_to_reference(frame[frame["lookback"] == 4], frame[frame["lookback"].isna()], True)
    assert compared.difference.mean == pytest.approx(0.01)
    assert compared.difference.interval(0.9) == pytest.approx((0.01, 0.01))
    low, high = compared.level.interval(0.9)
    assert high - low > 0.1, "the unpaired interval is wide"


def test_only_origins_measured_in_both_arms_pair_up():
    frame = per_origin({(100, None, None): [0.8, 0.8, 0.8], (100, 4, None): [0.9, 0.9, np.nan]})
    frame = frame.dropna(subset=["value"])
    compared = compare_to_reference(frame[frame["lookback"] == 4], frame[frame["lookback"].isna()], True)
    assert compared.difference.n == 2 and compared.difference.mean == pytest.approx(0.1)


def test_the_minimum_is_never_below_a_larger_arm_that_fails():
    """A small arm that happens to look good does not undercut a larger one that fails: 1,000 rows
    within tolerance by chance, 2,000 surely beyond it, 4,000 and up within."""
    noise = np.array([0.0, 0.004, -0.003, 0.002, 0.001, -0.002])
    frame = per_origin(
        {
            (1000, 6, None): list(0.795 + noise),
            (2000, 6, None): list(0.75 + noise),
            (4000, 6, None): list(0.795 + noise * 0.5),
            (8000, 6, None): list(0.80 + noise),
        }
    )
    result = learning_curve_rows(frame, True, TOL).set_index("train_rows_max")
    assert result.loc[1000, "is_within_tolerance"] and not result.loc[2000, "is_within_tolerance"]
    assert result["is_minimum"].tolist() == [False, False, True, False]
    assert minimum_training_size(result.reset_index()) == (4000, False)


def test_within_tolerance_means_at_the_upper_bound():
    """A mean drop of 0.015 (inside 0.02) with a wide interval is not within tolerance."""
    noisy = 0.785 + np.array([0.03, -0.03, 0.025, -0.025])
    frame = per_origin({(1000, 6, None): list(noisy), (8000, 6, None): [0.8] * 4})
    result = learning_curve_rows(frame, True, TOL).set_index("train_rows_max")
    assert result.loc[1000, "drop_from_largest"] < 0.02 < result.loc[1000, "drop_ci_high"]
    assert not result.loc[1000, "is_within_tolerance"] and result.loc[8000, "is_minimum"]
    assert minimum_training_size(result.reset_index()) == (8000, True)


def test_learning_curve_by_periods_compares_with_all_history():
    frame = per_origin(
        {(100, 2, None): [0.7, 0.7, 0.71], (100, 8, None): [0.79, 0.79, 0.792], (100, None, None): [0.8, 0.8, 0.8]},
        "periods",
    )
    result = learning_curve_rows(frame, True, TOL)
    largest = result[result["is_largest"]]
    assert len(largest) == 1 and pd.isna(largest["lookback_periods"].iloc[0])
    assert result.loc[result["is_minimum"], "lookback_periods"].tolist() == [8]


def windows(arms: dict[tuple, list[float]]) -> pd.DataFrame:
    return window_comparison_rows(per_origin(arms, None, "window_comparison"), True, TOL)


BASE = [0.80, 0.82, 0.79, 0.81, 0.80, 0.83]


def test_the_intervals_hold_jointly_over_every_arm():
    arms = {(100, None, None): BASE, (100, 4, None): [v + 0.004 + 0.003 * (-1) ** i for i, v in enumerate(BASE)]}
    one = windows(arms).set_index("lookback_periods").loc[4]
    for k in range(8, 16):
        arms[(100, k, None)] = BASE
    many = windows(arms).set_index("lookback_periods").loc[4]
    assert many["family_size"] == 9 and one["family_size"] == 1
    assert many["diff_ci_high"] - many["diff_ci_low"] > one["diff_ci_high"] - one["diff_ci_low"]
    assert one["mean_diff"] == many["mean_diff"]


def test_an_arm_surely_better_than_all_history_drops_old_data():
    table = windows({(100, None, None): BASE, (100, 4, None): [v + 0.05 for v in BASE]})
    verdict = lookback_verdict(table)
    assert (verdict.verdict, verdict.reason, verdict.lookback) == (DROP_OLDER, OLDER_DATA_HURTS, 4)
    assert verdict.mean_diff == pytest.approx(0.05)


def test_a_better_half_life_down_weights():
    table = windows({(100, None, None): BASE, (100, None, 8.0): [v + 0.05 for v in BASE]})
    assert lookback_verdict(table).verdict == DOWN_WEIGHT


def test_old_data_that_adds_nothing_can_go_and_the_rationale_can_say_so():
    tiny = [0.001, -0.001, 0.0, 0.001, -0.001, 0.0]
    table = windows(
        {
            (100, None, None): BASE,
            (100, 4, None): [v + d for v, d in zip(BASE, tiny, strict=True)],
            (100, 8, None): BASE,
        }
    )
    verdict = lookback_verdict(table)
    assert (verdict.verdict, verdict.reason, verdict.lookback) == (DROP_OLDER, OLDER_DATA_ADDS_NOTHING, 4)
    assert verdict.rows_share == pytest.approx(0.2)


def test_old_data_that_surely_helps_is_kept():
    table = windows({(100, None, None): BASE, (100, 4, None): [v - 0.06 for v in BASE]})
    assert (lookback_verdict(table).verdict, lookback_verdict(table).reason) == (KEEP_ALL, OLDER_DATA_HELPS)


def test_a_history_that_cannot_tell_keeps_all_and_says_so():
    rng = np.random.default_rng(5)
    table = windows({(100, None, None): BASE, (100, 4, None): list(np.array(BASE) - 0.02 + rng.normal(0, 0.03, 6))})
    assert (lookback_verdict(table).verdict, lookback_verdict(table).reason) == (KEEP_ALL, NOT_SETTLED)


def test_eight_equal_arms_rarely_claim_a_winner():
    """The case of a history where every lookback is truly as good as all history: with a
    separate interval per arm, one of eight arms often looks reliably better by chance."""
    rng = np.random.default_rng(11)
    claims = 0
    for _ in range(60):
        origin_effects = rng.normal(0.8, 0.02, 6)
        arms = {(100, None, None): list(origin_effects + rng.normal(0, 0.005, 6))}
        for k in (1, 2, 4, 8, 13, 16, 26, 32):
            arms[(100, k, None)] = list(origin_effects + rng.normal(0, 0.005, 6))
        claims += lookback_verdict(windows(arms)).reason == OLDER_DATA_HURTS
    assert claims / 60 <= 0.10
