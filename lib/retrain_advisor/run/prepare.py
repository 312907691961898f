"""Prepare a run: read and validate the source, resolve the metrics and the recipe, and plan
the fits. Everything before Spark starts fitting."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.modelling.kernels import KernelContext
from retrain_advisor.modelling.metrics import Metric, resolve_metrics
from retrain_advisor.modelling.recipe import check_recipe
from retrain_advisor.planning.plan import History, Plan
from retrain_advisor.planning.study_plan import StudyPlan, plan_study
from retrain_advisor.spark.source import PreparedSource, prepare_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedStudy:
    """A validated source and the plan of work for it: everything before Spark starts fitting."""

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
    study_plan = plan_study(History({p: source.labelled_rows(p) for p in source.period_ids}), config)
    plan = study_plan.plan
    log.info(
        "plan: %d fits (%s if each analysis ran alone), %d evaluations over %d scored periods",
        len(plan.fits),
        " + ".join(f"{n} {name}" for name, n in study_plan.separate_fit_counts().items()),
        len(plan.evaluations),
        len(plan.scored_periods()),
    )
    return PreparedStudy(source, metrics, primary, study_plan, kernel_context(config, source, metrics))


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
    )
