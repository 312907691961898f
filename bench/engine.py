"""Benchmark the engine on the demo workload against a sequential pandas + scikit-learn loop.

Both run the same plan with the same kernels on the same sampled rows. The loop gets its rows
handed to it in memory (loading them is not timed), so the ratio favours the loop. A small
warm-up study runs first, so neither side pays for JVM start-up, JIT or first imports.

    .venv/bin/python bench/engine.py [--config conf/demo.yml] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time

import pandas as pd
from pyspark.sql import functions as F

from retrain_advisor.cli import add_override_flag
from retrain_advisor.config import load_config
from retrain_advisor.demo import ensure_demo_history
from retrain_advisor.execute import FIT, scoring_rows, training_rows
from retrain_advisor.kernels import OK, PERIOD, ScoringRows, fit_model, score_model
from retrain_advisor.session import get_spark
from retrain_advisor.study import PreparedStudy, prepare_study, run_study


def sequential_loop(study: PreparedStudy, train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, int]:
    """Fit every planned model, then score every planned evaluation, one after the other."""
    train_by_fit = dict(tuple(train.groupby(FIT)))
    test_by_period = dict(tuple(test.groupby(PERIOD)))
    started = time.perf_counter()
    prepared = {period: ScoringRows.prepare(rows, study.context) for period, rows in test_by_period.items()}
    models = {}
    for fit in study.plan.sorted_fits():
        outcome = fit_model(train_by_fit[fit.fit_id], fit, study.context)
        models[fit.fit_id] = outcome.model if outcome.status == OK else None
    scored = 0
    for evaluation in study.plan.sorted_evaluations():
        model = models[evaluation.fit_id]
        if model is not None:
            score_model(prepared[evaluation.period_id], model, study.context)
            scored += 1
    return time.perf_counter() - started, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="conf/demo.yml")
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--drift", default="gradual")
    parser.add_argument(
        "--cores", type=int, default=os.cpu_count() or 1, help="cores Spark runs on (for the efficiency ratio)"
    )
    add_override_flag(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    overrides = {"output.run_id": "benchmark", "tracking.mlflow": False, **dict(args.overrides)}
    config = load_config(args.config, overrides)
    spark = get_spark("retrain-advisor-bench")
    ensure_demo_history(spark, config, drift=args.drift, rows=args.rows, regenerate=False)

    cold = run_study(spark, load_config(args.config, {**overrides, "windows.max_origins": 2}))
    result = run_study(spark, config)
    driver_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fits = result.store.read("fits", result.run_id)
    evaluations = result.store.read("evaluations", result.run_id)
    fit_seconds = fits.agg(F.sum("fit_seconds")).first()[0]
    score_seconds = evaluations.agg(F.sum("score_seconds")).first()[0]
    engine_seconds = result.stage_seconds["fit"] + result.stage_seconds["score"]

    study = prepare_study(spark, config)
    train = training_rows(spark, study.plan, study.source, config.period.unit, config.period.timezone)[0].toPandas()
    test = scoring_rows(spark, study.plan, study.source, config.limits.max_eval_rows, config.execution.seed).toPandas()
    loop_seconds, scored = sequential_loop(study, train, test)

    rows = [
        ("fits", result.n_fits),
        ("evaluations", result.n_evaluations),
        ("training rows moved to fits", len(train)),
        ("scoring rows (once per period)", len(test)),
        ("cores", args.cores),
        ("warm-up study (2 origins, cold session), s", round(cold.seconds, 1)),
        ("run wall time, s (source to all tables)", round(result.seconds, 1)),
        *[(f"  stage {name}, s", round(seconds, 1)) for name, seconds in result.stage_seconds.items()],
        ("summed fit kernel time, s", round(fit_seconds, 1)),
        ("summed score kernel time, s", round(score_seconds, 1)),
        ("sequential loop, s (same plan, same kernels)", round(loop_seconds, 1)),
        ("speed-up vs loop: fit + score stages", round(loop_seconds / engine_seconds, 2)),
        ("speed-up vs loop: whole run", round(loop_seconds / result.seconds, 2)),
        (
            "kernel time / (fit + score wall x cores)",
            round((fit_seconds + score_seconds) / (engine_seconds * args.cores), 2),
        ),
        ("Python driver peak RSS during the run, MiB", round(driver_rss_mib)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    unavailable = evaluations.where(F.col("fit_status") != OK).count()
    assert scored == result.n_evaluations - unavailable, "the loop scores what the engine scored"


if __name__ == "__main__":
    main()
