"""Quality estimated without labels: the drawn metrics equal scikit-learn's, the estimates follow a
covariate shift that costs quality, their intervals cover the measured value, and concept drift
stays invisible to them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.foundation.config import LimitsConfig, ModelConfig, Task
from retrain_advisor.foundation.vocabulary import OK, PERIOD, ROW_HASH, TARGET
from retrain_advisor.modelling.estimation import DRAWN_METRICS, ESTIMATE_LEVEL
from retrain_advisor.modelling.kernels import Estimating, KernelContext, ScoringRows, fit_model, score_slices
from retrain_advisor.modelling.metrics import DEFAULT_METRICS, METRICS, resolve_metrics
from retrain_advisor.planning.plan import FitSpec

FIT = FitSpec(train_end=10, train_start=2, train_stop=9, lookback=8, max_rows=10_000, seed=0)
LOGISTIC = {"estimator": "sklearn.linear_model.LogisticRegression"}


def context(task: Task, folds: int | None = 3, model: dict | None = None) -> KernelContext:
    names = {"binary": ["roc_auc", "average_precision", "log_loss", "brier", "accuracy", "f1"]}.get(
        task, DEFAULT_METRICS[task] + (["roc_auc_ovr"] if task == "multiclass" else [])
    )
    return KernelContext(
        task=task,
        numeric=["x"],
        categorical=["color"],
        model=ModelConfig(**(model or {})),
        metrics=resolve_metrics(task, names),
        limits=LimitsConfig(min_train_rows=50, min_eval_rows=50, min_class_rows=5),
        seed=5,
        threads=1,
        classes=["0", "1", "2"] if task == "multiclass" else ["0", "1"],
        estimation_folds=folds,
    )


def history(task: Task, n: int, seed: int, spread: float = 1.0, center: float = 0.0, flip: bool = False):
    """Rows whose label depends on x the same way whatever x's distribution (unless `flip`)."""
    rng = np.random.default_rng(seed)
    x = center + spread * rng.normal(size=n)
    color = rng.choice(["red", "blue"], size=n)
    sign = -1.0 if flip else 1.0
    if task == "binary":
        logit = sign * 3 * x + np.where(color == "red", 0.5, 0.0)
        target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    elif task == "multiclass":
        scores = np.column_stack([-2 * sign * x, np.zeros(n), 2 * sign * x])
        proba = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        target = (rng.random((n, 1)) > np.cumsum(proba, axis=1)).sum(axis=1).astype(str)
    else:
        target = sign * 2 * x + rng.normal(size=n) * (0.2 + np.abs(x))
    return pd.DataFrame(
        {"x": x, "color": color, TARGET: target, ROW_HASH: rng.integers(-(2**62), 2**62, size=n), PERIOD: 5}
    )


def scored(rows: pd.DataFrame, fitted, ctx: KernelContext, seed: int = 0):
    estimating = Estimating(fitted.quality_estimator, seed)
    return score_slices(ScoringRows.prepare(rows, ctx), fitted.model, ctx, None, estimating)[0]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_each_drawn_metric_equals_scikit_learn_on_every_draw(task: Task):
    rng = np.random.default_rng(1)
    n = 300
    if task == "binary":
        prediction = np.round(rng.random(n), 1)  # ties, as trees give them
        draws = rng.random((5, n)) < 0.4
        labels = [d.astype(int) for d in draws]
    elif task == "multiclass":
        prediction = rng.dirichlet(np.ones(3), size=n)
        draws = rng.integers(0, 3, size=(5, n))
        labels = [np.array(["a", "b", "c"])[d] for d in draws]
    else:
        prediction = rng.normal(size=n)
        draws = prediction + rng.normal(size=(5, n))
        labels = list(draws)
    classes = np.array(["a", "b", "c"]) if task == "multiclass" else np.array([0, 1])
    for name in [m for m, metric in METRICS.items() if task in metric.tasks]:
        drawn = DRAWN_METRICS[name](draws, prediction)
        expected = [METRICS[name].compute(y, prediction, classes) for y in labels]
        assert drawn == pytest.approx(expected, abs=1e-9), name


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_estimates_follow_a_covariate_shift_that_costs_quality(task: Task):
    ctx = context(task, model=LOGISTIC if task != "regression" else None)
    fitted = fit_model(history(task, 3000, 1), FIT, ctx)
    assert fitted.status == OK and fitted.quality_estimator is not None
    primary = ctx.metrics[0].name
    measured, estimated = [], []
    for i, spread in enumerate([1.0, 0.8, 0.6, 0.45, 0.3]):  # x crowds where the label is least certain
        outcome = scored(history(task, 4000, 10 + i, spread=spread), fitted, ctx)
        measured.append(outcome.metrics[primary])
        estimated.append(outcome.estimates[primary][0])
    measured_arr, estimated_arr = np.array(measured), np.array(estimated)
    assert abs(measured_arr[-1] - measured_arr[0]) > 3 * np.abs(estimated_arr - measured_arr).max(), (
        measured,
        estimated,
    )
    assert np.corrcoef(measured_arr, estimated_arr)[0, 1] > 0.9


def test_the_interval_covers_the_measured_value_as_often_as_it_says():
    ctx = context("binary", model=LOGISTIC)
    fitted = fit_model(history("binary", 3000, 1), FIT, ctx)
    covered = []
    for seed in range(40):
        outcome = scored(history("binary", 400, 100 + seed), fitted, ctx, seed)
        for name in ("roc_auc", "accuracy", "brier"):
            _, low, high = outcome.estimates[name]
            covered.append(low <= outcome.metrics[name] <= high)
    assert np.mean(covered) >= ESTIMATE_LEVEL - 0.1


def test_concept_drift_is_invisible_to_the_estimate():
    ctx = context("binary", model=LOGISTIC)
    fitted = fit_model(history("binary", 3000, 1), FIT, ctx)
    outcome = scored(history("binary", 4000, 2, flip=True), fitted, ctx)
    assert outcome.metrics["roc_auc"] < 0.2
    assert outcome.estimates["roc_auc"][0] > 0.8


def test_without_estimation_a_fit_keeps_no_estimator_and_scores_no_estimates():
    ctx = context("binary", folds=None, model=LOGISTIC)
    fitted = fit_model(history("binary", 1000, 1), FIT, ctx)
    assert fitted.status == OK and fitted.quality_estimator is None
    outcome = score_slices(ScoringRows.prepare(history("binary", 500, 2), ctx), fitted.model, ctx)[0]
    assert outcome.estimates == {} and outcome.metrics


def test_a_class_seen_once_in_the_training_window_still_gets_estimates():
    rows = history("multiclass", 600, 1)
    rows.loc[rows.index[rows[TARGET] == "1"][1:], TARGET] = "0"  # one row of class 1: folds without it
    ctx = context("multiclass", folds=3, model=LOGISTIC)
    fitted = fit_model(rows, FIT, ctx)
    assert fitted.status == OK and fitted.quality_estimator is not None
    outcome = scored(history("multiclass", 500, 2), fitted, ctx)
    low, high = outcome.estimates["multiclass_accuracy"][1:]
    assert 0 < low <= high < 1


def test_a_recipe_that_fails_on_part_of_the_window_keeps_its_fit_and_says_why_it_has_no_estimates():
    rows = history("binary", 600, 1)
    rows[TARGET] = 0
    rows.loc[rows.index[0], TARGET] = 1  # one positive: the folds without it train on one class
    ctx = context("binary", folds=3, model=LOGISTIC)
    fitted = fit_model(rows, FIT, ctx)
    assert fitted.status == OK and fitted.model is not None and fitted.quality_estimator is None
    assert fitted.reason is not None and fitted.reason.startswith("no quality estimator: ValueError")
