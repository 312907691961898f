"""One study run, end to end: source -> plan -> fits -> evaluations -> analyses -> Delta tables.

This module only sequences the stages. The run is recorded in `runs` before any other table
(status running), and marked succeeded or failed at the end, so readers that join on succeeded
runs never see a partial result.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.outputs.publish import publish
from retrain_advisor.outputs.result import StudyResult
from retrain_advisor.outputs.rows import RunInputs, status_counts
from retrain_advisor.outputs.views import refresh_views
from retrain_advisor.planning.plan import Plan
from retrain_advisor.run.analyze import analyze, start_drift_counts
from retrain_advisor.run.context import StudyRun, stage
from retrain_advisor.run.prepare import PreparedStudy, prepare_study
from retrain_advisor.run.reuse import find_reuse, fingerprints_by_window, inputs_key
from retrain_advisor.run.work import evaluation_rows, fit_rows

log = logging.getLogger(__name__)


def run_study(spark: SparkSession, config: StudyConfig, run_id: str | None = None) -> StudyResult:
    """Run the study and write its tables; returns where to find them."""
    started = time.perf_counter()
    run = StudyRun(spark, config, run_id)
    log.info("run %s of study %r -> %s", run.run_id, config.name, config.output.path or config.output.schema_name)
    with run.jobs.label("setup", "(the result tables and views)"):
        run.store.ensure_tables()
        if config.output.schema_name:
            refresh_views(spark, run.store)
    # a Delta commit of one row, mostly fixed cost: made while prepare reads the source (Spark
    # Connect: after it)
    recorded = run.jobs.in_background("record", "(the run as running in runs)", run.record_start)
    timings: dict[str, float] = {}
    study: PreparedStudy | None = None
    try:
        with stage("prepare", timings, "(read and validate the source, plan the fits) ", run.jobs):
            study = prepare_study(spark, config)
        recorded.result()
        plan = study.plan
        run.inputs = RunInputs(inputs_key(study), fingerprints_by_window(study))
        if config.execution.incremental:
            with run.jobs.label("reuse", "(what earlier runs computed on the same inputs)"):
                run.reuse = find_reuse(run.store, study, run.inputs.key, run.run_id)

        with stage("fit", timings, f"{len(plan.fits)} models ", run.jobs):
            run.store.replace_run("fits", fit_rows(run, study, plan, Plan()), run.run_id)
            fits = run.store.read("fits", run.run_id)
            log.info("fits by status: %s (%d from an earlier run)", status_counts(fits), run.inputs.reused_fits)

        drift_counts = start_drift_counts(run, study)
        with stage("score", timings, f"{len(plan.evaluations)} evaluations ", run.jobs):
            run.store.replace_run("evaluations", evaluation_rows(run, study, plan, Plan(), fits), run.run_id)
            evaluations = run.store.read("evaluations", run.run_id)
        done = analyze(run, study, evaluations, drift_counts, timings)
    except BaseException as error:
        try:
            run.jobs.stop_background(reported=error)
            run.record("failed", f"{type(error).__name__}: {error}"[:4000], study)
            with run.jobs.label("record", "(the failed run's rows removed)"):
                run.store.discard_run(run.run_id)
        except Exception as cleanup_error:  # keep the original error; say what is left behind
            log.error("could not mark run %s as failed and remove its rows: %s", run.run_id, cleanup_error)
        raise
    run.record("succeeded", None, study, done)
    seconds = time.perf_counter() - started
    log.info("run %s succeeded in %.1f s", run.run_id, seconds)
    result = StudyResult(
        run.run_id, run.store, study.primary_metric, len(done.fits), len(done.evaluations), seconds, timings
    )
    with run.jobs.label("publish", "(report and MLflow)"):
        return publish(result, config)
