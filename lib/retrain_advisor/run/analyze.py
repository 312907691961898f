"""The analysis stages of a run. Spark reads what touches raw rows (the drift histograms, begun
in the background before scoring) and the evaluation table once; the arrival table comes from
prepare's counts, every analysis runs on the driver (`analyses.pipeline`), and each result table
is written in one commit: the tables that describe the data while the analyses run, those the
joint replay leaves as they are while it runs, the rest side by side at the end."""

from __future__ import annotations

import logging

import pandas as pd
from pyspark.sql import DataFrame

from retrain_advisor.analyses.arrival.rules import ArrivalSummary, complete_periods, summarize_arrival
from retrain_advisor.analyses.drift.histograms import (
    column_histograms,
    counts_by_slice,
    drift_rows,
    prediction_drift_rows,
)
from retrain_advisor.analyses.drift.query import drift_columns, period_histograms
from retrain_advisor.analyses.estimate_tracking import estimate_tracking
from retrain_advisor.analyses.evaluations import read_evaluations
from retrain_advisor.analyses.performance import performance_frame
from retrain_advisor.analyses.pipeline import JointDesign, StudyAnalyses, StudyContext, analyse, with_joint_replay
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.frames import by_slice
from retrain_advisor.foundation.vocabulary import JOINT_REPLAY, RECOMMENDED
from retrain_advisor.outputs.rows import TableRows, counted_by_status
from retrain_advisor.planning.plan import History, Plan
from retrain_advisor.planning.study_plan import TrainingWindow, plan_joint_replay
from retrain_advisor.run.context import StudyRun, stage
from retrain_advisor.run.prepare import PreparedStudy, seasons_of_origins, window_rows
from retrain_advisor.run.work import evaluation_rows, fit_rows
from retrain_advisor.spark.session import Pending

log = logging.getLogger(__name__)


def arrival_table(study: PreparedStudy) -> pd.DataFrame:
    """data_arrival rows (period_id instead of window), every period of the history for every slice,
    from the counts the source's profile pass made."""
    source = study.source
    counts = source.arrival
    first, last = int(counts["period_id"].min()), int(counts["period_id"].max())  # labelled or not
    return complete_periods(counts, first, last, study.config.limits.min_eval_rows, source.task)


def arrival_summaries(table: pd.DataFrame, config: StudyConfig) -> dict[str | None, ArrivalSummary]:
    return {key: summarize_arrival(group, config.windows.gap, config.period.unit) for key, group in by_slice(table)}


def start_drift_counts(run: StudyRun, study: PreparedStudy) -> Pending[pd.DataFrame] | None:
    """The features' and the label's histograms per period, one pass over the rows, begun before
    scoring: the pass needs nothing scoring makes, and beside it fills the cores scoring leaves
    idle (None when drift is off)."""
    if not study.config.drift.enabled:
        return None
    measured = drift_columns(study.source, study.config.columns.label)
    rows = study.source.rows
    return run.jobs.in_background(
        "drift", "(feature and label histograms per period) ", lambda: period_histograms(rows, measured)
    )


def drift_table(study: PreparedStudy, histograms: pd.DataFrame, evaluations: pd.DataFrame) -> pd.DataFrame:
    """feature_drift rows (period ids in place of windows), for all rows and each slice: the
    features and the label from their `histograms` per period, the predictions from the counts
    the scoring kept."""
    source, plan = study.source, study.plan
    columns = [m.column for m in drift_columns(source, study.config.columns.label)]
    rows = []
    for key, counts in counts_by_slice(histograms):
        rows += [{**row, "slice_value": key} for row in drift_rows(column_histograms(counts, columns), plan)]
    scored = evaluations[["slice_value", "fit_id", "model_age", "prediction_counts"]].copy()
    scored["period_id"] = scored["fit_id"].map(lambda f: plan.fits[f].train_end) + scored["model_age"]
    for key, part in by_slice(scored):
        rows += [{**row, "slice_value": key} for row in prediction_drift_rows(part, source.task)]
    return pd.DataFrame(rows)


def analyze(
    run: StudyRun,
    study: PreparedStudy,
    evaluations: DataFrame,
    drift_counts: Pending[pd.DataFrame] | None,
    timings: dict[str, float],
) -> Plan:
    """Every analysis and the recommendation, then their tables; returns every fit and
    evaluation the run made (the study's plan, and the joint replay's when there is one).
    `drift_counts`: the histograms `start_drift_counts` began."""
    store, run_id, config = run.store, run.run_id, study.config
    with stage("arrival", timings, "(the arrival table from prepare's counts) ", run.jobs):
        arrival = arrival_table(study)
        records = [{**r, "window": run.rows.window(r["period_id"])} for r in arrival.to_dict("records")]
    with stage("evaluations", timings, "(read the evaluation table once) ", run.jobs):
        evaluated = read_evaluations(evaluations)
        log.info("evaluations by status (all rows and slices): %s", counted_by_status(evaluated))
    drift = None
    if drift_counts is not None:
        with stage("drift", timings, "(feature, label and prediction drift per period) ", run.jobs):
            drift = drift_table(study, drift_counts.result(), evaluated)
    written = start_writing_inputs_tables(run, records, drift)
    with stage("analyses", timings, "(decay, events, learning curve, lookbacks, replay, recommendation) ", run.jobs):
        summaries = arrival_summaries(arrival, config)
        context = StudyContext(
            config=config,
            study_plan=study.study_plan,
            primary=study.primary,
            arrival=summaries,
            rows_per_period=summaries[None].median_labelled_rows,
            window_rows=window_rows(study),
            season_of=seasons_of_origins(study),
        )
        results = analyse(performance_frame(evaluated, study.plan, study.metrics), context, drift)
    tables = TableRows(run.rows, config, study.primary)
    standing = start_writing_standing_tables(run, tables, results, drift)
    joint, done = joint_replay_plan(study, results), study.plan
    if joint is not None:
        with stage(
            "joint",
            timings,
            f"(the replay again with {len(joint.plan.fits)} models on the recommended window) ",
            run.jobs,
        ):
            evaluated = fit_and_score(run, study, joint.plan)
            store.add_analysis(run_id, joint.plan.fits.keys() & study.plan.fits.keys(), JOINT_REPLAY)
            done = study.plan.merge(joint.plan)
            results = with_joint_replay(results, performance_frame(evaluated, done, study.metrics), context, joint)
    tracking = estimate_tracking(evaluated, study.metrics) if config.estimation.enabled else None
    with stage("write", timings, "(the result tables) ", run.jobs):
        store.replace_runs(tables.replayed(results, tracking), run_id)
        written.result()
        standing.result()
    return done


def start_writing_inputs_tables(run: StudyRun, arrival: list[dict], drift: pd.DataFrame | None) -> Pending[None]:
    """Write data_arrival and feature_drift while the analyses and the joint replay run: they
    describe the data, so nothing after this point changes them, and each Delta commit is a
    second of mostly fixed cost."""
    rows = run.rows

    def write() -> None:
        tables = {"data_arrival": rows.frame("data_arrival", arrival)}
        if drift is not None:
            tables["feature_drift"] = rows.frame("feature_drift", rows.drift_records(drift))
        run.store.replace_runs(tables, run.run_id)

    return run.jobs.in_background("write", "(the arrival and drift tables) ", write)


def start_writing_standing_tables(
    run: StudyRun, tables: TableRows, results: StudyAnalyses, drift: pd.DataFrame | None
) -> Pending[None]:
    """Write the analysis tables the joint replay leaves as they are while it runs: a Delta commit
    is mostly driver work and waiting, which the replay's tasks leave room for."""

    def write() -> None:
        run.store.replace_runs(tables.standing(results, drift), run.run_id)

    return run.jobs.in_background("write", "(the analyses the joint replay leaves as they are) ", write)


def joint_replay_plan(study: PreparedStudy, results: StudyAnalyses) -> JointDesign | None:
    """The schedule's fits with the training window the lookback verdict recommends for all rows,
    unless that is the study's own (or there is no recommendation to replay)."""
    overall = next((r for r in results.recommendations if r["slice_value"] is None), None)
    if overall is None or overall["status"] != RECOMMENDED:
        return None
    window = TrainingWindow(overall["recommended_lookback_periods"], overall["recommended_half_life_periods"])
    history = History({p: study.source.labelled_rows(p) for p in study.source.period_ids})
    plan = plan_joint_replay(history, study.config, study.study_plan.replay, window)
    return None if plan is None else JointDesign(plan, window)


def fit_and_score(run: StudyRun, study: PreparedStudy, plan: Plan) -> pd.DataFrame:
    """Train the fits of `plan` the run does not have yet and score what it has not scored; add
    them to the fits and evaluations tables; return every evaluation of the run (as read once)."""
    store = run.store
    store.append_run("fits", fit_rows(run, study, plan, study.plan))
    fits = store.read("fits", run.run_id)
    store.append_run("evaluations", evaluation_rows(run, study, plan, study.plan, fits))
    return read_evaluations(store.read("evaluations", run.run_id))
