"""Train and score a plan's fits and evaluations in Spark: those a run does not have yet, less
those earlier runs can give (incremental runs, `run.reuse`)."""

from __future__ import annotations

from pyspark.sql import DataFrame

from retrain_advisor.foundation.schemas import SCHEMAS, columns
from retrain_advisor.planning.plan import Plan
from retrain_advisor.run.context import StudyRun
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.run.reuse import reused_evaluation_rows, reused_fit_rows
from retrain_advisor.spark.execute import run_fits, run_scores


def fit_rows(run: StudyRun, study: PreparedStudy, plan: Plan, done: Plan) -> DataFrame:
    """Rows of the fits table for the fits of `plan` beyond `done`: trained now, or taken from
    an earlier run when their inputs are unchanged."""
    reused = _reused(run, plan)
    to_train, _ = plan.beyond(done.merge(reused))
    rows = _empty(run, "fits")
    if to_train.fits:
        config = study.config
        fitted = run_fits(
            run.spark,
            to_train,
            study.source,
            study.context,
            config.period.unit,
            config.period.timezone,
            config.execution.fits_per_task,
        )
        rows = _in_order(run.rows.fit_rows(fitted, to_train), "fits")
    taken = Plan({k: f for k, f in reused.fits.items() if k not in done.fits})
    if run.reuse is not None and taken.fits:
        rows = rows.unionByName(_in_order(reused_fit_rows(run.store, run.reuse, taken, plan, run.run_id), "fits"))
        _count(run, taken, fits=len(taken.fits))
    return rows


def evaluation_rows(run: StudyRun, study: PreparedStudy, plan: Plan, done: Plan, fits: DataFrame) -> DataFrame:
    """Rows of the evaluations table for the evaluations of `plan` beyond `done`, scored now with
    the run's `fits`, or taken from an earlier run that scored the same fit on the same rows."""
    reused = _reused(run, plan)
    _, to_score = plan.beyond(done.merge(reused))
    rows = _empty(run, "evaluations")
    if to_score.evaluations:
        config = study.config
        scores = run_scores(
            run.spark, to_score, study.source, fits, study.context, config.execution.periods_per_score_task
        )
        rows = _in_order(run.rows.evaluation_rows(scores, to_score, study.source, fits), "evaluations")
    taken = reused.evaluations - done.evaluations
    if run.reuse is not None and taken:
        reused_rows = reused_evaluation_rows(run.store, run.reuse, reused, taken, run.run_id)
        rows = rows.unionByName(_in_order(reused_rows, "evaluations"))
        _count(run, Plan(reused.fits, taken), evaluations=len(taken))
    return rows


def _reused(run: StudyRun, plan: Plan) -> Plan:
    return run.reuse.of(plan) if run.reuse is not None else Plan()


def _in_order(rows: DataFrame, table: str) -> DataFrame:
    return rows.select(*columns(table))


def _empty(run: StudyRun, table: str) -> DataFrame:
    return run.spark.createDataFrame([], SCHEMAS[table])


def _count(run: StudyRun, taken: Plan, fits: int = 0, evaluations: int = 0) -> None:
    """Add to what the run records it reused, and from which runs (newest first)."""
    if run.inputs is not None and run.reuse is not None:
        run.inputs.reused_fits += fits
        run.inputs.reused_evaluations += evaluations
        used = {*run.inputs.reused_from, *run.reuse.run_ids(taken)}
        run.inputs.reused_from = [earlier.run_id for earlier in run.reuse.runs if earlier.run_id in used]
