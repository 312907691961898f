"""Quality estimated without labels: what a fit's metrics probably are on a period whose labels
have not arrived yet, from its predictions alone.

- Binary and multiclass: confidence-based estimation. A calibrator maps the model's scores to
  calibrated probabilities; each period's labels are then drawn from those probabilities and
  every metric is computed on the drawn labels.
- Regression: direct loss estimation. An error model predicts each row's absolute error from its
  features and prediction; errors are drawn as that scale times a standardized training error.

The calibrator and the error model learn from out-of-fold predictions of the training window
(`folds` extra fits of the recipe on the rest of the window), never from the fit's in-sample
predictions, which are too good. The estimate is the mean metric over the draws and the interval
holds the middle `ESTIMATE_LEVEL` of them: it covers sampling noise given the calibration, not a
calibration that no longer holds. Concept drift (the same inputs meaning another label) leaves
predictions unchanged and is invisible to every estimate made without labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from retrain_advisor.foundation.config import Task

DRAWS = 200
REPLICATES = 20  # bootstrap replicates of a classification calibration (isotonic fits: cheap)
ERROR_MODEL_REPLICATES = 5  # of a regression error model (each a boosting fit)
ESTIMATE_LEVEL = 0.9
PROBABILITY_FLOOR = float(np.finfo(float).eps)  # where scikit-learn's log_loss clips probabilities

Estimate = tuple[float, float, float]  # (estimate, interval low, interval high)


@dataclass
class Replicate:
    """What was learnt from one bootstrap resample of the out-of-fold predictions: binary, a
    calibrator of P(positive); multiclass, one calibrator per class (one against the rest);
    regression, an error model and the training errors divided by its scale."""

    calibrators: list[IsotonicRegression]
    error_model: Pipeline | None = None
    standardized_errors: np.ndarray | None = None


@dataclass
class QualityEstimator:
    """What a fit needs to estimate its own quality on unlabelled rows. Draw b uses replicate
    b mod their count, so the interval holds the calibration's own uncertainty too."""

    task: Task
    classes: list[Any]  # multiclass: the classes the calibrators stand for, in order
    replicates: list[Replicate]

    def estimate(
        self,
        features: pd.DataFrame,
        prediction: np.ndarray,
        classes: np.ndarray,
        metrics: Mapping[str, Callable[..., np.ndarray]],
        seed: int,
    ) -> dict[str, Estimate]:
        """Each metric in `metrics` (name to a function of the draws, see `DRAWN_METRICS`)
        estimated on these rows, whose labels are unknown."""
        if len(prediction) == 0:
            return {}
        rng = np.random.default_rng(seed)
        replicate_of = np.arange(DRAWS) % len(self.replicates)
        draws: np.ndarray | None = None
        for k, replicate in enumerate(self.replicates):
            mine = replicate_of == k
            drawn = self._draw(replicate, features, prediction, classes, int(mine.sum()), rng)
            if draws is None:
                draws = np.empty((DRAWS, len(prediction)), dtype=drawn.dtype)
            draws[mine] = drawn
        assert draws is not None
        estimates = {name: _summary(compute(draws, prediction)) for name, compute in metrics.items()}
        return {name: value for name, value in estimates.items() if np.isfinite(value[0])}

    def _draw(
        self,
        replicate: Replicate,
        features: pd.DataFrame,
        prediction: np.ndarray,
        classes: np.ndarray,
        count: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """`count` draws of the rows' labels (binary, multiclass) or targets (regression)."""
        if self.task == "binary":
            positive = np.clip(replicate.calibrators[0].predict(prediction), 0.0, 1.0)
            return rng.random((count, len(prediction))) < positive
        if self.task == "multiclass":
            return _drawn_classes(self._calibrated_matrix(replicate, prediction, classes), count, rng)
        assert replicate.error_model is not None and replicate.standardized_errors is not None
        scale = np.maximum(replicate.error_model.predict(_error_inputs(features, prediction)), 0.0)
        errors = replicate.standardized_errors
        return prediction + scale * errors[rng.integers(0, len(errors), size=(count, len(prediction)))]

    def _calibrated_matrix(self, replicate: Replicate, proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities in the order of the model's `classes`, rows summing to one."""
        column = {c: i for i, c in enumerate(classes.tolist())}
        calibrated = np.column_stack(
            [
                calibrator.predict(proba[:, column[c]]) if c in column else np.zeros(len(proba))
                for c, calibrator in zip(self.classes, replicate.calibrators, strict=True)
            ]
        )
        calibrated = calibrated[:, [self.classes.index(c) for c in classes.tolist()]]
        totals = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
        return np.where(totals > 0, calibrated / np.where(totals > 0, totals, 1.0), uniform)


def _summary(values: np.ndarray) -> Estimate:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    tail = (1 - ESTIMATE_LEVEL) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return (float(values.mean()), float(low), float(high))


def _drawn_classes(proba: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` x rows class indices, each row's drawn from its probabilities."""
    cumulative = np.cumsum(proba, axis=1)
    uniform = rng.random((count, len(proba), 1)) * cumulative[None, :, -1:]
    return np.minimum((cumulative[None] < uniform).sum(axis=2), proba.shape[1] - 1)


def fit_quality_estimator(
    estimator: Any,
    features: pd.DataFrame,
    target: np.ndarray,
    fit_params: Callable[[np.ndarray], dict[str, np.ndarray]],
    task: Task,
    predict: Callable[[Any, pd.DataFrame], tuple[np.ndarray, np.ndarray]],
    folds: int,
    seed: int,
) -> QualityEstimator:
    """Learn the calibrator (classification) or error model (regression) from out-of-fold
    predictions of `folds` clones of the unfitted `estimator` on the training rows.
    `fit_params(index)`: the fit keyword arguments (sample weights) of those rows;
    `predict(model, features)`: (prediction, classes) as the kernels read them."""
    splitter: KFold | StratifiedKFold
    if task == "regression":
        splitter = KFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    classes = sorted(np.unique(target).tolist())
    held_out = np.zeros(len(target)) if task != "multiclass" else np.zeros((len(target), len(classes)))
    for train, test in splitter.split(features, target):
        model = clone(estimator).fit(features.iloc[train], target[train], **fit_params(train))
        prediction, fold_classes = predict(model, features.iloc[test])
        if task == "multiclass":
            for j, c in enumerate(fold_classes.tolist()):
                held_out[test, classes.index(c)] = prediction[:, j]
        else:
            held_out[test] = prediction
    resamples = _bootstrap(len(target), REPLICATES if task != "regression" else ERROR_MODEL_REPLICATES, seed)
    if task == "regression":
        return QualityEstimator(
            task, [], [_error_replicate(features, held_out, target, rows, seed) for rows in resamples]
        )
    if task == "binary":
        return QualityEstimator(
            task, [0, 1], [Replicate([_isotonic(held_out[rows], target[rows] == 1)]) for rows in resamples]
        )
    return QualityEstimator(
        task,
        classes,
        [
            Replicate([_isotonic(held_out[rows, j], target[rows] == c) for j, c in enumerate(classes)])
            for rows in resamples
        ],
    )


def _bootstrap(n: int, replicates: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=n) for _ in range(replicates)]


def _isotonic(score: np.ndarray, is_class: np.ndarray) -> IsotonicRegression:
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, is_class.astype(float))


def _error_inputs(features: pd.DataFrame, prediction: np.ndarray) -> pd.DataFrame:
    return features.assign(__prediction=prediction)


def _error_replicate(
    features: pd.DataFrame, held_out: np.ndarray, target: np.ndarray, rows: np.ndarray, seed: int
) -> Replicate:
    """An error model fitted to the out-of-fold absolute errors of `rows`: gradient boosting on
    the features and the prediction, categories as ordinal codes. The errors are standardized on
    the rows the resample left out: on its own rows the model's scale follows their noise and
    standardized errors would come out too small."""
    categorical = [c for c in features.columns if features[c].dtype == object]
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan),
                categorical,
            )
        ],
        remainder="passthrough",
    )
    booster = HistGradientBoostingRegressor(max_iter=50, early_stopping=False, random_state=seed)
    model = Pipeline([("encode", encode), ("model", booster)])
    errors = target.astype(float) - held_out
    inputs = _error_inputs(features, held_out)
    model.fit(inputs.iloc[rows], np.abs(errors[rows]))
    left_out = np.setdiff1d(np.arange(len(target)), rows)
    scale = np.maximum(model.predict(inputs.iloc[left_out]), np.finfo(float).eps)
    standardized = errors[left_out] / scale
    standardized = standardized[np.isfinite(standardized)]
    # Noise in the predicted scale inflates each ratio; the ratio of sums sets their size.
    standardized *= np.sqrt((errors[left_out] ** 2).sum() / (scale**2).sum() / (standardized**2).mean())
    return Replicate([], model, standardized)


# Metrics computed on DRAWS drawn label sets at once: f(draws, prediction) -> one value per draw.
# Binary draws are booleans (DRAWS x rows), multiclass draws class indices into the model's
# classes, regression draws target values.


def _binary_roc_auc(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    ranks = rankdata(score)
    positives = drawn.sum(axis=1).astype(float)
    negatives = drawn.shape[1] - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (drawn @ ranks - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


def _binary_average_precision(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Precision weighted by the recall gained at each distinct score, as scikit-learn computes it."""
    order = np.argsort(-score, kind="stable")
    ordered = score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered) != 0), len(ordered) - 1]
    true_positives = np.cumsum(drawn[:, order], axis=1)[:, last_of_tie].astype(float)
    flagged = (last_of_tie + 1).astype(float)
    positives = true_positives[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = true_positives / positives
        gained = np.diff(np.concatenate([np.zeros_like(positives), recall], axis=1), axis=1)
        average = (gained * true_positives / flagged).sum(axis=1)
    return np.where(positives[:, 0] > 0, average, np.nan)


def _binary_log_loss(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    p = np.clip(score, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.asarray(-(drawn @ np.log(p) + (~drawn) @ np.log1p(-p)) / drawn.shape[1])


def _binary_brier(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    return np.asarray((drawn @ (1 - score) ** 2 + (~drawn) @ score**2) / drawn.shape[1])


def _binary_accuracy(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    flagged = score >= 0.5
    return np.asarray((drawn == flagged).mean(axis=1))


def _binary_f1(drawn: np.ndarray, score: np.ndarray) -> np.ndarray:
    flagged = score >= 0.5
    tp = (drawn & flagged).sum(axis=1)
    wrong = (drawn != flagged).sum(axis=1)
    denominator = 2 * tp + wrong
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def _multi_accuracy(drawn: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return np.asarray((drawn == np.argmax(proba, axis=1)).mean(axis=1))


def _multi_f1_macro(drawn: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Macro F1 over the classes drawn or predicted, as scikit-learn averages it."""
    predicted = np.argmax(proba, axis=1)
    scores, present = [], []
    for c in range(proba.shape[1]):
        is_c, said_c = drawn == c, predicted == c
        tp = (is_c & said_c).sum(axis=1)
        wrong = (is_c != said_c).sum(axis=1)
        scores.append(np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0))
        present.append(is_c.any(axis=1) | said_c.any())
    weight = np.array(present, dtype=float)
    return np.asarray((np.array(scores) * weight).sum(axis=0) / np.maximum(weight.sum(axis=0), 1))


def _multi_log_loss(drawn: np.ndarray, proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba / proba.sum(axis=1, keepdims=True), PROBABILITY_FLOOR, 1.0)
    return np.asarray(-np.log(p[np.arange(p.shape[0])[None, :], drawn]).mean(axis=1))


def _multi_roc_auc_ovr(drawn: np.ndarray, proba: np.ndarray) -> np.ndarray:
    per_class = [_binary_roc_auc(drawn == c, proba[:, c]) for c in range(proba.shape[1])]
    return np.asarray(np.mean(per_class, axis=0))


def _rmse(drawn: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(((drawn - prediction) ** 2).mean(axis=1)))


def _mae(drawn: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(drawn - prediction).mean(axis=1))


def _r2(drawn: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    residual = ((drawn - prediction) ** 2).sum(axis=1)
    total = ((drawn - drawn.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1 - residual / total, np.nan)


DRAWN_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "roc_auc": _binary_roc_auc,
    "average_precision": _binary_average_precision,
    "log_loss": _binary_log_loss,
    "brier": _binary_brier,
    "accuracy": _binary_accuracy,
    "f1": _binary_f1,
    "multiclass_accuracy": _multi_accuracy,
    "f1_macro": _multi_f1_macro,
    "multiclass_log_loss": _multi_log_loss,
    "roc_auc_ovr": _multi_roc_auc_ovr,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}
