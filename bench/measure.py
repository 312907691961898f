"""One measurement of one workload, in a process of its own so that its peak memory is its own.

    python -m bench.measure engine --workload demo --out engine.json [--master spark://...]
    python -m bench.measure baselines --workload demo --out baselines.json

`engine` writes the workload's history if it is missing, runs a warm-up study and then the
measured study, sampling the memory of every Spark process. `baselines` runs the measured
study's plan as a sequential loop and with joblib, on the rows the engine sampled, and checks
that both score what the engine scored; then as a user's own script, from the table on disk.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench.baselines import Scores, joblib_run, sequential_loop
from bench.memory import PeakMemory
from bench.passes import source_passes
from bench.user_script import user_script
from bench.workloads import WARM_UP, WORKLOADS, Workload
from retrain_advisor.demo.write import ensure_demo_history
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.run.prepare import prepare_study
from retrain_advisor.run.study import run_study
from retrain_advisor.spark.execute import scoring_rows, training_rows
from retrain_advisor.spark.session import embedded_spark

# Scores of the engine and the baselines must agree to this (same kernels, same rows, same order).
SCORE_TOLERANCE = 1e-9


def session(master: str, conf: dict[str, str] | None = None) -> SparkSession:
    """The embedded session of `make demo`, on `master` (local[n] or a standalone cluster)."""
    return embedded_spark("retrain-advisor-bench", "spark-warehouse", master, conf)


def ensure_history(spark: SparkSession, workload: Workload) -> None:
    ensure_demo_history(spark, workload.config(), "gradual", workload.rows, regenerate=False, days=workload.days)


def engine(workload: Workload, master: str) -> dict:
    spark = session(master)
    ensure_history(spark, workload)
    config = workload.config()
    study = prepare_study(spark, config)
    separate = study.study_plan.separate_fit_counts()
    run_study(spark, workload.config({**WARM_UP, "output.run_id": f"{workload.name}-warm-up"}))
    memory = PeakMemory().start()
    result = run_study(spark, config)
    peaks = memory.stop()
    fits, evaluations = result.table("fits"), result.table("evaluations")
    return {
        "fits": result.n_fits,
        "evaluations": result.n_evaluations,
        "separate_fits": separate,
        "plan_fits": len(study.plan.fits),  # the study's own; the joint replay adds the rest of "fits"
        "plan_evaluations": len(study.plan.evaluations),
        "source_rows": study.source.report.as_dict(),
        "seconds": result.seconds,
        "stage_seconds": result.stage_seconds,
        "fit_task_seconds": fits.agg(F.sum("fit_seconds")).first()[0],
        "score_task_seconds": evaluations.agg(F.sum("score_seconds")).first()[0],
        "peak_mib": peaks,
        "source_passes": source_passes(spark, workload.name, workload.source_path),
    }


def engine_scores(spark: SparkSession, workload: Workload, metric: str) -> Scores:
    evaluations = ResultStore(spark, workload.config().output).read("evaluations", workload.name)
    rows = (
        evaluations.where(F.col("slice_value").isNull() & (F.col("fit_status") == "ok"))
        .select("fit_id", "model_age", F.col("metrics")[metric].alias("value"))
        .collect()
    )
    return {(r["fit_id"], r["model_age"]): r["value"] for r in rows}


def disagreements(engine_side: Scores, baseline: Scores) -> int:
    """Evaluations whose metric differs (or that only one side has)."""

    def same(a: float | None, b: float | None) -> bool:
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
        return abs(a - b) <= SCORE_TOLERANCE

    keys = engine_side.keys() | baseline.keys()
    return sum(1 for k in keys if k not in engine_side or k not in baseline or not same(engine_side[k], baseline[k]))


def metric_gap(engine_side: Scores, other: Scores) -> float:
    """The median absolute difference of the evaluations both sides scored (samples differ)."""
    gaps = [
        abs(engine_side[k] - v)  # type: ignore[operator]
        for k, v in other.items()
        if v is not None and engine_side.get(k) is not None and not math.isnan(v)
    ]
    return float(np.median(gaps)) if gaps else float("nan")


def baselines(workload: Workload, cores: int) -> dict:
    spark = session(f"local[{cores}]")
    config = workload.config()
    study = prepare_study(spark, config)
    unit, zone = config.period.unit, config.period.timezone
    train = training_rows(spark, study.plan, study.source, unit, zone, config.execution.seed).toPandas()
    test = scoring_rows(spark, study.plan, study.source, config.limits.max_eval_rows, config.execution.seed).toPandas()
    # the study's plan: the joint replay's evaluations, also in the table, are not the baselines' work
    planned = {(e.fit_id, e.model_age) for e in study.plan.evaluations}
    expected = {k: v for k, v in engine_scores(spark, workload, study.primary_metric).items() if k in planned}
    spark.stop()  # the JVM stays up but idle: the baselines have the cores to themselves
    args = (study.plan, train, test, study.context, study.primary_metric)
    loop = sequential_loop(*args)
    spread = joblib_run(*args, cores)
    own = user_script(workload.source_path, study, study.primary_metric)
    return {
        "training_rows": len(train),
        "scoring_rows": len(test),
        "loop_seconds": loop.seconds,
        "kernel_cpu_seconds": loop.kernel_cpu_seconds,
        "fit_kernel_cpu_seconds": loop.fit_cpu_seconds,
        "joblib_seconds": spread.seconds,
        "loop_disagreements": disagreements(expected, loop.scores),
        "joblib_disagreements": disagreements(expected, spread.scores),
        "evaluations_compared": len(expected),
        "user_script_seconds": own.seconds,
        "user_script_read_seconds": own.read_seconds,
        "user_script_evaluations": len(own.scores),
        "user_script_median_gap": metric_gap(expected, own.scores),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["engine", "baselines"])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--master", help="Spark master for the engine (default local[cores])")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workload = WORKLOADS[args.workload]
    if args.part == "engine":
        measured = engine(workload, args.master or f"local[{args.cores}]")
    else:
        measured = baselines(workload, args.cores)
    args.out.write_text(json.dumps(measured, indent=2, default=str))


if __name__ == "__main__":
    main()
