"""Known drift must show up as decay; no drift must not. Real Spark, real Delta."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import spearmanr

from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.run.study import run_study
from tests.configs import study_config

from .conftest import ABRUPT, ABRUPT_TOLERANCE, DRIFT_DATE, FAST_DRIFT, WIDE_SCHEDULE

pytestmark = pytest.mark.integration


def _tables(result, *names: str) -> list[pd.DataFrame]:
    return [result.store.read(name, result.run_id).toPandas() for name in names]


@pytest.fixture(scope="module")
def abrupt(studied):
    return studied("abrupt", ABRUPT, tolerance=ABRUPT_TOLERANCE)


def test_abrupt_drift_drops_quality_of_models_trained_before_it(abrupt):
    evaluations, fits = _tables(abrupt, "evaluations", "fits")
    assert (fits["status"] == "ok").all()
    drift_start = pd.Timestamp(DRIFT_DATE, tz="UTC")
    ev = evaluations[evaluations["is_sufficient"]].copy()
    ev["auc"] = ev["metrics"].map(lambda m: m["roc_auc"])
    ev["origin_start"] = ev["origin"].map(
        lambda w: (
            pd.Timestamp(w["start"]).tz_localize("UTC")
            if pd.Timestamp(w["start"]).tzinfo is None
            else pd.Timestamp(w["start"])
        )
    )
    ev["scored_start"] = ev["window"].map(
        lambda w: (
            pd.Timestamp(w["start"]).tz_localize("UTC")
            if pd.Timestamp(w["start"]).tzinfo is None
            else pd.Timestamp(w["start"])
        )
    )
    fresh = ev[ev["model_age"] == 0].set_index("fit_id")["auc"]
    ev["drop"] = ev["fit_id"].map(fresh) - ev["auc"]
    before_drift_origin = ev["origin_start"] < drift_start
    after = ev[before_drift_origin & (ev["scored_start"] >= drift_start)]
    before = ev[before_drift_origin & (ev["scored_start"] < drift_start)]
    assert len(after) > 10 and len(before) > 10
    assert after["drop"].min() > 0.1, "every model trained before the drift must lose quality after it"
    assert before["drop"].abs().mean() < 0.03, "before the drift, quality must hold"


def test_abrupt_drift_ends_each_origins_shelf_life_at_the_drift(abrupt):
    (shelf,) = _tables(abrupt, "shelf_life")
    per_origin = shelf[shelf["fit_id"].notna()].copy()
    drift_period = period_id_of("week", DRIFT_DATE)
    per_origin["origin_period"] = per_origin["origin"].map(
        lambda w: period_id_of("week", pd.Timestamp(w["start"]).date())
    )
    trained_before = per_origin[per_origin["origin_period"] < drift_period]
    assert len(trained_before) >= 6
    for row in trained_before.itertuples():
        weeks_to_drift = drift_period - row.origin_period
        # the breach must hold `persistence` ages in a row inside the tested ages to end the shelf life
        if weeks_to_drift + row.persistence - 1 <= row.max_age_tested:
            assert not row.is_censored and row.shelf_life_periods == weeks_to_drift, row
        else:
            assert row.is_censored and row.shelf_life_periods == row.max_age_tested + 1, row
    pooled = shelf[shelf["fit_id"].isna()].iloc[0]
    assert pooled["decay_pattern"] != "stable"
    assert pooled["shelf_life_periods"] >= trained_before["shelf_life_periods"].min()


def test_no_drift_gives_no_decay(stable_study):
    curve, shelf = _tables(stable_study, "decay_curve", "shelf_life")
    auc = curve[curve["metric"] == "roc_auc"].sort_values("model_age")
    assert auc["n_origins"].min() >= 10
    assert auc["mean_drop"].abs().max() < 0.02
    pooled = shelf[shelf["fit_id"].isna()].iloc[0]
    assert pooled["is_censored"] and pooled["shelf_life_periods"] >= pooled["max_age_tested"] == 6
    assert pooled["decay_pattern"] == "stable"


@pytest.fixture(scope="module")
def gradual(studied):
    return studied("gradual", {"drift_strength": FAST_DRIFT}, schedule=WIDE_SCHEDULE)


def test_gradual_drift_gives_decay_that_grows_with_age(gradual):
    (curve,) = _tables(gradual, "decay_curve")
    auc = curve[(curve["metric"] == "roc_auc") & (curve["model_age"] >= 1)].sort_values("model_age")
    drops = auc["mean_drop"].to_numpy()
    assert drops[-1] - drops[0] > 0.02
    assert spearmanr(auc["model_age"], drops).statistic > 0.8
    log_loss = curve[(curve["metric"] == "log_loss")].sort_values("model_age")
    assert log_loss["mean_drop"].iloc[-1] > 0, "a loss metric's drop is positive when it gets worse"


def test_gradual_decay_has_a_finite_shelf_life_and_pattern(gradual):
    (shelf,) = _tables(gradual, "shelf_life")
    pooled = shelf[shelf["fit_id"].isna()].iloc[0]
    assert not pooled["is_censored"]
    assert pooled["decay_pattern"] == "gradual"


def test_failing_estimator_is_recorded_per_fit_and_the_run_completes(spark, history, tmp_path):
    config = study_config(
        history("none"),
        tmp_path,
        model={"estimator": "sklearn.linear_model.LogisticRegression", "params": {"solver": "no-such-solver"}},
        windows={"lookback": 6, "gap": 0, "max_age": 2, "origin_every": 6},
        schedule={"intervals": [1, 2]},
    )
    result = run_study(spark, config)
    fits, evaluations = _tables(result, "fits", "evaluations")
    assert (fits["status"] == "failed").all()
    assert fits["reason"].str.contains("solver").all()
    assert (evaluations["status"] == "fit_unavailable").all()
    assert result.store.read("runs", result.run_id).first()["status"] == "succeeded"
