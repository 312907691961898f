"""Benchmark the drift computation: Spark histograms against per-period pandas + scipy.

Generates a history (default 10M rows, 20 numeric features, 52 weekly periods; features drift
slowly) as Parquet once, then, each side in its own process so that peak memory is its own:

- spark: the tool's path (the row-hash value sample, which a run takes in prepare's counting
  pass and this side in a pass of its own; `drift_columns` edges, `period_histograms`,
  `column_histograms` and every CONSECUTIVE comparison), on the embedded local Spark;
- pandas: what one would write without Spark: read the file into pandas, then for each period
  and feature compare the raw values with the previous period's (scipy `ks_2samp`,
  `wasserstein_distance`, `jensenshannon` and PSI on the previous period's deciles).

Prints wall time and peak memory (driver Python and, for Spark, the JVM) and their ratios.

    .venv/bin/python -m bench.drift [--rows 10000000] [--features 20] [--periods 52]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path("retrain_advisor_demo/bench/drift_history")


def generate(rows: int, features: int, periods: int, path: Path) -> None:
    """Feature i drifts by i/features standard deviations over the history."""
    from pyspark.sql import functions as F

    from retrain_advisor.spark.session import get_spark

    spark = get_spark()
    frame = spark.range(rows).withColumn("period", (F.col("id") % periods).cast("int"))
    for i in range(features):
        shift = F.col("period") / F.lit(periods) * F.lit(i / features)
        frame = frame.withColumn(f"f{i:02d}", F.randn(seed=i) + shift)
    frame = frame.withColumn("label", (F.rand(seed=99) < 0.1).cast("int")).drop("id")
    frame.write.mode("overwrite").parquet(str(path))


def spark_side(path: Path, features: list[str]) -> dict[str, float]:
    from pyspark.sql import functions as F

    from retrain_advisor.analyses.drift.histograms import column_histograms, drift_rows
    from retrain_advisor.analyses.drift.query import drift_columns, period_histograms
    from retrain_advisor.foundation.vocabulary import PERIOD, ROW_HASH, TARGET
    from retrain_advisor.planning.plan import Plan
    from retrain_advisor.spark.period_counts import value_sample
    from retrain_advisor.spark.session import get_spark
    from retrain_advisor.spark.source import PreparedSource

    spark = get_spark()
    rows = spark.read.parquet(str(path)).select(
        F.col("period").alias(PERIOD),
        *features,
        F.col("label").cast("string").alias(TARGET),
        F.xxhash64(*features).alias(ROW_HASH),
    )
    periods = rows.groupBy(PERIOD).count().toPandas()  # the prepare stage's period profile, not timed
    started = time.perf_counter()
    profile = pd.DataFrame({"period_id": periods[PERIOD], "slice_value": None, "rows": periods["count"]})
    # the run takes this sample in prepare's counting pass; here it costs a pass of its own
    sample = value_sample(F.col(ROW_HASH), int(profile["rows"].sum()), {f: F.col(f) for f in features})
    picked = rows.where(sample.picked).select(*features).toPandas()
    samples = {f: picked[f].to_numpy(dtype=float) for f in features}
    source = PreparedSource(rows, "binary", features, [], ["0", "1"], "1", profile, None, pd.DataFrame(), samples)  # type: ignore[arg-type]
    columns = drift_columns(source, "label")
    histograms = column_histograms(period_histograms(rows, columns), [c.column for c in columns])
    compared = sum(1 for _ in drift_rows(histograms, Plan()))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "comparisons": compared,
        "jvm_mib": _high_water_mib(spark.sparkContext._gateway.proc.pid),
    }


def pandas_side(path: Path, features: list[str]) -> dict[str, float]:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    started = time.perf_counter()
    frame = pd.read_parquet(path, columns=["period", *features])
    groups = {p: g for p, g in frame.groupby("period", sort=True)}
    periods = sorted(groups)
    compared = 0
    for previous, current in zip(periods, periods[1:], strict=False):
        for feature in features:
            a, b = groups[current][feature].to_numpy(), groups[previous][feature].to_numpy()
            ks_2samp(a, b)
            wasserstein_distance(a, b)
            edges = np.quantile(b, np.linspace(0.1, 0.9, 9))
            p = np.bincount(np.searchsorted(edges, a), minlength=10) / len(a)
            q = np.bincount(np.searchsorted(edges, b), minlength=10) / len(b)
            jensenshannon(p, q, base=2)
            float(np.sum((p - q) * np.log(np.maximum(p, 1e-4) / np.maximum(q, 1e-4))))
            compared += 1
    return {"seconds": time.perf_counter() - started, "comparisons": compared}


def _high_water_mib(pid: int) -> float:
    """Peak resident memory of a running process (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def driver_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_side(side: str, args: argparse.Namespace) -> dict[str, float]:
    """Run one side in a fresh process (its peak memory is its own); returns what it printed."""
    command = [sys.executable, "-m", "bench.drift", "--side", side, "--rows", str(args.rows)]
    command += ["--features", str(args.features)]
    done = subprocess.run(command + ["--periods", str(args.periods)], capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--periods", type=int, default=52)
    parser.add_argument("--side", choices=["generate", "spark", "pandas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    features = [f"f{i:02d}" for i in range(args.features)]
    path = DATA.with_name(f"{DATA.name}_{args.rows}x{args.features}x{args.periods}")
    if args.side == "generate":
        generate(args.rows, args.features, args.periods, path)
        return
    if args.side:
        measured = (spark_side if args.side == "spark" else pandas_side)(path, features)
        print(json.dumps({**measured, "driver_mib": driver_peak_mib()}))
        return
    if not path.exists():
        print(f"generating {args.rows:,} rows x {args.features} features x {args.periods} periods in {path} ...")
        run_side("generate", args)
    spark, plain = run_side("spark", args), run_side("pandas", args)
    print(f"{args.rows:,} rows, {args.features} features, {args.periods} periods, {os.cpu_count()} cores")
    print(f"{'':28}{'spark':>12}{'pandas+scipy':>14}{'ratio':>8}")
    print(
        f"{'wall time (s)':28}{spark['seconds']:>12.1f}{plain['seconds']:>14.1f}"
        f"{plain['seconds'] / spark['seconds']:>7.2f}x"
    )
    print(f"{'comparisons (period x col)':28}{spark['comparisons']:>12.0f}{plain['comparisons']:>14.0f}")
    print(
        f"{'driver peak RSS (MiB)':28}{spark['driver_mib']:>12.0f}{plain['driver_mib']:>14.0f}"
        f"{plain['driver_mib'] / spark['driver_mib']:>7.2f}x"
    )
    print(f"{'JVM peak RSS (MiB)':28}{spark['jvm_mib']:>12.0f}{'-':>14}")
    print("(the Spark side also compares the label, and both sides read the same Parquet file)")


if __name__ == "__main__":
    main()
