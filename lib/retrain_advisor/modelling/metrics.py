"""Quality metrics per task, and which direction is better."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from retrain_advisor.foundation.config import Task

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """`compute(y_true, prediction, classes)`: for binary, prediction is P(positive); for
    multiclass, a probability matrix whose columns follow `classes`; for regression, values."""

    name: str
    tasks: frozenset[str]
    greater_is_better: bool
    needs_every_class: bool
    compute: Scorer


def _binary_accuracy(y: np.ndarray, p: np.ndarray, _: np.ndarray) -> float:
    return float(skm.accuracy_score(y, p >= 0.5))


def _binary_f1(y: np.ndarray, p: np.ndarray, _: np.ndarray) -> float:
    return float(skm.f1_score(y, p >= 0.5, zero_division=0.0))


def _multi_accuracy(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.accuracy_score(y, classes[np.argmax(p, axis=1)]))


def _multi_f1(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.f1_score(y, classes[np.argmax(p, axis=1)], average="macro", zero_division=0.0))


_BINARY = frozenset({"binary"})
_MULTI = frozenset({"multiclass"})
_REGRESSION = frozenset({"regression"})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _BINARY, True, True, lambda y, p, _: float(skm.roc_auc_score(y, p))),
        Metric("average_precision", _BINARY, True, True, lambda y, p, _: float(skm.average_precision_score(y, p))),
        Metric("log_loss", _BINARY, False, False, lambda y, p, _: float(skm.log_loss(y, p, labels=[0, 1]))),
        Metric("brier", _BINARY, False, False, lambda y, p, _: float(skm.brier_score_loss(y, p))),
        Metric("accuracy", _BINARY, True, False, _binary_accuracy),
        Metric("f1", _BINARY, True, True, _binary_f1),
        Metric("multiclass_accuracy", _MULTI, True, False, _multi_accuracy),
        Metric("f1_macro", _MULTI, True, False, _multi_f1),
        Metric(
            "multiclass_log_loss",
            _MULTI,
            False,
            False,
            lambda y, p, classes: float(skm.log_loss(y, p, labels=classes)),
        ),
        Metric(
            "roc_auc_ovr",
            _MULTI,
            True,
            True,
            lambda y, p, classes: float(skm.roc_auc_score(y, p, multi_class="ovr", labels=classes)),
        ),
        Metric("rmse", _REGRESSION, False, False, lambda y, p, _: float(skm.root_mean_squared_error(y, p))),
        Metric("mae", _REGRESSION, False, False, lambda y, p, _: float(skm.mean_absolute_error(y, p))),
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
