"""One study run, end to end: source -> plan -> fits -> evaluations -> analyses -> Delta tables.

The run is recorded in `runs` first (status running), and marked succeeded or failed at the end,
so readers that join on succeeded runs never see a partial result.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.config import RUN_ID, StudyConfig, config_as_dict
from retrain_advisor.decay import aged_metrics, decay_curve, origin_shelf_life, pooled_shelf_life
from retrain_advisor.errors import ConfigError
from retrain_advisor.execute import run_fits, run_scores
from retrain_advisor.kernels import OK, KernelContext
from retrain_advisor.metrics import Metric, resolve_metrics
from retrain_advisor.periods import GRANULARITY, period_window
from retrain_advisor.plan import Plan, plan_decay
from retrain_advisor.recipe import check_recipe
from retrain_advisor.source import PreparedSource, prepare_source
from retrain_advisor.store import ResultStore
from retrain_advisor.tables import SCHEMAS
from retrain_advisor.tracking import log_study

log = logging.getLogger(__name__)

LIBRARIES = ["retrain-advisor", "pyspark", "delta-spark", "pandas", "numpy", "pyarrow", "scikit-learn"]


@dataclass(frozen=True)
class StudyResult:
    run_id: str
    store: ResultStore
    primary_metric: str
    n_fits: int
    n_evaluations: int
    seconds: float
    stage_seconds: dict[str, float]

    def shelf_life(self) -> DataFrame:
        """The pooled shelf life row(s) of this run."""
        return self.store.read("shelf_life", self.run_id).where(F.col("fit_id").isNull())


@contextmanager
def stage(name: str, timings: dict[str, float], detail: str = "") -> Iterator[None]:
    """Log a stage's start and duration, and record the duration under `name`."""
    started = time.perf_counter()
    log.info("%s %s...", name, detail)
    yield
    timings[name] = time.perf_counter() - started
    log.info("%s done in %.1f s", name, timings[name])


@dataclass(frozen=True)
class PreparedStudy:
    """A validated source and the plan of work for it: everything before Spark starts fitting."""

    source: PreparedSource
    metrics: list[Metric]
    primary_metric: str
    plan: Plan
    context: KernelContext


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
    plan = plan_decay(
        source.period_ids, config.windows, config.period.unit, config.limits.max_train_rows, config.execution.seed
    )
    log.info(
        "plan: %d fits, %d evaluations over %d scored periods",
        len(plan.fits),
        len(plan.evaluations),
        len(plan.scored_periods()),
    )
    return PreparedStudy(source, metrics, primary, plan, kernel_context(config, source, metrics))


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def _window(start: str, end: str) -> Column:
    """A Databricks-style `window` struct from two timestamp columns."""
    return F.struct(F.col(start).alias("start"), F.col(end).alias("end"))


class StudyRun:
    """Carries the state of one run between its stages."""

    def __init__(self, spark: SparkSession, config: StudyConfig, run_id: str | None = None) -> None:
        self.spark = spark
        self.config = config
        self.run_id = run_id or config.output.run_id or new_run_id()
        if not RUN_ID.match(self.run_id):
            raise ConfigError(f"run id {self.run_id!r} may hold only letters, digits and _ . : - (at most 128)")
        self.store = ResultStore(spark, config.output)
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self.granularity = GRANULARITY[config.period.unit]

    def record(self, status: str, error: str | None = None, study: PreparedStudy | None = None) -> None:
        """Write this run's row of `runs`; the study fills in what is known once it is prepared."""
        finished = None if status == "running" else dt.datetime.now(dt.timezone.utc)
        source = study.source if study else None
        row = {
            "run_id": self.run_id,
            "study_name": self.config.name,
            "status": status,
            "started_at": self.started_at,
            "finished_at": finished,
            "error": error,
            "source_name": source.report.name if source else self.config.source.describe(),
            "source_version": source.report.delta_version if source else None,
            "source_rows": source.report.as_dict() if source else None,
            "granularity": self.granularity,
            "task": source.task if source else self.config.task,
            "primary_metric": study.primary_metric if study else None,
            "n_fits": len(study.plan.fits) if study else None,
            "n_evaluations": len(study.plan.evaluations) if study else None,
            "config_json": json.dumps(config_as_dict(self.config), sort_keys=True),
            "library_versions": library_versions(),
        }
        self.store.replace_run("runs", self.spark.createDataFrame([row], SCHEMAS["runs"]), self.run_id)

    def with_run_columns(self, df: DataFrame) -> DataFrame:
        return df.select(
            F.lit(self.run_id).alias("run_id"),
            F.lit(None).cast("string").alias("slice_key"),
            F.lit(None).cast("string").alias("slice_value"),
            F.lit(self.granularity).alias("granularity"),
            *[F.col(c) for c in df.columns],
        )

    def fit_metadata(self, plan: Plan) -> DataFrame:
        unit, zone = self.config.period.unit, self.config.period.timezone
        records = []
        for fit in plan.sorted_fits():
            train = period_window(unit, fit.train_start, fit.train_stop, zone)
            origin = period_window(unit, fit.train_end, fit.train_end + 1, zone)
            records.append((fit.fit_id, *train, *origin, fit.lookback, fit.gap))
        pdf = pd.DataFrame.from_records(
            records, columns=["fit_id", "ts", "te", "os", "oe", "lookback_periods", "gap_periods"]
        )
        df = self.spark.createDataFrame(
            pdf,
            "fit_id string, ts timestamp, te timestamp, os timestamp, oe timestamp, "
            "lookback_periods int, gap_periods int",
        )
        return df.select(
            "fit_id",
            _window("ts", "te").alias("train_window"),
            _window("os", "oe").alias("origin"),
            "lookback_periods",
            "gap_periods",
        )

    def evaluation_metadata(self, plan: Plan, source: PreparedSource) -> DataFrame:
        unit, zone = self.config.period.unit, self.config.period.timezone
        records = [
            (
                e.fit_id,
                e.period_id,
                e.model_age,
                *period_window(unit, e.period_id, e.period_id + 1, zone),
                source.labelled_rows(e.period_id),
            )
            for e in plan.sorted_evaluations()
        ]
        df = self.spark.createDataFrame(
            pd.DataFrame.from_records(records, columns=["fit_id", "period_id", "model_age", "ws", "we", "avail"]),
            "fit_id string, period_id int, model_age int, ws timestamp, we timestamp, avail bigint",
        )
        return df.select(
            "fit_id",
            "period_id",
            "model_age",
            _window("ws", "we").alias("window"),
            F.col("avail").alias("eval_rows_available"),
        )


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


def run_study(spark: SparkSession, config: StudyConfig, run_id: str | None = None) -> StudyResult:
    """Run the study and write its tables; returns where to find them."""
    started = time.perf_counter()
    run = StudyRun(spark, config, run_id)
    log.info("run %s of study %r -> %s", run.run_id, config.name, config.output.path or config.output.schema_name)
    run.store.ensure_schema()
    run.record("running")
    timings: dict[str, float] = {}
    study: PreparedStudy | None = None
    try:
        with stage("prepare", timings, "(read and validate the source, plan the fits) "):
            study = prepare_study(spark, config)
        plan, source, ctx = study.plan, study.source, study.context

        with stage("fit", timings, f"{len(plan.fits)} models "):
            fitted = run_fits(spark, plan, source, ctx).join(run.fit_metadata(plan), "fit_id")
            run.store.replace_run("fits", run.with_run_columns(fitted), run.run_id)
        fits = run.store.read("fits", run.run_id)

        with stage("score", timings, f"{len(plan.evaluations)} evaluations "):
            scores = run_scores(spark, plan, source, fits, ctx, config.execution.periods_per_score_task)
            evaluations = (
                scores.join(run.evaluation_metadata(plan, source), ["fit_id", "period_id"])
                .join(
                    fits.select(
                        "fit_id",
                        "train_window",
                        "origin",
                        "lookback_periods",
                        "gap_periods",
                        "train_rows_used",
                        F.col("status").alias("fit_status"),
                        "fit_seconds",
                    ),
                    "fit_id",
                )
                .withColumn("is_sufficient", F.col("status") == OK)
                .drop("period_id")
            )
            run.store.replace_run("evaluations", run.with_run_columns(evaluations), run.run_id)
        evaluations = run.store.read("evaluations", run.run_id)

        with stage("decay", timings, "(decay curve and shelf life) "):
            aged = aged_metrics(evaluations, study.metrics)
            execution = config.execution
            curve = decay_curve(aged, config.tolerance.confidence, execution.bootstrap_samples, execution.seed)
            run.store.replace_run("decay_curve", curve, run.run_id)
            curve = run.store.read("decay_curve", run.run_id)
            shelf = pooled_shelf_life(curve, study.primary_metric, config.tolerance).unionByName(
                origin_shelf_life(aged, study.primary_metric, config.tolerance)
            )
            run.store.replace_run("shelf_life", shelf, run.run_id)
    except BaseException as error:
        try:
            run.record("failed", f"{type(error).__name__}: {error}"[:4000], study)
        except Exception as record_error:  # keep the original error; say why the record is missing
            log.error("could not mark run %s as failed: %s", run.run_id, record_error)
        raise
    run.record("succeeded", None, study)
    seconds = time.perf_counter() - started
    log.info("run %s succeeded in %.1f s", run.run_id, seconds)
    result = StudyResult(
        run.run_id, run.store, study.primary_metric, len(plan.fits), len(plan.evaluations), seconds, timings
    )
    if config.tracking.mlflow:
        try:
            log_study(result, config)
        except Exception as error:  # the Delta tables are complete; a tracking outage must not undo them
            log.warning(
                "could not log run %s to MLflow (%s: %s); its Delta tables are complete",
                run.run_id,
                type(error).__name__,
                error,
            )
    return result
