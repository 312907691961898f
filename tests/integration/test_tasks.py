"""Multiclass and regression studies run end to end; a regression concept change shows as decay."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.run.study import run_study
from tests.configs import study_config

from .conftest import START

pytestmark = pytest.mark.integration

WEEKS, ROWS_PER_WEEK = 16, 800


def history(kind: str) -> pd.DataFrame:
    """x1, x2 and a category; the target's dependence on x1 reverses from week 8 on."""
    rng = np.random.default_rng(5)
    n = WEEKS * ROWS_PER_WEEK
    week = np.repeat(np.arange(WEEKS), ROWS_PER_WEEK)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    sign = np.where(week >= 8, -1.0, 1.0)
    signal = 2.0 * sign * x1 + x2 + np.where(group == "a", 0.5, 0.0)
    if kind == "regression":
        label = signal + rng.normal(scale=0.5, size=n)
    else:
        label = np.digitize(signal + rng.normal(scale=0.5, size=n), [-1.0, 1.0])  # classes 0, 1, 2
    seconds = rng.integers(0, 7 * 86400, size=n)
    times = pd.Timestamp(START, tz="UTC") + pd.to_timedelta(week * 7 * 86400 + seconds, unit="s")
    return pd.DataFrame({"event_time": times, "x1": x1, "x2": x2, "group": group, "label": label})


@pytest.mark.parametrize(
    "kind, estimator, metric",
    [
        ("multiclass", "sklearn.linear_model.LogisticRegression", "multiclass_accuracy"),
        ("regression", "sklearn.linear_model.Ridge", "rmse"),
    ],
)
def test_task_is_inferred_and_a_concept_change_shows_as_decay(spark, tmp_path, kind, estimator, metric):
    source = str(tmp_path / "source")
    spark.createDataFrame(history(kind)).write.format("delta").save(source)
    config = study_config(
        source,
        tmp_path / "out",
        columns={"event_time": "event_time", "label": "label"},
        model={"estimator": estimator, "params": None},
        metrics={"names": None, "primary": None},
        windows={"lookback": 4, "gap": 0, "max_age": 4, "origin_every": 1},
        limits={"min_eval_rows": 50},
        tolerance={"absolute": 0.05, "persistence": 1},
    )
    result = run_study(spark, config)
    assert result.primary_metric == metric
    run = result.store.read("runs", result.run_id).first()
    assert run["task"] == kind
    evaluations = result.store.read("evaluations", result.run_id).toPandas()
    assert (evaluations["status"] == "ok").all(), evaluations["reason"].dropna().unique()
    shelf = result.store.read("shelf_life", result.run_id).toPandas()
    per_origin = shelf[shelf["fit_id"].notna()]
    change = START + dt.timedelta(weeks=8)
    origin = per_origin["origin"].map(lambda w: w["start"].date())
    # trained just before the change and scored until fresh models had two weeks of new data
    caught = per_origin[(origin < change) & (origin >= change - dt.timedelta(weeks=2))]
    assert len(caught) == 2
    assert (~caught["is_censored"]).all(), "models trained before the change lose to fresh ones after it"
    events = result.store.read("calendar_events", result.run_id).toPandas()
    assert [w["start"].date() for w in events["window"]] == [change]
    # the predictions' drift: regression ones in each fit's bins, the deciles of its training target
    fits = result.store.read("fits", result.run_id).toPandas()
    assert fits["prediction_bins"].map(lambda b: (b is not None and len(b) == 9) == (kind == "regression")).all()
    counts = evaluations[evaluations["slice_value"].isna()]
    assert (counts["prediction_counts"].map(sum) == counts["eval_rows_used"]).all()
    drift = result.store.read("feature_drift", result.run_id).where("column_role = 'prediction'").toPandas()
    assert len(drift) and set(drift["data_type"]) == {"numeric" if kind == "regression" else "categorical"}
