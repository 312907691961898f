from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from retrain_advisor.foundation.config import LimitsConfig, ModelConfig
from retrain_advisor.foundation.vocabulary import FAILED, INSUFFICIENT, OK, PERIOD, ROW_HASH, SKIPPED, SLICE, TARGET
from retrain_advisor.modelling.kernels import (
    KernelContext,
    ScoringRows,
    features_frame,
    fit_model,
    limited_threads,
    score_model,
    score_slices,
)
from retrain_advisor.modelling.metrics import resolve_metrics
from retrain_advisor.planning.plan import FitSpec

FIT = FitSpec(train_end=10, train_start=2, train_stop=9, lookback=8, max_rows=10_000, seed=0)


def rows(n: int, seed: int, flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    color = rng.choice(["red", "blue", None], size=n)
    logit = (-2 if flip else 2) * x + np.where(color == "red", 1.0, 0.0)
    return pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.05, np.nan, x),
            "color": color,
            TARGET: (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
            ROW_HASH: rng.integers(-(2**62), 2**62, size=n),
            PERIOD: 5,
        }
    )


def context(**kw) -> KernelContext:
    return KernelContext(
        task="binary",
        numeric=["x"],
        categorical=["color"],
        model=ModelConfig(**kw.pop("model", {})),
        metrics=resolve_metrics("binary", ["roc_auc", "log_loss", "accuracy"]),
        limits=LimitsConfig(min_train_rows=50, min_eval_rows=50, min_class_rows=5),
        seed=3,
        threads=1,
        classes=["0", "1"],
        **kw,
    )


def test_default_pipeline_fits_missing_values_and_categories():
    outcome = fit_model(rows(2000, 1), FIT, context())
    assert outcome.status == OK and outcome.model is not None
    assert outcome.rows == 2000 and sum(outcome.class_counts.values()) == 2000


def test_scores_equal_scikit_learn_on_the_same_rows():
    ctx = context(model={"estimator": "sklearn.linear_model.LogisticRegression"})
    fitted = fit_model(rows(2000, 1), FIT, ctx)
    test = rows(1000, 2)
    outcome = score_model(ScoringRows.prepare(test, ctx), fitted.model, ctx)
    estimator = pickle.loads(fitted.model)
    proba = estimator.predict_proba(features_frame(test, ctx))[:, 1]
    assert outcome.status == OK
    assert outcome.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(test[TARGET], proba))
    assert outcome.metrics["log_loss"] == pytest.approx(skm.log_loss(test[TARGET], proba))
    expected = np.histogram(proba, bins=10, range=(0, 1))[0].tolist()
    assert outcome.prediction_counts == expected and sum(expected) == len(test)


def test_regression_predictions_are_counted_in_the_deciles_of_the_training_target():
    ctx = KernelContext(
        task="regression",
        numeric=["x"],
        categorical=[],
        model=ModelConfig(estimator="sklearn.linear_model.Ridge"),
        metrics=resolve_metrics("regression", ["rmse"]),
        limits=LimitsConfig(min_train_rows=50, min_eval_rows=50, min_class_rows=5),
        seed=3,
        threads=1,
        classes=[],
    )

    def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(shift, 1.0, n)
        return pd.DataFrame(
            {"x": x, TARGET: 3 * x + rng.normal(0, 0.1, n), ROW_HASH: rng.integers(-(2**62), 2**62, n), PERIOD: 5}
        )

    train = frame(5000, 1)
    fitted = fit_model(train, FIT, ctx)
    assert fitted.prediction_bins == pytest.approx(np.quantile(train[TARGET], np.linspace(0.1, 0.9, 9)).tolist())
    same = score_model(ScoringRows.prepare(frame(3000, 2), ctx), fitted.model, ctx, fitted.prediction_bins)
    shifted = score_model(ScoringRows.prepare(frame(3000, 3, 2.0), ctx), fitted.model, ctx, fitted.prediction_bins)
    assert len(same.prediction_counts) == 10 and sum(same.prediction_counts) == 3000
    assert max(same.prediction_counts) < 400, "predictions like the training target's spread over its deciles"
    assert shifted.prediction_counts[-1] > 2000, "shifted predictions pile up above the last decile"
    assert score_model(ScoringRows.prepare(frame(300, 4), ctx), fitted.model, ctx).prediction_counts is None


def test_fit_is_deterministic_whatever_the_row_order():
    ctx = context()
    train = rows(1500, 1)
    first = fit_model(train, FIT, ctx)
    second = fit_model(train.sample(frac=1.0, random_state=9), FIT, ctx)
    test = rows(500, 2)
    prepared = ScoringRows.prepare(test, ctx)
    assert score_model(prepared, first.model, ctx).metrics == score_model(prepared, second.model, ctx).metrics


def test_a_changed_concept_scores_worse():
    ctx = context()
    model = fit_model(rows(2000, 1), FIT, ctx).model
    same = score_model(ScoringRows.prepare(rows(1000, 2), ctx), model, ctx).metrics["roc_auc"]
    flipped = score_model(ScoringRows.prepare(rows(1000, 2, flip=True), ctx), model, ctx).metrics["roc_auc"]
    assert same > 0.75 and flipped < 0.5


def test_one_class_window_is_skipped_with_its_reason():
    train = rows(500, 1).assign(**{TARGET: 0})
    outcome = fit_model(train, FIT, context())
    assert outcome.status == SKIPPED and "only one class" in outcome.reason and outcome.model is None


def test_too_few_rows_are_skipped():
    outcome = fit_model(rows(20, 1), FIT, context())
    assert outcome.status == SKIPPED and "min_train_rows=50" in outcome.reason


def test_an_estimator_that_raises_is_recorded_not_raised():
    ctx = context(model={"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": -1.0}})
    outcome = fit_model(rows(500, 1), FIT, ctx)
    assert outcome.status == FAILED and "C" in outcome.reason


def test_small_or_one_class_evaluations_are_flagged():
    ctx = context()
    model = fit_model(rows(2000, 1), FIT, ctx).model
    small = score_model(ScoringRows.prepare(rows(30, 2), ctx), model, ctx)
    assert small.status == INSUFFICIENT and "min_eval_rows=50" in small.reason
    one_class = score_model(ScoringRows.prepare(rows(500, 2).assign(**{TARGET: 1}), ctx), model, ctx)
    assert one_class.status == INSUFFICIENT and one_class.metrics["roc_auc"] is None
    assert one_class.metrics["accuracy"] is not None
    empty = score_model(ScoringRows.prepare(rows(0, 2), ctx), model, ctx)
    assert empty.status == INSUFFICIENT and empty.rows == 0


def test_recency_weights_let_the_newest_period_decide():
    # the two periods disagree on the concept; a short half-life follows the newer one
    old, new = rows(3000, 1).assign(**{PERIOD: 2}), rows(3000, 3, flip=True).assign(**{PERIOD: 8})
    train = pd.concat([old, new], ignore_index=True)
    ctx = context(model={"estimator": "sklearn.linear_model.LogisticRegression"})
    test = ScoringRows.prepare(rows(1000, 4, flip=True), ctx)
    weighted = FitSpec(10, 2, 9, None, 10_000, 0, half_life=0.5)
    plain = fit_model(train, FIT, ctx).model
    recent = fit_model(train, weighted, ctx).model
    assert score_model(test, recent, ctx).metrics["roc_auc"] > score_model(test, plain, ctx).metrics["roc_auc"] + 0.1


def test_slices_are_measured_on_their_own_rows():
    ctx = context(model={"estimator": "sklearn.linear_model.LogisticRegression"})
    model = fit_model(rows(2000, 1), FIT, ctx).model
    test = pd.concat(
        [rows(800, 2).assign(**{SLICE: "same"}), rows(800, 3, flip=True).assign(**{SLICE: "flipped"})],
        ignore_index=True,
    )
    prepared = ScoringRows.prepare(test, ctx)
    outcomes = {o.slice_value: o for o in score_slices(prepared, model, ctx)}
    assert set(outcomes) == {None, "same", "flipped"}
    assert outcomes["same"].rows == outcomes["flipped"].rows == 800 and outcomes[None].rows == 1600
    assert outcomes["same"].metrics["roc_auc"] > 0.75 > 0.5 > outcomes["flipped"].metrics["roc_auc"]
    alone = score_model(ScoringRows.prepare(rows(800, 2), ctx), model, ctx)
    assert outcomes["same"].metrics == pytest.approx(alone.metrics)


def test_kernels_run_with_one_native_thread_per_task():
    from threadpoolctl import threadpool_info

    fit_model(rows(500, seed=1), FIT, context())  # loads scikit-learn's OpenMP and numpy's BLAS
    assert threadpool_info(), "native thread pools to limit"
    with limited_threads(1):
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
    with limited_threads(1):  # the cached pool list still limits every pool
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
