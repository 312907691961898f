"""Rows of the output tables: the run columns, windows in place of period ids, and the fits'
and evaluations' metadata. Every table's row shaping lives here, not in the run."""

from __future__ import annotations

import datetime as dt
import functools
import json
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.analyses.pipeline import StudyAnalyses
from retrain_advisor.analyses.schedule.replay import REFERENCE, PolicyResult
from retrain_advisor.analyses.schedule.rules import IntervalSummary, policy_loss
from retrain_advisor.foundation.config import StudyConfig, config_as_dict
from retrain_advisor.foundation.frames import plain_value
from retrain_advisor.foundation.periods import GRANULARITY, period_window
from retrain_advisor.foundation.schemas import SCHEMAS, columns, integer_columns
from retrain_advisor.foundation.vocabulary import OK, PERIODIC, TRIGGER
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.planning.plan import Plan
from retrain_advisor.spark.source import PreparedSource


def _window(start: str, end: str) -> Column:
    """A Databricks-style `window` struct from two timestamp columns."""
    return F.struct(F.col(start).alias("start"), F.col(end).alias("end"))


def status_counts(table: DataFrame) -> str:
    """'failed 2, ok 97': a table's rows by status, for the log."""
    return _by_status({row["status"]: row["count"] for row in table.groupBy("status").count().collect()})


def counted_by_status(rows: pd.DataFrame) -> str:
    """`status_counts` of rows already on the driver."""
    return _by_status({str(status): int(count) for status, count in rows["status"].value_counts(dropna=False).items()})


def _by_status(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {count}" for status, count in sorted(counts.items(), key=lambda item: str(item[0])))


def backtest_rows(
    results: dict[str | None, list[PolicyResult]],
    summaries: dict[str | None, dict[int, IntervalSummary]],
    metric: str,
    confidence: float,
    label_delay: Callable[[str | None], int],
    limit: Callable[[str | None], float],
    window: Callable[[int], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of the schedule_backtest table, without the run columns (for `frame_of`, which turns
    top-level NaN into null; nested values are converted here). `window` turns a period id into
    its window struct; `limit` gives each slice's tolerance as one loss."""
    window = functools.cache(window)
    rows = []
    for slice_value, policies in results.items():
        for result in policies:
            policy = result.policy
            pooled = (
                summaries[slice_value][policy.interval].loss
                if policy.kind == PERIODIC and policy.interval is not None
                else policy_loss(result)
            )
            low, high = result.difference.interval(confidence)
            rows.append(
                {
                    "slice_value": slice_value,
                    "metric": metric,
                    "policy": policy.kind,
                    "interval_periods": policy.interval,
                    "offset_periods": policy.offset,
                    "trigger_drop": policy.trigger_drop,
                    "drift_signal": policy.signal,
                    "drift_threshold": policy.threshold,
                    "label_delay_periods": label_delay(slice_value) if policy.kind == TRIGGER else None,
                    "n_periods": result.n_periods,
                    "n_measured": result.n_measured,
                    "n_retrains": result.n_retrains,
                    "n_failed_retrains": result.n_failed_retrains,
                    "mean_quality": result.mean_quality,
                    "worst_quality": result.worst_quality,
                    "worst_window": None if result.worst_period is None else window(result.worst_period),
                    "mean_diff": result.mean_diff,
                    "diff_ci_low": low if policy != REFERENCE else 0.0,
                    "diff_ci_high": high if policy != REFERENCE else 0.0,
                    "pooled_loss": pooled.mean,
                    "pooled_loss_ci_high": pooled.interval(confidence)[1] if policy != REFERENCE else 0.0,
                    "prob_within_tolerance": 1.0
                    if policy == REFERENCE
                    else pooled.probability_at_most(limit(slice_value)),
                    "quality_lost": result.quality_lost,
                    "total_cost": result.total_cost,
                    "confidence": confidence,
                    "served": [
                        {
                            "window": window(p.period_id),
                            "model_age": p.model_age,
                            "quality": plain_value(p.value),
                            "rows": int(p.rows),
                            "retrained": p.retrained,
                        }
                        for p in result.periods
                    ],
                }
            )
    return rows


def frame_of(spark: SparkSession, table: str, records: Iterable[dict[str, Any]]) -> DataFrame:
    """A DataFrame with the table's schema from small records on the driver (missing keys are null)."""
    names, integers = columns(table), integer_columns(table)

    def value(record: dict[str, Any], name: str) -> Any:
        found = plain_value(record.get(name))
        return int(found) if name in integers and isinstance(found, float) else found

    return spark.createDataFrame([tuple(value(r, n) for n in names) for r in records], SCHEMAS[table])


LIBRARIES = ["retrain-advisor", "pyspark", "delta-spark", "pandas", "numpy", "pyarrow", "scikit-learn"]


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


@dataclass
class RunInputs:
    """What a later incremental run compares its inputs with, and what this run reused."""

    key: str
    period_fingerprints: dict[str, str]
    reused_from: list[str] = field(default_factory=list)  # newest first
    reused_fits: int = 0
    reused_evaluations: int = 0


class RunRows:
    """Shapes one run's rows for the output tables: the run columns in front, windows in place of
    period ids, and the metadata of the fits and evaluations."""

    def __init__(self, spark: SparkSession, config: StudyConfig, run_id: str) -> None:
        self.spark = spark
        self.config = config
        self.run_id = run_id
        self.granularity = GRANULARITY[config.period.unit]

    def runs_row(
        self,
        status: str,
        started_at: dt.datetime,
        error: str | None,
        source: PreparedSource | None,
        primary_metric: str | None,
        plan: Plan | None,
        inputs: RunInputs | None = None,
    ) -> DataFrame:
        """This run's row of `runs`; what the prepared study knows is null before it is prepared."""
        finished = None if status == "running" else dt.datetime.now(dt.timezone.utc)
        row = {
            "run_id": self.run_id,
            "study_name": self.config.name,
            "status": status,
            "started_at": started_at,
            "finished_at": finished,
            "error": error,
            "source_name": source.report.name if source else self.config.source.describe(),
            "source_version": source.report.delta_version if source else None,
            "source_rows": source.report.as_dict() if source else None,
            "granularity": self.granularity,
            "task": source.task if source else self.config.task,
            "primary_metric": primary_metric,
            "n_fits": len(plan.fits) if plan else None,
            "n_evaluations": len(plan.evaluations) if plan else None,
            "config_json": json.dumps(config_as_dict(self.config), sort_keys=True),
            "library_versions": library_versions(),
            "positive_label": source.positive_label if source else None,
            "left_out_columns": source.report.left_out_columns if source else None,
            "inputs_key": inputs.key if inputs else None,
            "period_fingerprints": inputs.period_fingerprints if inputs else None,
            "reused_from": (", ".join(inputs.reused_from) or None) if inputs else None,
            "reused_fits": inputs.reused_fits if inputs else None,
            "reused_evaluations": inputs.reused_evaluations if inputs else None,
        }
        return self.spark.createDataFrame([row], SCHEMAS["runs"])

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

    def frame(self, table: str, records: list[dict]) -> DataFrame:
        """A table's rows from driver-side records, with the run columns."""
        return frame_of(self.spark, table, self.run_records(records))

    def window(self, period_id: int, periods: int = 1) -> dict[str, dt.datetime]:
        start, end = period_window(self.config.period.unit, period_id, period_id + periods, self.config.period.timezone)
        return {"start": start, "end": end}

    def drift_records(self, drift: pd.DataFrame) -> list[dict]:
        """feature_drift rows with windows in place of period ids."""
        unit, zone = self.config.period.unit, self.config.period.timezone

        def span(start: int, stop: int) -> dict[str, dt.datetime]:
            begin, end = period_window(unit, start, stop, zone)
            return {"start": begin, "end": end}

        return [
            {
                **row,
                "window": self.window(int(row["period_id"])),
                "window_cmp": span(int(row["cmp_start"]), int(row["cmp_stop"])),
                "model_age": None if pd.isna(row.get("model_age")) else int(row["model_age"]),
                "fit_id": None if pd.isna(row.get("fit_id")) else row["fit_id"],
            }
            for row in drift.to_dict("records")
        ]

    def fit_rows(self, fitted: DataFrame, plan: Plan) -> DataFrame:
        """The fits table: each fit's outcome with its windows and the analyses that asked for it."""
        return self.with_run_columns(fitted.join(self._fit_metadata(plan), "fit_id"))

    def _fit_metadata(self, plan: Plan) -> DataFrame:
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

    def evaluation_rows(self, scores: DataFrame, plan: Plan, source: PreparedSource, fits: DataFrame) -> DataFrame:
        """The evaluations table: each score with its windows, the period's volume and its fit's outcome."""
        available = self._availability(source)
        same_rows = (F.col("period_id") == F.col("_period_id")) & F.col("slice_value").eqNullSafe(F.col("_slice_value"))
        evaluations = (
            scores.join(self._evaluation_metadata(plan), ["fit_id", "period_id"])
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
        return self.with_run_columns(evaluations)

    def _evaluation_metadata(self, plan: Plan) -> DataFrame:
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

    def _availability(self, source: PreparedSource) -> DataFrame:
        """Labelled rows per period, for all rows (slice_value null) and each slice."""
        periods = source.periods
        records = [
            (int(period), None if pd.isna(slice_value) else slice_value, int(rows))
            for period, slice_value, rows in zip(
                periods["period_id"], periods["slice_value"], periods["rows"], strict=True
            )
        ]
        return self.spark.createDataFrame(records, "period_id int, slice_value string, rows bigint").select(
            F.col("period_id").alias("_period_id"),
            F.col("slice_value").alias("_slice_value"),
            F.col("rows").alias("eval_rows_available"),
        )


class TableRows:
    """The result tables of the analyses, as DataFrames with the run columns."""

    def __init__(self, rows: RunRows, config: StudyConfig, primary: Metric) -> None:
        self.rows = rows
        self.config = config
        self.primary = primary

    def standing(self, results: StudyAnalyses, drift: pd.DataFrame | None) -> dict[str, DataFrame]:
        """The analysis tables the joint replay leaves as they are (`with_joint_replay`), so they
        can be written while it runs: decay, the comparisons, and drift_signals with `drift`."""
        confidence, rows = self.config.tolerance.confidence, self.rows
        decay = results.decay
        tables = {
            "decay_curve": rows.frame("decay_curve", _records(decay.curve)),
            "shelf_life": rows.frame("shelf_life", [self._shelf_row(r) for r in _records(decay.shelf_life)]),
            "calendar_events": rows.frame(
                "calendar_events",
                [
                    {**r, "window": rows.window(int(r["period_id"]), int(r["n_periods"]))}
                    for r in _records(decay.events)
                ],
            ),
            "learning_curve": rows.frame(
                "learning_curve", [{**r, "confidence": confidence} for r in _records(results.learning_curve)]
            ),
            "window_comparison": rows.frame(
                "window_comparison", [{**r, "confidence": confidence} for r in _records(results.window_comparison)]
            ),
        }
        if drift is not None:
            tables["drift_signals"] = rows.frame("drift_signals", results.signals)
        return tables

    def replayed(self, results: StudyAnalyses, tracking: pd.DataFrame | None) -> dict[str, DataFrame]:
        """The analysis tables that read the recommendations or every evaluation, and so wait for
        the joint replay: schedule_backtest, recommendations, and estimate_tracking with
        `tracking` (quality estimated without labels)."""
        confidence, rows = self.config.tolerance.confidence, self.rows
        limits = {key: value.limit for key, value in results.decay.by_slice.items()}
        recommendation_delays = {r["slice_value"]: r.get("label_delay_periods") for r in results.recommendations}
        tables = {
            "schedule_backtest": rows.frame(
                "schedule_backtest",
                backtest_rows(
                    results.schedule,
                    results.summaries,
                    self.primary.name,
                    confidence,
                    lambda key: int(recommendation_delays.get(key) or 0),
                    lambda key: limits.get(key, float("nan")),
                    rows.window,
                ),
            ),
            "recommendations": rows.frame(
                "recommendations", [self._recommendation_row(r) for r in results.recommendations]
            ),
        }
        if tracking is not None:
            tables["estimate_tracking"] = rows.frame("estimate_tracking", _records(tracking))
        return tables

    def _event_window(self, period_id: Any) -> dict[str, dt.datetime] | None:
        return None if period_id is None or pd.isna(period_id) else self.rows.window(int(period_id))

    def _shelf_row(self, row: dict[str, Any]) -> dict[str, Any]:
        tolerance = self.config.tolerance
        return {
            **row,
            "origin": self._event_window(row.get("origin_period_id")),
            "event_window": self._event_window(row.get("event_period_id")),
            "tolerance_absolute": tolerance.absolute,
            "tolerance_relative": tolerance.relative,
            "tolerance_floor": tolerance.floor,
            "persistence": tolerance.persistence,
            "confidence": tolerance.confidence,
        }

    def _recommendation_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "event_window": self._event_window(row.get("event_period_id"))}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [] if frame.empty else [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
