"""Prediction drift from the prediction counts of the evaluations (no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from retrain_advisor.analyses.drift.histograms import prediction_drift_rows
from retrain_advisor.analyses.drift.signals import MIN_PAIRS, within_age_auc
from retrain_advisor.foundation.vocabulary import BASELINE, PREDICTION


def scored(counts_by_age: dict[int, list[int] | None], fit_id: str = "f", origin: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"fit_id": fit_id, "model_age": age, "period_id": origin + age, "prediction_counts": counts}
            for age, counts in counts_by_age.items()
        ]
    )


def test_each_age_is_compared_with_the_first_served_period():
    fresh, later = [10, 20, 40, 20, 10], [40, 30, 20, 10, 0]
    rows = list(prediction_drift_rows(scored({0: fresh, 1: fresh, 3: later}), "binary"))
    assert [(r["model_age"], r["drift_type"], r["column_role"]) for r in rows] == [
        (1, BASELINE, PREDICTION),
        (3, BASELINE, PREDICTION),
    ]
    same, moved = rows
    assert same["js_distance"] == 0 and same["population_stability_index"] == 0
    p, q = np.array(later) / 100, np.array(fresh) / 100
    assert abs(moved["js_distance"] - jensenshannon(p, q, base=2)) < 1e-12
    assert moved["ks_test"]["statistic"] > 0 and moved["cmp_start"] == 10 and moved["cmp_stop"] == 11


def test_no_baseline_no_rows_and_regression_is_numeric():
    assert list(prediction_drift_rows(scored({0: None, 2: [1, 2]}), "multiclass")) == []
    assert list(prediction_drift_rows(scored({1: [1, 2], 2: [2, 1]}), "multiclass")) == []
    (regression,) = prediction_drift_rows(scored({0: [5, 5, 5, 5], 2: [0, 0, 10, 10]}), "regression")
    assert regression["data_type"] == "numeric" and regression["ks_test"]["statistic"] == 0.5
    multiclass = list(prediction_drift_rows(scored({0: [5, 5, 0], 2: [0, 5, 5]}), "multiclass"))
    assert multiclass[0]["data_type"] == "categorical" and multiclass[0]["tv_distance"] == 0.5


def test_drift_triggers_take_the_best_label_free_signals():
    from retrain_advisor.analyses.schedule.matrix import drift_triggers

    def signal(name, role, rank, auc, threshold=0.3):
        return {"signal": name, "column_role": role, "rank": rank, "auc_within_age": auc, "alert_threshold": threshold}

    signals = [
        signal("psi:label", "label", 1, 0.99),
        signal("psi:x", "feature", 3, 0.90),
        signal("js:prediction", "prediction", 2, 0.95),
        signal("psi:y", "feature", 4, 0.65),
        signal("psi:z", "feature", 5, 0.80, threshold=None),
    ]
    assert drift_triggers(signals, 5) == [("js:prediction", 0.3), ("psi:x", 0.3)]
    assert drift_triggers(signals, 1) == [("js:prediction", 0.3)]
    assert drift_triggers(signals, 0) == []


def test_all_rows_are_the_sum_of_the_slices_and_each_slice_has_its_own_histograms():
    from retrain_advisor.analyses.drift.histograms import counts_by_slice

    counts = pd.DataFrame(
        [
            # period, slice, column, bin (None: nulls), rows, value_sum (numeric bins only)
            (1, "a", "x", "0", 3, 1.5),
            (1, "b", "x", "0", 2, 1.0),
            (1, "b", "x", None, 4, None),
            (1, "a", "color", "red", 5, None),
            (2, "a", "x", "1", 1, 2.0),
        ],
        columns=["period_id", "slice_value", "column_name", "bin", "rows", "value_sum"],
    )
    parts = dict(counts_by_slice(counts))
    assert list(parts) == [None, "a", "b"]
    every = parts[None].set_index(["period_id", "column_name", "bin"], drop=True)
    assert every.loc[(1, "x", "0"), "rows"] == 5 and every.loc[(1, "x", "0"), "value_sum"] == 2.5
    assert parts[None]["bin"].isna().sum() == 1, "nulls are counted apart, summed over slices"
    assert np.isnan(every.loc[(1, "color", "red"), "value_sum"]), "categorical bins have no value"
    assert parts["b"]["rows"].sum() == 6
    unsliced = counts.assign(slice_value=None)
    assert list(dict(counts_by_slice(unsliced))) == [None]


def test_a_task_adds_up_its_batches_counts_however_many_there_are():
    """130 batches (the task compacts its counts every 64) count what one batch of all rows does."""
    from retrain_advisor.analyses.drift.query import Counting, count_task

    rng = np.random.default_rng(4)
    rows = pd.DataFrame(
        {
            "period_id": rng.integers(0, 4, 2600),
            "slice_value": rng.choice(["a", None], 2600),
            "_0": np.where(rng.random(2600) < 0.1, np.nan, rng.normal(0, 1, 2600)),
            "_1": rng.choice(["red", "blue", None], 2600),
        }
    )
    counting = Counting((("x", (-0.5, 0.0, 0.5)), ("color", None)))
    keys = ["period_id", "slice_value", "column_name", "bin"]

    def tidy(frames) -> pd.DataFrame:
        (frame,) = list(frames)
        frame = frame.fillna({"slice_value": "-", "bin": "-"})
        return frame.sort_values(keys).reset_index(drop=True)

    batched = tidy(count_task(counting, (rows.iloc[i : i + 20] for i in range(0, 2600, 20))))
    whole = tidy(count_task(counting, iter([rows])))
    pd.testing.assert_frame_equal(batched, whole, check_exact=False, rtol=1e-12)
    assert batched["rows"].sum() == 2 * 2600
    assert set(batched.loc[batched["column_name"] == "x", "bin"]) == {"0", "1", "2", "3", "-"}


def test_within_age_auc_counts_every_pair_of_one_age_with_ties_half():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(0, 80))
        values = rng.integers(0, 4, n).astype(float)  # many ties
        breach = (rng.random(n) < 0.3).astype(int)
        ages = rng.integers(0, 5, n)
        wins = pairs = 0.0
        for i in np.flatnonzero(breach == 1):
            for j in np.flatnonzero((breach == 0) & (ages == ages[i])):
                wins += 1.0 if values[i] > values[j] else 0.5 if values[i] == values[j] else 0.0
                pairs += 1
        expected = wins / pairs if pairs >= MIN_PAIRS else np.nan
        np.testing.assert_allclose(within_age_auc(values, breach, ages), expected, rtol=1e-12)
