"""Prepare a run: read and validate the source, resolve the metrics, the tolerance and the recipe,
check that the periods can give usable evaluations, and plan the fits. Everything before Spark
starts fitting."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.foundation.periods import period_start
from retrain_advisor.modelling.kernels import KernelContext
from retrain_advisor.modelling.metrics import Metric, resolve_metrics, resolve_tolerance
from retrain_advisor.modelling.recipe import check_recipe
from retrain_advisor.planning.plan import History, Plan
from retrain_advisor.planning.study_plan import StudyPlan, plan_study
from retrain_advisor.planning.volumes import check_evaluable
from retrain_advisor.spark.source import PreparedSource, prepare_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedStudy:
    """A validated source and the plan of work for it: everything before Spark starts fitting.
    `config` is the study's config with the tolerance resolved for the primary metric."""

    config: StudyConfig
    source: PreparedSource
    metrics: list[Metric]
    primary_metric: str
    study_plan: StudyPlan
    context: KernelContext

    @property
    def plan(self) -> Plan:
        return self.study_plan.plan

    @property
    def primary(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.primary_metric)


def prepare_study(spark: SparkSession, config: StudyConfig) -> PreparedStudy:
    """Validate the source, metrics and recipe against each other, and plan the fits."""
    source = prepare_source(spark, config)
    try:
        metrics = resolve_metrics(source.task, config.metrics.names)
    except ValueError as error:
        raise ConfigError(f"metrics.names: {error}") from None
    primary = config.metrics.primary or metrics[0].name
    if primary not in [m.name for m in metrics]:
        raise ConfigError(f"metrics.primary {primary!r} must be one of metrics.names {[m.name for m in metrics]}")
    check_recipe(config.model, source.task, source.numeric, source.categorical)
    primary_metric = next(m for m in metrics if m.name == primary)
    config = config.model_copy(update={"tolerance": resolve_tolerance(config.tolerance, primary_metric)})
    rows = {p: source.labelled_rows(p) for p in source.period_ids}
    classes = source.classes if source.task != "regression" else []
    counts = {p: source.class_counts(p) for p in source.period_ids}
    check_evaluable(rows, counts, classes, config.limits, config.tolerance.min_origins + 1, config.period.unit)
    study_plan = plan_study(History(rows), config)
    plan = study_plan.plan
    log.info(
        "plan: %d fits (%s if each analysis ran alone), %d evaluations over %d scored periods",
        len(plan.fits),
        " + ".join(f"{n} {name}" for name, n in study_plan.separate_fit_counts().items()),
        len(plan.evaluations),
        len(plan.scored_periods()),
    )
    return PreparedStudy(config, source, metrics, primary, study_plan, kernel_context(config, source, metrics))


def window_rows(study: PreparedStudy) -> float:
    """The labelled rows the study's lookback window holds at the decay origins (median)."""
    plan = study.plan
    held = [
        sum(study.source.labelled_rows(p) for p in range(plan.fits[f].train_start, plan.fits[f].train_stop))
        for f in study.study_plan.decay.origin_fits.values()
    ]
    return float(np.median(held)) if held else 0.0


def seasons_of_origins(study: PreparedStudy) -> dict[int, str] | None:
    """The quarter of each decay origin, when the history spans a year or more."""
    unit, periods = study.config.period.unit, study.source.period_ids
    if not periods:
        return None
    span = (period_start(unit, periods[-1]) - period_start(unit, periods[0])).days
    if span < 365:
        return None
    return {origin: f"Q{(period_start(unit, origin).month - 1) // 3 + 1}" for origin in study.study_plan.decay.origins}


def kernel_context(config: StudyConfig, source: PreparedSource, metrics: list[Metric]) -> KernelContext:
    return KernelContext(
        task=source.task,
        numeric=source.numeric,
        categorical=source.categorical,
        model=config.model,
        metrics=metrics,
        limits=config.limits,
        seed=config.execution.seed,
        threads=config.execution.threads_per_task,
        classes=source.classes,
        estimation_folds=config.estimation.folds if config.estimation.enabled else None,
    )
