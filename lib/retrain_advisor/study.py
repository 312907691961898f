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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor import analyses
from retrain_advisor.analyses import AnalysisInputs
from retrain_advisor.backtest import backtest_rows
from retrain_advisor.config import RUN_ID, StudyConfig, config_as_dict
from retrain_advisor.designs import StudyPlan, plan_study
from retrain_advisor.errors import ConfigError
from retrain_advisor.execute import run_fits, run_scores
from retrain_advisor.kernels import OK, KernelContext
from retrain_advisor.metrics import Metric, resolve_metrics
from retrain_advisor.periods import GRANULARITY, period_window
from retrain_advisor.plan import History, Plan
from retrain_advisor.publish import publish
from retrain_advisor.recipe import check_recipe
from retrain_advisor.session import JobLabels
from retrain_advisor.source import PreparedSource, prepare_source
from retrain_advisor.store import ResultStore
from retrain_advisor.tables import SCHEMAS, frame_of
from retrain_advisor.views import refresh_views

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
    report_path: Path | None = None

    def shelf_life(self) -> DataFrame:
        """The pooled shelf life row(s) of this run, for all rows and each slice."""
        return self.store.read("shelf_life", self.run_id).where(F.col("fit_id").isNull())

    def recommendations(self) -> DataFrame:
        return self.store.read("recommendations", self.run_id)

    def table(self, name: str) -> DataFrame:
        return self.store.read(name, self.run_id)


@contextmanager
def stage(name: str, timings: dict[str, float], detail: str = "", jobs: JobLabels | None = None) -> Iterator[None]:
    """Log a stage's start and duration, record the duration under `name`, and label the Spark
    jobs it starts (shown in the Spark UI)."""
    started = time.perf_counter()
    log.info("%s %s...", name, detail)
    with jobs.label(name, detail) if jobs else nullcontext():
        yield
    timings[name] = time.perf_counter() - started
    log.info("%s done in %.1f s", name, timings[name])


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
        self.jobs = JobLabels(spark, self.run_id)

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
        """The run id, granularity and slice columns (slice_value null: all rows) in front."""
        sliced = "slice_value" in df.columns
        slice_value = F.col("slice_value") if sliced else F.lit(None).cast("string")
        slice_key = F.when(slice_value.isNotNull(), F.lit(self.config.slice.key)).cast("string")
        return df.select(
            F.lit(self.run_id).alias("run_id"),
            slice_key.alias("slice_key"),
            slice_value.alias("slice_value"),
            F.lit(self.granularity).alias("granularity"),
            *[F.col(c) for c in df.columns if c != "slice_value"],
        )

    def run_records(self, records: list[dict]) -> list[dict]:
        """Driver-side rows with the run columns filled in."""
        key = self.config.slice.key
        return [
            {
                **record,
                "run_id": self.run_id,
                "granularity": self.granularity,
                "slice_key": None if record.get("slice_value") is None else key,
            }
            for record in records
        ]

    def window(self, period_id: int) -> dict[str, dt.datetime]:
        start, end = period_window(self.config.period.unit, period_id, period_id + 1, self.config.period.timezone)
        return {"start": start, "end": end}

    def drift_records(self, drift: pd.DataFrame) -> list[dict]:
        """feature_drift rows with windows in place of period ids."""
        unit, zone = self.config.period.unit, self.config.period.timezone

        def span(start: int, stop: int) -> dict[str, dt.datetime]:
            begin, end = period_window(unit, start, stop, zone)
            return {"start": begin, "end": end}

        records = [
            {
                **row,
                "window": self.window(int(row["period_id"])),
                "window_cmp": span(int(row["cmp_start"]), int(row["cmp_stop"])),
                "model_age": None if pd.isna(row.get("model_age")) else int(row["model_age"]),
                "fit_id": None if pd.isna(row.get("fit_id")) else row["fit_id"],
            }
            for row in drift.to_dict("records")
        ]
        return self.run_records(records)

    def fit_metadata(self, plan: Plan) -> DataFrame:
        unit, zone = self.config.period.unit, self.config.period.timezone
        records = []
        for fit in plan.sorted_fits():
            train = period_window(unit, fit.train_start, fit.train_stop, zone)
            origin = period_window(unit, fit.train_end, fit.train_end + 1, zone)
            records.append(
                (
                    fit.fit_id,
                    *train,
                    *origin,
                    fit.lookback,
                    fit.gap,
                    fit.half_life,
                    fit.max_rows,
                    plan.analyses_of(fit.fit_id),
                )
            )
        df = self.spark.createDataFrame(
            records,
            "fit_id string, ts timestamp, te timestamp, os timestamp, oe timestamp, lookback_periods int, "
            "gap_periods int, half_life_periods double, train_rows_max bigint, analyses array<string>",
        )
        return df.select(
            "fit_id",
            _window("ts", "te").alias("train_window"),
            _window("os", "oe").alias("origin"),
            "lookback_periods",
            "gap_periods",
            "half_life_periods",
            "train_rows_max",
            "analyses",
        )

    def evaluation_metadata(self, plan: Plan) -> DataFrame:
        unit, zone = self.config.period.unit, self.config.period.timezone
        records = [
            (e.fit_id, e.period_id, e.model_age, *period_window(unit, e.period_id, e.period_id + 1, zone))
            for e in plan.sorted_evaluations()
        ]
        df = self.spark.createDataFrame(
            pd.DataFrame.from_records(records, columns=["fit_id", "period_id", "model_age", "ws", "we"]),
            "fit_id string, period_id int, model_age int, ws timestamp, we timestamp",
        )
        return df.select("fit_id", "period_id", "model_age", _window("ws", "we").alias("window"))

    def availability(self, source: PreparedSource) -> DataFrame:
        """Labelled rows per period, for all rows (slice_value null) and each slice."""
        records = [
            (int(r.period_id), None if pd.isna(r.slice_value) else r.slice_value, int(r.rows))
            for r in source.periods.itertuples(index=False)
        ]
        return self.spark.createDataFrame(records, "period_id int, slice_value string, rows bigint").select(
            F.col("period_id").alias("_period_id"),
            F.col("slice_value").alias("_slice_value"),
            F.col("rows").alias("eval_rows_available"),
        )


def status_counts(table: DataFrame) -> str:
    """'ok 97, failed 2': a table's rows by status, for the log."""
    counts = table.groupBy("status").count().orderBy("status").collect()
    return ", ".join(f"{row['status']} {row['count']}" for row in counts)


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


def analyze(run: StudyRun, study: PreparedStudy, evaluations: DataFrame, timings: dict[str, float]) -> None:
    """The five analyses and the recommendation, each written as soon as it is known."""
    store, run_id = run.store, run.run_id
    inputs = AnalysisInputs(run.spark, run.config, study.source, study.study_plan, study.metrics, study.primary)

    with stage("arrival", timings, "(rows, labels and label delay per period) ", run.jobs):
        arrival = analyses.arrival(inputs)
        records = [{**r, "window": run.window(r["period_id"])} for r in arrival.to_dict("records")]
        store.replace_run("data_arrival", frame_of(run.spark, "data_arrival", run.run_records(records)), run_id)

    with stage("decay", timings, "(decay curve and shelf life) ", run.jobs):
        curve, aged = analyses.decay(inputs, evaluations)
        store.replace_run("decay_curve", curve, run_id)
        shelf = analyses.shelf_life(inputs, store.read("decay_curve", run_id), aged)
        store.replace_run("shelf_life", shelf, run_id)

    drift, signals = pd.DataFrame(), []
    if run.config.drift.enabled:
        with stage("drift", timings, "(feature and label drift, and which drift costs quality) ", run.jobs):
            drift, signals = analyses.drift(inputs, evaluations, aged)
            store.replace_run("feature_drift", frame_of(run.spark, "feature_drift", run.drift_records(drift)), run_id)
            store.replace_run("drift_signals", frame_of(run.spark, "drift_signals", run.run_records(signals)), run_id)

    with stage("comparisons", timings, "(learning curve and lookbacks) ", run.jobs):
        learning, windows = analyses.comparisons(inputs, evaluations)
        store.replace_run("learning_curve", learning, run_id)
        store.replace_run("window_comparison", windows, run_id)

    with stage("schedule", timings, "(replay retraining policies) ", run.jobs):
        replayed = analyses.schedule(inputs, evaluations, drift, signals)
        rows = backtest_rows(replayed, study.primary_metric, run.config.tolerance.confidence, run.window)
        store.replace_run("schedule_backtest", frame_of(run.spark, "schedule_backtest", run.run_records(rows)), run_id)

    with stage("recommend", timings, jobs=run.jobs):
        shelf_rows = store.read("shelf_life", run_id).where(F.col("fit_id").isNull()).drop("origin").toPandas()
        recommended = analyses.recommendations(
            inputs,
            shelf_rows,
            store.read("learning_curve", run_id).toPandas(),
            store.read("window_comparison", run_id).toPandas(),
            analyses.arrival_summaries(arrival, run.config),
            replayed,
        )
        frame = frame_of(run.spark, "recommendations", run.run_records(recommended))
        store.replace_run("recommendations", frame, run_id)


def run_study(spark: SparkSession, config: StudyConfig, run_id: str | None = None) -> StudyResult:
    """Run the study and write its tables; returns where to find them."""
    started = time.perf_counter()
    run = StudyRun(spark, config, run_id)
    log.info("run %s of study %r -> %s", run.run_id, config.name, config.output.path or config.output.schema_name)
    run.store.ensure_tables()
    if config.output.schema_name:
        refresh_views(spark, run.store)
    run.record("running")
    timings: dict[str, float] = {}
    study: PreparedStudy | None = None
    try:
        with stage("prepare", timings, "(read and validate the source, plan the fits) ", run.jobs):
            study = prepare_study(spark, config)
        plan, source, ctx = study.plan, study.source, study.context

        with stage("fit", timings, f"{len(plan.fits)} models ", run.jobs):
            execution, period = config.execution, config.period
            fitted = run_fits(spark, plan, source, ctx, period.unit, period.timezone, execution.fits_per_task)
            fitted = fitted.join(run.fit_metadata(plan), "fit_id")
            run.store.replace_run("fits", run.with_run_columns(fitted), run.run_id)
        fits = run.store.read("fits", run.run_id)
        log.info("fits by status: %s", status_counts(fits))

        with stage("score", timings, f"{len(plan.evaluations)} evaluations ", run.jobs):
            scores = run_scores(spark, plan, source, fits, ctx, config.execution.periods_per_score_task)
            available = run.availability(source)
            same_rows = (F.col("period_id") == F.col("_period_id")) & F.col("slice_value").eqNullSafe(
                F.col("_slice_value")
            )
            evaluations = (
                scores.join(run.evaluation_metadata(plan), ["fit_id", "period_id"])
                .join(available, same_rows, "left")
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
                .drop("period_id", "_period_id", "_slice_value")
            )
            run.store.replace_run("evaluations", run.with_run_columns(evaluations), run.run_id)
        evaluations = run.store.read("evaluations", run.run_id)
        log.info("evaluations by status (all rows and slices): %s", status_counts(evaluations))
        analyze(run, study, evaluations, timings)
    except BaseException as error:
        try:
            run.record("failed", f"{type(error).__name__}: {error}"[:4000], study)
            run.store.discard_run(run.run_id)
        except Exception as cleanup_error:  # keep the original error; say what is left behind
            log.error("could not mark run %s as failed and remove its rows: %s", run.run_id, cleanup_error)
        raise
    run.record("succeeded", None, study)
    seconds = time.perf_counter() - started
    log.info("run %s succeeded in %.1f s", run.run_id, seconds)
    result = StudyResult(
        run.run_id, run.store, study.primary_metric, len(plan.fits), len(plan.evaluations), seconds, timings
    )
    with run.jobs.label("publish", "(report and MLflow)"):
        return publish(result, config)
