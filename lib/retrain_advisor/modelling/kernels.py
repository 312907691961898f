"""The fit and score kernels: plain pandas + scikit-learn, run inside Spark tasks.

They never raise for a problem with one window: the outcome records the status and the reason,
so one bad window does not fail the whole study.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from retrain_advisor.foundation.config import LimitsConfig, ModelConfig, Task
from retrain_advisor.foundation.statistics import derive_seed
from retrain_advisor.foundation.vocabulary import FAILED, INSUFFICIENT, OK, PERIOD, ROW_HASH, SKIPPED, SLICE, TARGET
from retrain_advisor.modelling.estimation import DRAWN_METRICS, Estimate, QualityEstimator, fit_quality_estimator
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.modelling.recipe import build_estimator
from retrain_advisor.planning.plan import FitSpec

# Internal columns of the rows handed to kernels; source columns may not start with "__".


MAX_REASON = 500


@dataclass(frozen=True)
class KernelContext:
    """Everything a kernel needs besides its rows; small, pickled into every task."""

    task: Task
    numeric: list[str]
    categorical: list[str]
    model: ModelConfig
    metrics: list[Metric]
    limits: LimitsConfig
    seed: int
    threads: int
    classes: list[str] = field(default_factory=list)
    estimation_folds: int | None = None  # out-of-fold fits that calibrate quality estimates; None: no estimates

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"


@dataclass
class FitOutcome:
    status: str
    reason: str | None
    rows: int
    class_counts: dict[str, int]
    fit_seconds: float
    model: bytes | None
    prediction_bins: list[float] | None = None
    quality_estimator: bytes | None = None


@dataclass
class ScoreOutcome:
    slice_value: str | None
    status: str
    reason: str | None
    rows: int
    class_counts: dict[str, int]
    metrics: dict[str, float | None]
    score_seconds: float
    prediction_counts: list[int] | None = None
    estimates: dict[str, Estimate] = field(default_factory=dict)


# Binary predictions are counted in equal probability bins, so every evaluation's counts share bins.
PROBABILITY_BINS = 10


def regression_bins(target: pd.Series) -> list[float]:
    """The edges a regression fit's predictions are counted in: the deciles of its training rows'
    target, so every evaluation of the fit shares bins that read nothing after its window."""
    deciles = np.quantile(target.to_numpy(dtype=float), np.linspace(0.1, 0.9, 9))
    return [float(edge) for edge in np.unique(deciles)]


def prediction_counts(
    prediction: np.ndarray, classes: np.ndarray, ctx: KernelContext, bins: Sequence[float] | None = None
) -> list[int] | None:
    """How the predictions are distributed, for prediction drift: binary, the positive-class probability
    in PROBABILITY_BINS equal bins of [0, 1]; multiclass, the predicted class, in `ctx.classes` order;
    regression, the prediction in the fit's `bins` (open at both ends), None without them."""
    if ctx.task == "binary":
        return np.histogram(prediction, bins=PROBABILITY_BINS, range=(0.0, 1.0))[0].astype(int).tolist()
    if ctx.task == "multiclass":
        predicted = classes[np.argmax(prediction, axis=1)].astype(str) if len(prediction) else np.array([])
        return [int((predicted == c).sum()) for c in ctx.classes]
    if bins is None:
        return None
    edges = np.asarray(bins, dtype=float)
    return np.bincount(np.searchsorted(edges, prediction, side="right"), minlength=len(edges) + 1).tolist()


@lru_cache(maxsize=1)
def _thread_pools(modules_loaded: int) -> ThreadpoolController:
    return ThreadpoolController()


def limited_threads(threads: int) -> AbstractContextManager[object]:
    """Limit BLAS/OpenMP threads inside a kernel. Finding the thread pools scans the loaded native
    libraries (2.5 ms, paid on every kernel call by `threadpool_limits`); the scan is redone
    only once new modules were imported, which may have loaded new libraries."""
    return _thread_pools(len(sys.modules)).limit(limits=threads)


def class_counts(target: pd.Series, is_classification: bool) -> dict[str, int]:
    if not is_classification:
        return {}
    return {str(k): int(v) for k, v in target.value_counts().sort_index().items()}


def target_values(rows: pd.DataFrame, ctx: KernelContext) -> pd.Series:
    """The target with its task's type: a frame that passed through a union may hold 0/1 as floats."""
    return rows[TARGET].astype("int64") if ctx.task == "binary" else rows[TARGET]


def features_frame(rows: pd.DataFrame, ctx: KernelContext) -> pd.DataFrame:
    """Feature columns with numbers as float and missing categories as NaN (what encoders expect)."""
    frame = rows[ctx.features].copy()
    for name in ctx.numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in ctx.categorical:
        column = frame[name].astype(object)
        frame[name] = column.where(column.notna(), np.nan)
    return frame


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_REASON]


def fit_model(rows: pd.DataFrame, fit: FitSpec, ctx: KernelContext) -> FitOutcome:
    """Train one model on its (already sampled) training rows."""
    rows = rows.sort_values(ROW_HASH, kind="stable")  # arrival order from a shuffle is not deterministic
    target = target_values(rows, ctx)
    counts = class_counts(target, ctx.is_classification)
    skipped_reason = None
    if len(rows) < ctx.limits.min_train_rows:
        skipped_reason = f"{len(rows)} training rows, fewer than limits.min_train_rows={ctx.limits.min_train_rows}"
    elif ctx.is_classification and len(counts) < 2:
        skipped_reason = f"only one class in the training window ({', '.join(counts) or 'none'})"
    if skipped_reason:
        return FitOutcome(SKIPPED, skipped_reason, len(rows), counts, 0.0, None)
    try:
        estimator = build_estimator(
            ctx.model, ctx.task, ctx.numeric, ctx.categorical, derive_seed(ctx.seed, fit.fit_id)
        )
        features = features_frame(rows, ctx)
        weights = _recency_weights(rows, fit, estimator)
        unfitted = clone(estimator)
        started = time.perf_counter()
        with limited_threads(ctx.threads):
            estimator.fit(features, target.to_numpy(), **weights)
        seconds = time.perf_counter() - started
        bins = None if ctx.is_classification else regression_bins(target)
    except Exception as error:  # the recipe is user code: record, never crash the study
        return FitOutcome(FAILED, _describe(error), len(rows), counts, 0.0, None)
    quality, missing = _quality_estimator(unfitted, features, target.to_numpy(), weights, fit, ctx)
    return FitOutcome(OK, missing, len(rows), counts, seconds, pickle.dumps(estimator), bins, quality)


def _quality_estimator(
    unfitted: Any,
    features: pd.DataFrame,
    target: np.ndarray,
    weights: dict[str, np.ndarray],
    fit: FitSpec,
    ctx: KernelContext,
) -> tuple[bytes | None, str | None]:
    """The fit's pickled quality estimator, or None and why not when it cannot be learnt (the
    recipe fails on part of the window, say); None and no reason when estimates are off. The fit
    itself stands either way."""
    if ctx.estimation_folds is None:
        return None, None
    try:
        with limited_threads(ctx.threads):
            quality = fit_quality_estimator(
                unfitted,
                features,
                target,
                lambda index: {name: values[index] for name, values in weights.items()},
                ctx.task,
                lambda model, rows: _prediction(model, rows, ctx),
                ctx.estimation_folds,
                derive_seed(ctx.seed, f"{fit.fit_id}/estimation"),
            )
        return pickle.dumps(quality), None
    except Exception as error:  # the recipe is user code; an estimate is an extra
        return None, f"no quality estimator: {_describe(error)}"[:MAX_REASON]


def _recency_weights(rows: pd.DataFrame, fit: FitSpec, estimator: object) -> dict[str, np.ndarray]:
    """`sample_weight` for a recency-weighted fit, routed to the last step of a pipeline."""
    if fit.half_life is None:
        return {}
    weights = np.array([fit.weight_of(int(p)) for p in rows[PERIOD]], dtype=float)
    if isinstance(estimator, Pipeline):
        return {f"{estimator.steps[-1][0]}__sample_weight": weights}
    return {"sample_weight": weights}


def _prediction(estimator: Any, features: pd.DataFrame, ctx: KernelContext) -> tuple[np.ndarray, np.ndarray]:
    if ctx.task == "regression":
        return np.asarray(estimator.predict(features), dtype=float), np.array([])
    proba = estimator.predict_proba(features)
    classes = np.asarray(estimator.classes_)
    if ctx.task == "binary":
        positive = np.flatnonzero(classes == 1)
        return (proba[:, positive[0]] if positive.size else np.zeros(len(features))), classes
    return proba, classes


def insufficiency(counts: dict[str, int], rows: int, ctx: KernelContext) -> str | None:
    """Why an evaluation is too small to enter the aggregates, or None."""
    if rows < ctx.limits.min_eval_rows:
        return f"{rows} rows, fewer than limits.min_eval_rows={ctx.limits.min_eval_rows}"
    if ctx.is_classification:
        expected = ["0", "1"] if ctx.task == "binary" else ctx.classes
        thin = {c: counts.get(c, 0) for c in expected if counts.get(c, 0) < ctx.limits.min_class_rows}
        if thin:
            return f"class counts {thin} below limits.min_class_rows={ctx.limits.min_class_rows}"
    return None


@dataclass(frozen=True)
class ScoringRows:
    """One period's rows, prepared once and scored by every model that serves the period.

    `slices` holds each row's slice value when the study is sliced.
    """

    features: pd.DataFrame
    target: np.ndarray
    class_counts: dict[str, int]
    slices: np.ndarray | None = None

    @classmethod
    def prepare(cls, rows: pd.DataFrame, ctx: KernelContext) -> ScoringRows:
        rows = rows.sort_values(ROW_HASH, kind="stable")
        target = target_values(rows, ctx)
        slices = rows[SLICE].to_numpy(dtype=object) if SLICE in rows else None
        return cls(features_frame(rows, ctx), target.to_numpy(), class_counts(target, ctx.is_classification), slices)

    def __len__(self) -> int:
        return len(self.target)

    def slice_masks(self) -> list[tuple[str | None, np.ndarray | None]]:
        """(None, None) for all rows, then (value, mask) for each slice value present."""
        masks: list[tuple[str | None, np.ndarray | None]] = [(None, None)]
        if self.slices is not None:
            masks += [(str(v), self.slices == v) for v in sorted(set(self.slices))]
        return masks


def score_model(
    rows: ScoringRows, model: bytes, ctx: KernelContext, bins: Sequence[float] | None = None
) -> ScoreOutcome:
    """Score one fitted model on the (already sampled) rows of one period."""
    return score_slices(rows, model, ctx, bins)[0]


@dataclass(frozen=True)
class Estimating:
    """A fit's pickled quality estimator, and the seed of its draws on one period."""

    estimator: bytes
    seed: int


def score_slices(
    rows: ScoringRows,
    model: bytes,
    ctx: KernelContext,
    bins: Sequence[float] | None = None,
    estimating: Estimating | None = None,
) -> list[ScoreOutcome]:
    """Predict once; measure all rows, then each slice's rows (the first outcome is all rows).
    `bins`: a regression fit's `prediction_bins`; `estimating`: estimate the metrics without the
    labels too."""
    if len(rows) == 0:
        return [ScoreOutcome(None, INSUFFICIENT, "no rows in the scored period", 0, {}, {}, 0.0)]
    started = time.perf_counter()
    try:
        estimator = pickle.loads(model)
        with limited_threads(ctx.threads):
            prediction, classes = _prediction(estimator, rows.features, ctx)
    except Exception as error:
        seconds = time.perf_counter() - started
        return [
            ScoreOutcome(
                value,
                FAILED,
                _describe(error),
                len(rows) if mask is None else int(mask.sum()),
                rows.class_counts if mask is None else {},
                {},
                seconds if mask is None else 0.0,
            )
            for value, mask in rows.slice_masks()
        ]
    quality = _unpickled_estimator(estimating)
    outcomes = []
    for value, mask in rows.slice_masks():
        y_true = rows.target if mask is None else rows.target[mask]
        predicted = prediction if mask is None else prediction[mask]
        counts = rows.class_counts if mask is None else class_counts(pd.Series(y_true), ctx.is_classification)
        outcome = _measure(value, y_true, predicted, classes, counts, ctx, bins)
        if quality is not None and estimating is not None:
            features = rows.features if mask is None else rows.features[mask]
            drawn = {m.name: DRAWN_METRICS[m.name] for m in ctx.metrics}
            with limited_threads(ctx.threads):
                outcome.estimates = quality.estimate(features, predicted, classes, drawn, estimating.seed)
        outcomes.append(outcome)
    # The time is spent once for all rows; slice rows carry none, so sums over evaluations hold.
    return [replace(outcomes[0], score_seconds=time.perf_counter() - started), *outcomes[1:]]


def _unpickled_estimator(estimating: Estimating | None) -> QualityEstimator | None:
    if estimating is None:
        return None
    quality = pickle.loads(estimating.estimator)
    return quality if isinstance(quality, QualityEstimator) else None


def _measure(
    slice_value: str | None,
    y_true: np.ndarray,
    prediction: np.ndarray,
    classes: np.ndarray,
    counts: dict[str, int],
    ctx: KernelContext,
    bins: Sequence[float] | None = None,
) -> ScoreOutcome:
    values: dict[str, float | None] = {}
    for metric in ctx.metrics:
        if metric.needs_every_class and len(counts) < 2:
            values[metric.name] = None
            continue
        try:
            values[metric.name] = metric.compute(y_true, prediction, classes)
        except ValueError:
            values[metric.name] = None
    reason = insufficiency(counts, len(y_true), ctx)
    status = INSUFFICIENT if reason else OK
    spread = prediction_counts(prediction, classes, ctx, bins)
    return ScoreOutcome(slice_value, status, reason, len(y_true), counts, values, 0.0, spread)
