"""Question 5, how often to retrain: the schedule backtest over the performance matrix.

The matrix of the schedule's fits (one per period, scored at every age a policy may serve it)
is a small result: one value per (fit, period, slice). It is collected once and every policy is
replayed on it (`schedule.replay`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.analyses.drift.signals import drift_values
from retrain_advisor.analyses.evaluations import usable
from retrain_advisor.analyses.schedule.replay import PolicyResult, ReplaySettings, replay
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.frames import by_slice
from retrain_advisor.foundation.vocabulary import LABEL, OK, SCHEDULE
from retrain_advisor.planning.plan import Plan
from retrain_advisor.planning.study_plan import ReplayDesign

# A drift signal is replayed as a trigger only when it separates breaches from the rest this well.
MIN_AUC = 0.7


def schedule_matrix(
    spark: SparkSession, evaluations: DataFrame, plan: Plan, metric: str, design: ReplayDesign
) -> pd.DataFrame:
    """(slice_value, train_end, period_id, value, rows, fit_ok) of the schedule's fits on the
    replayed periods, at the ages a policy may serve them.

    `value` is NaN when the evaluation is not usable (too small, failed).
    """
    arms = spark.createDataFrame(
        sorted({(a.fit_id, a.train_end) for a in plan.arms if a.analysis == SCHEDULE}), "fit_id string, train_end int"
    )
    period = F.col("train_end") + F.col("model_age")
    replayed = (F.col("model_age") < design.max_age) & period.between(design.start, design.last)
    return (
        evaluations.join(arms, "fit_id")
        .where(replayed)
        .select(
            "slice_value",
            "train_end",
            period.alias("period_id"),
            F.when(usable(metric), F.col("metrics")[metric]).alias("value"),
            F.coalesce("eval_rows_available", "eval_rows_used").alias("rows"),  # the period's volume
            (F.col("fit_status") == OK).alias("fit_ok"),
        )
        .toPandas()
    )


def drift_matrix(drift: pd.DataFrame, plan: Plan, signals: list[str]) -> dict[str, dict[tuple[int, int], float]]:
    """The named drift signals of the schedule's fits: signal -> (train_end, period_id) -> value, from the
    BASELINE rows of feature_drift (each scored period against the fit's training window)."""
    if not signals:
        return {}
    train_ends = {a.fit_id: a.train_end for a in plan.arms if a.analysis == SCHEDULE}
    values = drift_values(drift[drift["fit_id"].isin(list(train_ends))])
    cells = values.assign(train_end=values["fit_id"].map(train_ends))
    cells["period_id"] = cells["train_end"] + cells["model_age"]
    return {
        signal: {
            (int(t), int(j)): float(v)
            for t, j, v in zip(cells["train_end"], cells["period_id"], cells[signal], strict=True)
            if v == v  # NaN: no drift value
        }
        for signal in signals
        if signal in cells.columns
    }


def drift_triggers(signals: list[dict[str, Any]], count: int) -> list[tuple[str, float]]:
    """(signal, alert threshold) of the `count` best-ranked drift signals that predict a breach well.
    Label drift is left out: it is known only once the labels are in, and a quality trigger
    already watches what the labels say."""
    usable_signals = [
        s
        for s in sorted(signals, key=lambda s: s["rank"])
        if s["alert_threshold"] is not None and s["auc"] >= MIN_AUC and s["column_role"] != LABEL
    ]
    return [(s["signal"], float(s["alert_threshold"])) for s in usable_signals[:count]]


def replay_settings(
    config: StudyConfig,
    design: ReplayDesign,
    greater_is_better: bool,
    triggers_on_drift: list[tuple[str, float]] | None = None,
) -> ReplaySettings:
    return ReplaySettings(
        start=design.start,
        last=design.last,
        intervals=design.intervals,
        trigger_drops=design.trigger_drops,
        drift_triggers=tuple(triggers_on_drift or ()),
        max_age=design.max_age,
        gap=config.windows.gap,
        greater_is_better=greater_is_better,
        cost_per_retrain=config.schedule.cost_per_retrain,
        cost_per_quality_unit=config.schedule.cost_per_quality_unit,
        confidence=config.tolerance.confidence,
        samples=config.execution.bootstrap_samples,
        seed=config.execution.seed,
    )


def replay_slices(
    matrix: pd.DataFrame, settings: ReplaySettings, drift: dict[str, dict[tuple[int, int], float]] | None = None
) -> dict[str | None, list[PolicyResult]]:
    """Every policy replayed for all rows (key None) and for each slice. Every model serves all rows, so a
    drift trigger watches the drift of all rows in every slice."""
    results: dict[str | None, list[PolicyResult]] = {}
    for key, cells in by_slice(matrix):
        fits = {int(t) for t in cells.loc[cells["fit_ok"], "train_end"]}
        results[key] = replay(cells.assign(value=cells["value"].astype(float)), fits, settings, drift)
    return results
