"""One run's rows of the result tables, on the driver as pandas: what the figures, the report
and MLflow draw from. Everything comes from the Delta tables, so a report can be rebuilt later
without the config file or the source."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from retrain_advisor.analyses.drift.signals import drift_values
from retrain_advisor.analyses.estimate_tracking import ESTIMATE_COLUMNS, estimate_pairs
from retrain_advisor.analyses.performance import metric_value
from retrain_advisor.foundation.config import StudyConfig, parse_config
from retrain_advisor.foundation.errors import OutputError
from retrain_advisor.foundation.frames import first_row
from retrain_advisor.foundation.vocabulary import BASELINE
from retrain_advisor.outputs.store import ResultStore

# The analysis tables; `fits` and `evaluations` are large (models, one row per evaluation) and
# are summarised by them.
ANALYSIS_TABLES = [
    "decay_curve",
    "shelf_life",
    "calendar_events",
    "data_arrival",
    "learning_curve",
    "window_comparison",
    "schedule_backtest",
    "feature_drift",
    "drift_signals",
    "estimate_tracking",
    "recommendations",
]
# feature_drift holds a row per evaluation and column against training windows; the report and
# MLflow take the period-over-period rows.
SIGNAL_EVIDENCE = "signal_evidence"
ESTIMATE_EVIDENCE = "estimate_evidence"
# read beside the tables and popped from the frames at once; both evidence frames draw from it
DECAY_EVALUATIONS = "decay_evaluations"
ROWS_OF = {"feature_drift": "drift_type = 'CONSECUTIVE'"}


@dataclass(frozen=True)
class RunTables:
    run: dict[str, Any]
    config: StudyConfig
    frames: dict[str, pd.DataFrame]

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    @property
    def metric(self) -> str:
        return str(self.run["primary_metric"])

    @property
    def unit(self) -> str:
        return self.config.period.unit

    def overall(self, table: str) -> pd.DataFrame:
        """The table's rows for all rows (not a slice), and for the primary metric where it has one."""
        frame = self.frames[table]
        frame = frame[frame["slice_value"].isna()]
        if "metric" in frame.columns:
            frame = frame[frame["metric"] == self.metric]
        return frame.reset_index(drop=True)

    def recommendation(self) -> dict[str, Any] | None:
        return first_row(self.overall("recommendations"))

    def pooled_estimate_tracking(self) -> dict[str, Any] | None:
        """How well the primary metric estimated without labels tracked, over all ages; None
        without estimation."""
        rows = self.overall("estimate_tracking")
        return first_row(rows[rows["model_age"].isna()])

    def pooled_shelf_life(self) -> dict[str, Any] | None:
        rows = self.overall("shelf_life")
        return first_row(rows[rows["fit_id"].isna() & rows["season"].isna()])


def latest_run_id(store: ResultStore, study_name: str | None = None) -> str:
    """The run id of the latest succeeded run (of one study, when named)."""
    runs = store.read("runs").where(F.col("status") == "succeeded")
    if study_name:
        runs = runs.where(F.col("study_name") == study_name)
    latest = runs.orderBy(F.col("started_at").desc()).select("run_id").first()
    if latest is None:
        which = f" of study {study_name!r}" if study_name else ""
        raise OutputError(f"no succeeded run{which} in {store.describe()}; run `retrain-advisor analyze` first")
    return str(latest["run_id"])


def load_run_tables(store: ResultStore, run_id: str) -> RunTables:
    """Read a succeeded run's rows of `runs` and of every analysis table."""
    run = store.read("runs", run_id).first()
    if run is None:
        raise OutputError(f"run {run_id!r} is not in {store.describe()}; see its runs table for the run ids")
    if run["status"] != "succeeded":
        raise OutputError(f"run {run_id!r} is {run['status']}, not succeeded: its analysis tables are not complete")
    config = parse_config(json.loads(run["config_json"]), source=f"runs.config_json of run {run_id}")
    reads = {table: functools.partial(_rows_of, store, table, run_id) for table in ANALYSIS_TABLES}
    if config.drift.enabled or config.estimation.enabled:  # only their evidence reads the evaluations
        reads[DECAY_EVALUATIONS] = functools.partial(decay_evaluations, store, run_id)
    frames = store.side_by_side(reads)
    evaluated = frames.pop(DECAY_EVALUATIONS, pd.DataFrame())
    metric = str(run["primary_metric"])
    curve = frames["decay_curve"]
    directions = curve.loc[curve["metric"] == metric, "greater_is_better"]
    better = bool(directions.iloc[0]) if len(directions) else True
    recommendations = frames["recommendations"]
    overall = recommendations[recommendations["slice_value"].isna()]
    limit = float(overall["tolerance_limit"].iloc[0]) if len(overall) else np.nan
    evidence = signal_evidence(store, run_id, metric, frames["drift_signals"], better, evaluated)
    frames[SIGNAL_EVIDENCE] = evidence.assign(breach=evidence["drop"].to_numpy(dtype=float) > limit)
    if not frames["estimate_tracking"].empty:
        frames[ESTIMATE_EVIDENCE] = estimate_evidence(evaluated, metric)
    return RunTables(run.asDict(recursive=True), config, frames)


def _rows_of(store: ResultStore, table: str, run_id: str) -> pd.DataFrame:
    """The run's rows of `table` the report shows."""
    return store.read(table, run_id).where(ROWS_OF.get(table, "TRUE")).toPandas()


def decay_evaluations(store: ResultStore, run_id: str) -> pd.DataFrame:
    """Every evaluation of a decay fit on all rows (not a slice), with what both evidence frames
    take from it: fit_id, model_age, is_sufficient, metrics, the estimated metrics and the
    scored period's start."""
    decay_fits = store.read("fits", run_id).where(F.array_contains("analyses", "decay")).select("fit_id")
    return (
        store.read("evaluations", run_id)
        .where(F.col("slice_value").isNull())
        .join(decay_fits, "fit_id")
        .select(
            "fit_id", "model_age", "is_sufficient", "metrics", *ESTIMATE_COLUMNS, F.col("window.start").alias("start")
        )
        .toPandas()
    )


def estimate_evidence(evaluated: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The primary metric measured and estimated without labels on every sufficient evaluation
    of a decay fit (`evaluated`: `decay_evaluations`), all rows: `estimate_pairs` with the scored
    period's start."""
    starts = evaluated[["fit_id", "model_age", "start"]].astype({"model_age": int})
    return estimate_pairs(evaluated, metric).merge(starts, on=["fit_id", "model_age"], how="left")


def signal_evidence(
    store: ResultStore,
    run_id: str,
    metric: str,
    signals: pd.DataFrame,
    greater_is_better: bool,
    evaluated: pd.DataFrame,
) -> pd.DataFrame:
    """For the best-ranked drift signal of one column: its value and the drop of the metric since
    the fit was fresh (positive: worse) of every evaluation of a decay fit at age 1 or older, the
    evaluations the signal was ranked on (`evaluated`: `decay_evaluations`): fit_id, model_age,
    signal, value, fresh, drop."""
    columns = ["fit_id", "model_age", "signal", "value", "fresh", "drop"]
    ranked = signals[signals["slice_value"].isna() & signals["column_name"].notna() & signals["auc_within_age"].notna()]
    if ranked.empty:
        return pd.DataFrame(columns=columns)
    best = ranked.sort_values("rank").iloc[0]
    baseline = (
        (F.col("drift_type") == BASELINE)
        & (F.col("column_name") == best["column_name"])
        & F.col("slice_value").isNull()
    )
    values = drift_values(store.read("feature_drift", run_id).where(baseline).toPandas())
    values = values[["fit_id", "model_age", best["signal"]]].rename(columns={best["signal"]: "value"})
    sufficient = evaluated[evaluated["is_sufficient"].fillna(False).astype(bool)]
    quality = pd.DataFrame(
        {
            "fit_id": sufficient["fit_id"],
            "model_age": sufficient["model_age"],
            "quality": [metric_value(m, metric) for m in sufficient["metrics"]],
        }
    )
    # fresh quality from the age-0 evaluation itself: prediction drift has no age-0 row
    fresh = quality[quality["model_age"] == 0].set_index("fit_id")["quality"]
    quality["fresh"] = quality["fit_id"].map(fresh)
    quality["drop"] = (quality["fresh"] - quality["quality"]) * (1 if greater_is_better else -1)
    evidence = values.merge(quality[quality["model_age"] > 0], on=["fit_id", "model_age"])
    evidence = evidence.dropna(subset=["fresh", "value", "drop"])
    return evidence.assign(signal=best["signal"])[columns]
