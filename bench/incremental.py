"""Benchmark an incremental run: the demo study after one more week of data, reusing the run
before it, against a full run on the same data.

In one process (so both measured runs have a warm JVM and the same machine state):

1. writes the demo history without its last week to a table of its own (once);
2. runs a warm-up study, then the demo study on that table (the earlier run, not timed);
3. appends the last week, then runs the study with `execution.incremental` (timed) and without
   (timed), one after the other.

Prints the share of fits and evaluations the incremental run computed, its wall time against
the full run's per stage, the passes each run made over the source (`bench.passes`), and the
targets: at most 15% of the fits and 30% of the
wall time. The figures are kept in `retrain_advisor_demo/bench/incremental.json`.

    .venv/bin/python -m bench.incremental [--cores N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path

from pyspark.sql import functions as F

from bench.measure import ensure_history, session
from bench.passes import source_passes
from bench.workloads import DATA, WARM_UP, WORKLOADS
from retrain_advisor.outputs.result import StudyResult
from retrain_advisor.run.study import run_study

SOURCE = f"{DATA}/incremental_history"
RESULTS = Path("retrain_advisor_demo/bench/incremental.json")
TARGETS = {"fits_computed": 0.15, "wall_time": 0.30}


def measure(cores: int) -> dict:
    spark = session(f"local[{cores}]")
    demo = WORKLOADS["demo"]
    ensure_history(spark, demo)
    complete = spark.read.format("delta").load(demo.source_path)
    last_week = _last_week_start(complete)
    shutil.rmtree(SOURCE, ignore_errors=True)
    shutil.rmtree(f"{DATA}/results/incremental", ignore_errors=True)
    complete.where(F.col("event_time") < F.lit(last_week)).write.format("delta").save(SOURCE)

    def config(run_id: str, incremental: bool, extra: dict | None = None):
        return demo.config(
            {
                "source.path": SOURCE,
                "output.path": f"{DATA}/results/incremental",
                "output.run_id": run_id,
                "execution.incremental": incremental,
                **(extra or {}),
            }
        )

    run_study(spark, config("warm-up", False, WARM_UP))
    run_study(spark, config("earlier", False))
    complete.where(F.col("event_time") >= F.lit(last_week)).write.format("delta").mode("append").save(SOURCE)
    incremental = run_study(spark, config("incremental", True))
    full = run_study(spark, config("full", False))
    row = incremental.store.read("runs", "incremental").first()
    passes = {run_id: source_passes(spark, run_id, SOURCE) for run_id in ("incremental", "full")}
    return {
        "last_week": str(last_week),
        "fits": row["n_fits"],
        "evaluations": row["n_evaluations"],
        "reused_fits": row["reused_fits"],
        "reused_evaluations": row["reused_evaluations"],
        "incremental": {**_timing(incremental), "source_passes": passes["incremental"]},
        "full": {**_timing(full), "source_passes": passes["full"]},
    }


def _last_week_start(history) -> dt.date:
    latest = history.agg(F.max("event_time")).first()[0]
    day = latest.date()
    return day - dt.timedelta(days=day.weekday())


def _timing(result: StudyResult) -> dict:
    return {"seconds": result.seconds, "stage_seconds": result.stage_seconds}


def report(measured: dict) -> str:
    fits_computed = 1 - measured["reused_fits"] / measured["fits"]
    evaluations_computed = 1 - measured["reused_evaluations"] / measured["evaluations"]
    inc, full = measured["incremental"], measured["full"]
    wall = inc["seconds"] / full["seconds"]
    lines = [
        f"one more week ({measured['last_week']}) on the demo study: {measured['fits']} fits, "
        f"{measured['evaluations']} evaluations",
        "",
        "| | incremental | full | ratio |",
        "|---|---|---|---|",
        f"| fits computed | {measured['fits'] - measured['reused_fits']} | {measured['fits']} | {fits_computed:.2f} |",
        f"| evaluations computed | {measured['evaluations'] - measured['reused_evaluations']} | "
        f"{measured['evaluations']} | {evaluations_computed:.2f} |",
        f"| run wall time | {inc['seconds']:.1f} s | {full['seconds']:.1f} s | {wall:.2f} |",
    ]
    for stage in full["stage_seconds"]:
        a, b = inc["stage_seconds"].get(stage, 0.0), full["stage_seconds"][stage]
        lines.append(f"| {stage} | {a:.1f} s | {b:.1f} s | {a / b if b else float('nan'):.2f} |")
    lines.append(f"| passes over the source | {_passes(inc['source_passes'])} | {_passes(full['source_passes'])} | |")
    lines += [
        "",
        f"target: fits computed <= {TARGETS['fits_computed']:.2f}: "
        + ("met" if fits_computed <= TARGETS["fits_computed"] else "NOT met"),
        f"target: wall time <= {TARGETS['wall_time']:.2f} of the full run's: "
        + ("met" if wall <= TARGETS["wall_time"] else "NOT met"),
    ]
    return "\n".join(lines)


def _passes(by_stage: dict[str, int]) -> str:
    return f"{sum(by_stage.values())} (" + ", ".join(f"{stage} {n}" for stage, n in by_stage.items()) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reuse", action="store_true", help=f"print the figures kept in {RESULTS}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    measured = json.loads(RESULTS.read_text()) if args.reuse else measure(args.cores)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(measured, indent=2, default=str))
    print(report(measured))


if __name__ == "__main__":
    main()
