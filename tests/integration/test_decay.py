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


def test_abrupt_drift_is_a_calendar_event_with_its_date_not_ageing(abrupt):
    """Pooled by age, one change looks like a slope; measured against a fresh model on the same
    week, it is one dated event that every model trained before it pays for."""
    shelf, events, curve = _tables(abrupt, "shelf_life", "calendar_events", "decay_curve")
    drift_period = period_id_of("week", DRIFT_DATE)
    assert len(events) >= 1
    event = events.sort_values("drop", ascending=False).iloc[0]
    assert period_id_of("week", pd.Timestamp(event["window"]["start"]).date()) == drift_period
    assert event["drop"] > 0.1 and event["retraining_recovers"] and event["explains_decay"]
    pooled = shelf[shelf["fit_id"].isna() & shelf["season"].isna()].iloc[0]
    assert pooled["decay_pattern"] == "abrupt"
    assert period_id_of("week", pd.Timestamp(pooled["event_window"]["start"]).date()) == drift_period
    assert pooled["is_censored"], "apart from the change, models keep their quality"
    auc = curve[(curve["metric"] == "roc_auc") & curve["season"].isna()]
    assert auc["n_straddling"].sum() > 0 and auc["mean_regret"].abs().max() < 0.05
    # per origin: a model trained before the change breaches only after it, once fresh models have post-change data
    per_origin = shelf[shelf["fit_id"].notna()].copy()
    per_origin["origin_period"] = per_origin["origin"].map(
        lambda w: period_id_of("week", pd.Timestamp(w["start"]).date())
    )
    trained_before = per_origin[per_origin["origin_period"] < drift_period]
    assert len(trained_before) >= 6
    breached = trained_before[~trained_before["is_censored"]]
    assert len(breached) >= 3
    assert (breached["origin_period"] + breached["shelf_life_periods"] > drift_period).all()


def test_no_drift_gives_no_decay(stable_study):
    curve, shelf = _tables(stable_study, "decay_curve", "shelf_life")
    auc = curve[curve["metric"] == "roc_auc"].sort_values("model_age")
    assert auc["n_origins"].min() >= 10
    assert auc["mean_regret"].abs().max() < 0.02
    pooled = shelf[shelf["fit_id"].isna()].iloc[0]
    assert pooled["is_censored"] and pooled["shelf_life_periods"] >= pooled["max_age_tested"] == 6
    assert pooled["decay_pattern"] == "stable"


@pytest.fixture(scope="module")
def gradual(studied):
    return studied("gradual", {"drift_strength": FAST_DRIFT}, schedule=WIDE_SCHEDULE)


def test_gradual_drift_gives_decay_that_grows_with_age(gradual):
    (curve,) = _tables(gradual, "decay_curve")
    auc = curve[(curve["metric"] == "roc_auc") & (curve["model_age"] >= 1) & curve["season"].isna()]
    auc = auc.sort_values("model_age")
    regret = auc["mean_regret"].to_numpy()
    assert regret[-1] - regret[0] > 0.02
    assert spearmanr(auc["model_age"], regret).statistic > 0.8
    log_loss = curve[(curve["metric"] == "log_loss")].sort_values("model_age")
    assert log_loss["mean_regret"].iloc[-1] > 0, "a loss metric's regret is positive when it gets worse"


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
