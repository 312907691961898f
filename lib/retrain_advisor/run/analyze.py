"""The analysis stages of a run: each question's query over the stored evaluations and its rule,
then the recommendation.

The glue functions return the rows of one output table (without the run columns); none of them
fits or scores a model. Results that feed the recommendation are small and are read back on
the driver per slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.analyses.arrival.query import arrival_counts
from retrain_advisor.analyses.arrival.rules import ArrivalSummary, complete_periods, summarize_arrival
from retrain_advisor.analyses.comparisons.query import arm_values, arms_frame
from retrain_advisor.analyses.decay.query import aged_metrics, decay_curve, origin_shelf_life, pooled_shelf_life
from retrain_advisor.analyses.drift.histograms import column_histograms, drift_rows, prediction_drift_rows
from retrain_advisor.analyses.drift.query import drift_columns, period_histograms
from retrain_advisor.analyses.drift.signals import drift_values, rank_signals, score_signals
from retrain_advisor.analyses.learning_curve.query import learning_curve
from retrain_advisor.analyses.recommendation.rules import Evidence, recommend
from retrain_advisor.analyses.schedule.query import (
    drift_matrix,
    drift_triggers,
    replay_settings,
    replay_slices,
    schedule_matrix,
)
from retrain_advisor.analyses.schedule.replay import PolicyResult
from retrain_advisor.analyses.window_comparison.query import window_comparison
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.frames import by_slice, first_row
from retrain_advisor.foundation.vocabulary import DECAY
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.outputs.rows import backtest_rows
from retrain_advisor.planning.study_plan import StudyPlan
from retrain_advisor.run.context import StudyRun, stage
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.spark.source import PreparedSource


@dataclass(frozen=True)
class AnalysisInputs:
    spark: SparkSession
    config: StudyConfig
    source: PreparedSource
    study_plan: StudyPlan
    metrics: list[Metric]
    primary: Metric


def arrival_table(inputs: AnalysisInputs) -> pd.DataFrame:
    """data_arrival rows (period_id instead of window), every period of the history for every slice."""
    source = inputs.source
    counts = arrival_counts(source)
    first, last = int(counts["period_id"].min()), int(counts["period_id"].max())  # labelled or not
    return complete_periods(counts, first, last, inputs.config.limits.min_eval_rows, source.task)


def arrival_summaries(table: pd.DataFrame, config: StudyConfig) -> dict[str | None, ArrivalSummary]:
    return {key: summarize_arrival(group, config.windows.gap, config.period.unit) for key, group in by_slice(table)}


def decay_tables(inputs: AnalysisInputs, evaluations: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The decay curve of every metric (decay fits only), and the aged rows the shelf life reads."""
    config = inputs.config
    decay_fits = sorted(inputs.study_plan.plan.fits_needed_by(DECAY))
    aged = aged_metrics(evaluations.where(F.col("fit_id").isin(decay_fits)), inputs.metrics)
    execution = config.execution
    curve = decay_curve(aged, config.tolerance.confidence, execution.bootstrap_samples, execution.seed)
    return curve, aged


def shelf_life_table(inputs: AnalysisInputs, curve: DataFrame, aged: DataFrame) -> DataFrame:
    tolerance, metric = inputs.config.tolerance, inputs.primary.name
    return pooled_shelf_life(curve, metric, tolerance).unionByName(origin_shelf_life(aged, metric, tolerance))


def drift_tables(inputs: AnalysisInputs, evaluations: DataFrame, aged: DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """feature_drift rows (period ids in place of windows) and the ranked drift_signals rows."""
    source, plan, primary = inputs.source, inputs.study_plan.plan, inputs.primary
    measured = drift_columns(source, inputs.config.columns.label)
    histograms = column_histograms(period_histograms(source.rows, measured), [m.column for m in measured])
    scored = (
        evaluations.where(F.col("slice_value").isNull()).select("fit_id", "model_age", "prediction_counts").toPandas()
    )
    scored["period_id"] = scored["fit_id"].map(lambda f: plan.fits[f].train_end) + scored["model_age"]
    rows = pd.DataFrame([*drift_rows(histograms, plan), *prediction_drift_rows(scored, source.task)])
    decay_fits = sorted(plan.fits_needed_by(DECAY))
    drops = (
        aged.where(
            (F.col("metric") == primary.name)
            & F.col("slice_value").isNull()
            & F.col("usable")
            & (F.col("model_age") >= 1)
            & F.col("fit_id").isin(decay_fits)
        )
        .select("fit_id", "model_age", "drop", "fresh_value", "greater_is_better")
        .toPandas()
    )
    of_decay_fits = rows[rows["fit_id"].isin(decay_fits) | rows["fit_id"].isna()] if len(rows) else rows
    roles = dict(zip(rows["column_name"], rows["column_role"], strict=True)) if len(rows) else {}
    signals = score_signals(drift_values(of_decay_fits), drops, inputs.config.tolerance, roles) if len(rows) else []
    return rows, [{**row, "metric": primary.name} for row in rank_signals(list(signals))]


def comparison_tables(inputs: AnalysisInputs, evaluations: DataFrame) -> tuple[DataFrame, DataFrame]:
    """learning_curve and window_comparison rows of the primary metric."""
    config, primary = inputs.config, inputs.primary
    arms = arms_frame(inputs.spark, inputs.study_plan.plan)
    values = arm_values(evaluations, arms, primary.name, config.comparisons.test_periods)
    samples, seed = config.execution.bootstrap_samples, config.execution.seed
    curve = learning_curve(values, primary.name, primary.greater_is_better, config.tolerance, samples, seed)
    windows = window_comparison(
        values, primary.name, primary.greater_is_better, config.tolerance.confidence, samples, seed
    )
    return curve, windows


def replayed_schedules(
    inputs: AnalysisInputs, evaluations: DataFrame, drift: pd.DataFrame, signals: list[dict]
) -> dict[str | None, list[PolicyResult]]:
    """Every replayed policy, for all rows (None) and each slice; drift triggers on the best drift signals."""
    primary, plan = inputs.primary, inputs.study_plan.plan
    design = inputs.study_plan.replay
    matrix = schedule_matrix(inputs.spark, evaluations, plan, primary.name, design)
    triggers = drift_triggers(signals, inputs.config.schedule.drift_triggers)
    settings = replay_settings(inputs.config, design, primary.greater_is_better, triggers)
    return replay_slices(matrix, settings, drift_matrix(drift, plan, [signal for signal, _ in triggers]))


def recommendation_rows(
    inputs: AnalysisInputs,
    shelf: pd.DataFrame,
    curve: pd.DataFrame,
    windows: pd.DataFrame,
    arrival_by_slice: dict[str | None, ArrivalSummary],
    schedule_by_slice: dict[str | None, list[PolicyResult]],
) -> list[dict]:
    """One recommendation row per slice (all rows first)."""

    def of(frame: pd.DataFrame, key: str | None) -> pd.DataFrame:
        return frame[frame["slice_value"].isna()] if key is None else frame[frame["slice_value"] == key]

    rows = []
    # every model trains on all rows, so a slice needs as many periods to collect them as all rows do
    rows_per_period = arrival_by_slice[None].median_labelled_rows
    for key in sorted(schedule_by_slice, key=lambda k: (k is not None, k or "")):
        shelf_rows = of(shelf, key)
        evidence = Evidence(
            metric=inputs.primary.name,
            greater_is_better=inputs.primary.greater_is_better,
            shelf=first_row(shelf_rows),
            arrival=arrival_by_slice[key],
            learning_curve=of(curve, key),
            windows=of(windows, key),
            schedule=schedule_by_slice[key],
            rows_per_period=rows_per_period,
        )
        rows.append({"slice_value": key, **recommend(evidence, inputs.config)})
    return rows


def analyze(run: StudyRun, study: PreparedStudy, evaluations: DataFrame, timings: dict[str, float]) -> None:
    """Every analysis and the recommendation, each table written as soon as it is known."""
    store, rows, run_id = run.store, run.rows, run.run_id
    inputs = AnalysisInputs(run.spark, run.config, study.source, study.study_plan, study.metrics, study.primary)

    with stage("arrival", timings, "(rows, labels and label delay per period) ", run.jobs):
        arrival = arrival_table(inputs)
        records = [{**r, "window": rows.window(r["period_id"])} for r in arrival.to_dict("records")]
        store.replace_run("data_arrival", rows.frame("data_arrival", records), run_id)

    with stage("decay", timings, "(decay curve and shelf life) ", run.jobs):
        curve, aged = decay_tables(inputs, evaluations)
        store.replace_run("decay_curve", curve, run_id)
        shelf = shelf_life_table(inputs, store.read("decay_curve", run_id), aged)
        store.replace_run("shelf_life", shelf, run_id)

    drift, signals = pd.DataFrame(), list[dict]()
    if run.config.drift.enabled:
        with stage("drift", timings, "(feature and label drift, and which drift costs quality) ", run.jobs):
            drift, signals = drift_tables(inputs, evaluations, aged)
            store.replace_run("feature_drift", rows.frame("feature_drift", rows.drift_records(drift)), run_id)
            store.replace_run("drift_signals", rows.frame("drift_signals", signals), run_id)

    with stage("comparisons", timings, "(learning curve and lookbacks) ", run.jobs):
        learning, windows = comparison_tables(inputs, evaluations)
        store.replace_run("learning_curve", learning, run_id)
        store.replace_run("window_comparison", windows, run_id)

    with stage("schedule", timings, "(replay retraining policies) ", run.jobs):
        replayed = replayed_schedules(inputs, evaluations, drift, signals)
        backtest = backtest_rows(replayed, study.primary_metric, run.config.tolerance.confidence, rows.window)
        store.replace_run("schedule_backtest", rows.frame("schedule_backtest", backtest), run_id)

    with stage("recommend", timings, jobs=run.jobs):
        shelf_rows = store.read("shelf_life", run_id).where(F.col("fit_id").isNull()).drop("origin").toPandas()
        recommended = recommendation_rows(
            inputs,
            shelf_rows,
            store.read("learning_curve", run_id).toPandas(),
            store.read("window_comparison", run_id).toPandas(),
            arrival_summaries(arrival, run.config),
            replayed,
        )
        store.replace_run("recommendations", rows.frame("recommendations", recommended), run_id)
