import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.comparisons.rules import compare_arms
from retrain_advisor.analyses.learning_curve.rules import learning_curve_rows
from retrain_advisor.foundation.config import ToleranceConfig


def per_origin(arms: dict[tuple, list[float]], axis: str = "rows") -> pd.DataFrame:
    """One row per (arm, origin): arms keyed by (train_rows, lookback, half_life)."""
    rows = []
    for (train_rows, lookback, half_life), values in arms.items():
        for origin, value in enumerate(values, start=100):
            rows.append(
                {
                    "run_id": "r",
                    "slice_key": None,
                    "slice_value": None,
                    "granularity": "1 week",
                    "analysis": "learning_curve",
                    "axis": axis,
                    "train_rows": train_rows,
                    "lookback": lookback,
                    "half_life": half_life,
                    "train_end": origin,
                    "value": value,
                    "train_rows_used": float(train_rows),
                    "train_periods": float(lookback or 20),
                }
            )
    return pd.DataFrame(rows)


def test_paired_difference_removes_what_origins_share():
    # origins differ a lot from each other, but the arm is always exactly 0.01 better
    base = [0.70, 0.90, 0.75, 0.85, 0.80]
    frame = per_origin({(100, None, None): base, (100, 4, None): [v + 0.01 for v in base]})
    result = compare_arms(frame, frame["lookback"].isna(), True, 0.9, 500, 0).set_index("lookback")
    arm = result.loc[4]
    assert arm["mean_diff"] == pytest.approx(0.01)
    assert arm["diff_ci_low"] == pytest.approx(0.01) and arm["diff_ci_high"] == pytest.approx(0.01)
    assert arm["ci_high"] - arm["ci_low"] > 0.05, "the unpaired interval is wide"
    assert result["is_reference"].sum() == 1


def test_loss_metrics_count_a_lower_value_as_better():
    frame = per_origin({(100, None, None): [0.5, 0.6], (100, 4, None): [0.4, 0.5]})
    result = compare_arms(frame, frame["lookback"].isna(), False, 0.9, 200, 0).set_index("lookback")
    assert result.loc[4, "mean_diff"] == pytest.approx(0.1)


def test_only_origins_measured_in_both_arms_pair_up():
    frame = per_origin({(100, None, None): [0.8, 0.8, 0.8], (100, 4, None): [0.9, 0.9, np.nan]})
    frame = frame.dropna(subset=["value"])
    result = compare_arms(frame, frame["lookback"].isna(), True, 0.9, 200, 0).set_index("lookback")
    assert result.loc[4, "n_origins"] == 2 and result.loc[4, "mean_diff"] == pytest.approx(0.1)


def test_learning_curve_minimum_is_the_smallest_size_within_tolerance():
    noise = np.array([0.0, 0.004, -0.003, 0.002])
    frame = per_origin(
        {
            (1000, 6, None): list(0.70 + noise),
            (4000, 6, None): list(0.79 + noise),
            (16000, 6, None): list(0.80 + noise),
        }
    )
    result = learning_curve_rows(frame, True, ToleranceConfig(absolute=0.02), 300, 0).set_index("train_rows")
    assert result.loc[16000, "is_largest"] and result.loc[16000, "drop_from_largest"] == 0
    assert result.loc[1000, "drop_from_largest"] == pytest.approx(0.10)
    assert result["is_within_tolerance"].tolist() == [False, True, True]
    assert result["is_minimum"].tolist() == [False, True, False]


def test_learning_curve_by_periods_compares_with_all_history():
    frame = per_origin(
        {(100, 2, None): [0.7, 0.7], (100, 8, None): [0.79, 0.79], (100, None, None): [0.8, 0.8]}, "periods"
    )
    result = learning_curve_rows(frame, True, ToleranceConfig(absolute=0.02), 200, 0)
    largest = result[result["is_largest"]]
    assert len(largest) == 1 and pd.isna(largest["lookback"].iloc[0])
    assert result.loc[result["is_minimum"], "lookback"].tolist() == [8]
