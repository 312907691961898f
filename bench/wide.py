"""Benchmark the drift stage where it used to dominate: a small, wide, long regression history
(5,700 rows, 50 numeric features, 200 monthly periods, about 200 fits).

In one process, after a warm-up study, runs the study twice: with a new origin every month
(the full plan) and every other month (about half the fits and evaluations). Prints each run's
stage times, the drift stage's share of the run (target: at most 15%), and how the drift stage
changed when the fits halved: Spark counts each column per period once, whatever the plan, so
only the comparisons on the driver follow the evaluations. The figures are kept in
`retrain_advisor_demo/bench/wide.json`.

    .venv/bin/python -m bench.wide [--cores N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.measure import session
from bench.workloads import DATA
from retrain_advisor.foundation.config import StudyConfig, parse_config
from retrain_advisor.run.study import run_study

SOURCE = f"{DATA}/wide_history"
RESULTS = Path("retrain_advisor_demo/bench/wide.json")
ROWS, FEATURES, MONTHS = 5_700, 50, 200
DRIFT_SHARE_TARGET = 0.15

STUDY: dict[str, Any] = {
    "name": "wide-regression",
    "source": {"path": SOURCE, "format": "delta"},
    "columns": {"event_time": "event_time", "label": "target"},
    "task": "regression",
    "period": {"unit": "month", "timezone": "UTC"},
    "model": {"estimator": "sklearn.linear_model.Ridge"},
    "metrics": {"names": ["rmse", "mae"], "primary": "rmse"},
    "windows": {"lookback": 36, "gap": 0, "max_age": 12, "origin_every": 1},
    "comparisons": {"origins": 3, "test_periods": 2, "lookbacks": [12, 24, 60]},
    "schedule": {"intervals": [1, 3, 6, 12]},
    "limits": {"min_eval_rows": 20},  # a month holds about 28 rows
    "tracking": {"mlflow": False},
}


def history(seed: int = 0) -> pd.DataFrame:
    """The target is a linear function of the first ten features whose weights turn slowly; half
    of the features trend, the rest are stationary noise."""
    rng = np.random.default_rng(seed)
    month = np.sort(rng.integers(0, MONTHS, ROWS))
    trend = np.where(np.arange(FEATURES) % 2 == 0, 1.5, 0.0) * (month[:, None] / MONTHS)
    x = rng.normal(0.0, 1.0, (ROWS, FEATURES)) + trend
    turn = month / MONTHS * np.pi / 2
    weights = np.outer(np.cos(turn), np.linspace(1, 2, 10)) + np.outer(np.sin(turn), np.linspace(2, 1, 10))
    target = np.sum(x[:, :10] * weights, axis=1) + rng.normal(0.0, 1.0, ROWS)
    start = pd.Timestamp("2008-01-01")
    times = [
        start + pd.DateOffset(months=int(m)) + pd.Timedelta(days=int(d))
        for m, d in zip(month, rng.integers(0, 28, ROWS), strict=True)
    ]
    frame = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(FEATURES)])
    return frame.assign(event_time=pd.to_datetime(times).astype("datetime64[us]"), target=target)


def config(name: str, origin_every: int) -> StudyConfig:
    windows = {**STUDY["windows"], "origin_every": origin_every}
    output = {"path": f"{DATA}/results/wide", "run_id": name}
    return parse_config({**STUDY, "windows": windows, "output": output})


def measure(cores: int) -> dict:
    spark = session(f"local[{cores}]")
    if not Path(SOURCE).exists():
        spark.createDataFrame(history()).write.format("delta").save(SOURCE)
    warm_up = parse_config(
        {
            **STUDY,
            "windows": {**STUDY["windows"], "max_age": 2, "max_origins": 3},
            "schedule": {"intervals": [1, 3]},
            "output": {"path": f"{DATA}/results/wide", "run_id": "wide-warm-up"},
        }
    )
    run_study(spark, warm_up)
    figures = {}
    for name, every in (("every-month", 1), ("every-other-month", 2)):
        result = run_study(spark, config(name, every))
        drift_rows = result.table("feature_drift").count()
        figures[name] = {
            "fits": result.n_fits,
            "evaluations": result.n_evaluations,
            "feature_drift_rows": drift_rows,
            "seconds": result.seconds,
            "stage_seconds": result.stage_seconds,
        }
    spark.stop()
    return figures


def report(figures: dict) -> None:
    full, half = figures["every-month"], figures["every-other-month"]
    stages = sorted(full["stage_seconds"], key=lambda s: -full["stage_seconds"][s])
    print(f"{ROWS:,} rows, {FEATURES} numeric features, {MONTHS} months, {os.cpu_count()} cores")
    print(f"{'':24}{'every month':>14}{'every other':>14}{'ratio':>8}")
    for label, key in (("fits", "fits"), ("evaluations", "evaluations"), ("feature_drift rows", "feature_drift_rows")):
        print(f"{label:24}{full[key]:>14,}{half[key]:>14,}{full[key] / half[key]:>7.2f}x")
    a, b = full["seconds"], half["seconds"]
    print(f"{'wall time (s)':24}{a:>14.1f}{b:>14.1f}{a / b:>7.2f}x")
    for stage in stages:
        a, b = full["stage_seconds"][stage], half["stage_seconds"].get(stage, 0.0)
        print(f"{'  ' + stage + ' (s)':24}{a:>14.1f}{b:>14.1f}{(a / b if b else float('nan')):>7.2f}x")
    share = full["stage_seconds"]["drift"] / full["seconds"]
    verdict = "met" if share <= DRIFT_SHARE_TARGET else "missed"
    print(f"drift share of the full run: {share:.3f} (target <= {DRIFT_SHARE_TARGET}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = measure(args.cores)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    report(figures)


if __name__ == "__main__":
    main()
