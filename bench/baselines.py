"""The same plan without Spark: a sequential pandas + scikit-learn loop, and joblib on the same cores.

Both call the tool's own kernels (`fit_model`, `ScoringRows.prepare`, `score_model`) on the same
sampled rows the engine uses, handed to them in memory: loading is not timed, so the ratios
favour the baselines. Each returns the primary metric of every evaluation, so the caller can
check that all three did the same work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from joblib import Parallel, delayed

from retrain_advisor.foundation.vocabulary import OK, PERIOD
from retrain_advisor.modelling.kernels import KernelContext, ScoringRows, fit_model, score_model
from retrain_advisor.planning.plan import FitSpec, Plan
from retrain_advisor.spark.execute import FIT

Scores = dict[tuple[str, int], float | None]  # (fit id, model age) -> primary metric


@dataclass(frozen=True)
class BaselineRun:
    seconds: float  # wall time
    kernel_cpu_seconds: float  # CPU time inside the kernels (sequential loop only: one process)
    fit_cpu_seconds: float  # of which fitting
    scores: Scores


def _fit(rows: pd.DataFrame, fit: FitSpec, ctx: KernelContext) -> bytes | None:
    outcome = fit_model(rows, fit, ctx)
    return outcome.model if outcome.status == OK else None


def _score_period(
    rows: pd.DataFrame, models: dict[str, bytes | None], ctx: KernelContext, metric: str
) -> dict[str, float | None]:
    prepared = ScoringRows.prepare(rows, ctx)
    return {
        fit_id: score_model(prepared, model, ctx).metrics.get(metric)
        for fit_id, model in models.items()
        if model is not None
    }


def sequential_loop(
    plan: Plan, train: pd.DataFrame, test: pd.DataFrame, ctx: KernelContext, metric: str
) -> BaselineRun:
    """Fit every planned model, then score every period with the models planned on it, one by one."""
    train_by_fit = dict(tuple(train.groupby(FIT)))
    test_by_period = dict(tuple(test.groupby(PERIOD)))
    wall, cpu = time.perf_counter(), time.process_time()
    models = {fit.fit_id: _fit(train_by_fit[fit.fit_id], fit, ctx) for fit in plan.sorted_fits()}
    fit_cpu = time.process_time() - cpu
    scores: Scores = {}
    for period, fit_ids in sorted(plan.fits_scored_on().items()):
        scored = _score_period(test_by_period[period], {f: models[f] for f in fit_ids}, ctx, metric)
        scores |= {(fit_id, period - plan.fits[fit_id].train_end): value for fit_id, value in scored.items()}
    return BaselineRun(time.perf_counter() - wall, time.process_time() - cpu, fit_cpu, scores)


def joblib_run(
    plan: Plan, train: pd.DataFrame, test: pd.DataFrame, ctx: KernelContext, metric: str, cores: int
) -> BaselineRun:
    """The loop's two phases, each spread over `cores` loky worker processes by joblib."""
    train_by_fit = dict(tuple(train.groupby(FIT)))
    test_by_period = dict(tuple(test.groupby(PERIOD)))
    fits = plan.sorted_fits()
    planned = sorted(plan.fits_scored_on().items())
    with Parallel(n_jobs=cores, backend="loky") as parallel:
        parallel(delayed(len)([]) for _ in range(cores))  # start the workers before the clock
        started = time.perf_counter()
        fitted = parallel(delayed(_fit)(train_by_fit[fit.fit_id], fit, ctx) for fit in fits)
        models = {fit.fit_id: model for fit, model in zip(fits, fitted, strict=True)}
        scored = parallel(
            delayed(_score_period)(test_by_period[period], {f: models[f] for f in fit_ids}, ctx, metric)
            for period, fit_ids in planned
        )
        seconds = time.perf_counter() - started
    scores = {
        (fit_id, period - plan.fits[fit_id].train_end): value
        for (period, _), values in zip(planned, scored, strict=True)
        for fit_id, value in values.items()
    }
    return BaselineRun(seconds, float("nan"), float("nan"), scores)
