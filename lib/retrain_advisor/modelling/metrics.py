"""Quality metrics per task, and which direction is better."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from retrain_advisor.foundation.config import Task, ToleranceConfig

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """`compute(y_true, prediction, classes)`: for binary, prediction is P(positive); for
    multiclass, a probability matrix whose columns follow `classes`; for regression, values.

    `tolerance` is the default acceptable loss when the study sets none: absolute for bounded
    scores (AUC, accuracy), relative for errors in the label's own units (RMSE, log loss).
    `follows_base_rate`: the metric moves when only the class balance moves, with the same
    model (average precision, accuracy, log loss); a tolerance on it means something else when
    the base rate drifts.
    """

    name: str
    tasks: frozenset[str]
    greater_is_better: bool
    needs_every_class: bool
    compute: Scorer
    tolerance: ToleranceConfig = ToleranceConfig(absolute=0.02)
    follows_base_rate: bool = False


def _binary_accuracy(y: np.ndarray, p: np.ndarray, _: np.ndarray) -> float:
    return float(skm.accuracy_score(y, p >= 0.5))


def _binary_f1(y: np.ndarray, p: np.ndarray, _: np.ndarray) -> float:
    return float(skm.f1_score(y, p >= 0.5, zero_division=0.0))


def _multi_accuracy(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.accuracy_score(y, classes[np.argmax(p, axis=1)]))


def _multi_f1(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.f1_score(y, classes[np.argmax(p, axis=1)], average="macro", zero_division=0.0))


RELATIVE_5 = ToleranceConfig(relative=0.05)

_BINARY = frozenset({"binary"})
_MULTI = frozenset({"multiclass"})
_REGRESSION = frozenset({"regression"})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _BINARY, True, True, lambda y, p, _: float(skm.roc_auc_score(y, p))),
        Metric(
            "average_precision",
            _BINARY,
            True,
            True,
            lambda y, p, _: float(skm.average_precision_score(y, p)),
            RELATIVE_5,
            follows_base_rate=True,
        ),
        Metric(
            "log_loss",
            _BINARY,
            False,
            False,
            lambda y, p, _: float(skm.log_loss(y, p, labels=[0, 1])),
            RELATIVE_5,
            follows_base_rate=True,
        ),
        Metric(
            "brier",
            _BINARY,
            False,
            False,
            lambda y, p, _: float(skm.brier_score_loss(y, p)),
            RELATIVE_5,
            follows_base_rate=True,
        ),
        Metric("accuracy", _BINARY, True, False, _binary_accuracy, follows_base_rate=True),
        Metric("f1", _BINARY, True, True, _binary_f1, follows_base_rate=True),
        Metric("multiclass_accuracy", _MULTI, True, False, _multi_accuracy, follows_base_rate=True),
        Metric("f1_macro", _MULTI, True, False, _multi_f1, follows_base_rate=True),
        Metric(
            "multiclass_log_loss",
            _MULTI,
            False,
            False,
            lambda y, p, classes: float(skm.log_loss(y, p, labels=classes)),
            RELATIVE_5,
            follows_base_rate=True,
        ),
        Metric(
            "roc_auc_ovr",
            _MULTI,
            True,
            True,
            lambda y, p, classes: float(skm.roc_auc_score(y, p, multi_class="ovr", labels=classes)),
        ),
        Metric(
            "rmse",
            _REGRESSION,
            False,
            False,
            # the root of the mean squared error: root_mean_squared_error is new in scikit-learn 1.4
            lambda y, p, _: float(np.sqrt(skm.mean_squared_error(y, p))),
            RELATIVE_5,
        ),
        Metric("mae", _REGRESSION, False, False, lambda y, p, _: float(skm.mean_absolute_error(y, p)), RELATIVE_5),
        Metric("r2", _REGRESSION, True, False, lambda y, p, _: float(skm.r2_score(y, p))),
    ]
}

DEFAULT_METRICS: dict[str, list[str]] = {
    "binary": ["roc_auc", "average_precision", "log_loss", "brier", "accuracy"],
    "multiclass": ["multiclass_accuracy", "f1_macro", "multiclass_log_loss"],
    "regression": ["rmse", "mae", "r2"],
}


def resolve_metrics(task: Task, names: list[str] | None) -> list[Metric]:
    """The metrics to compute for a task; raises ValueError naming an unknown or unsuitable one."""
    chosen = names or DEFAULT_METRICS[task]
    resolved = []
    for name in chosen:
        metric = METRICS.get(name)
        if metric is None or task not in metric.tasks:
            valid = ", ".join(n for n, m in METRICS.items() if task in m.tasks)
            raise ValueError(f"metric {name!r} is not available for a {task} task; choose from {valid}")
        resolved.append(metric)
    return resolved


def resolve_tolerance(tolerance: ToleranceConfig, metric: Metric) -> ToleranceConfig:
    """The study's tolerance, or the primary metric's default when the study sets none.

    Only what the user sets applies: a study that sets `relative` alone gets no absolute
    limit beside it.
    """
    if tolerance.is_set:
        return tolerance
    return tolerance.model_copy(update={k: getattr(metric.tolerance, k) for k in ("absolute", "relative", "floor")})
