"""Where a workload's time goes: Spark's event log per study stage, and py-spy in the Python workers.

    .venv/bin/python -m bench.profile [--workload demo] [--cores N]

Runs a warm-up study, then the measured one with the event log on and py-spy sampling the
Python workers (the pyspark daemon and every worker it forks). Prints, per study stage: wall
time, Spark tasks, task run time, JVM CPU time inside tasks and bytes shuffled; then the
functions the Python workers spent most samples in (inclusive), and what share of the workers'
samples went to the model kernels.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil

from bench.measure import ensure_history, session
from bench.memory import PYTHON_WORKERS, part_of
from bench.workloads import WARM_UP, WORKLOADS
from retrain_advisor.run.study import run_study

# The kernels' own work, as the sequential loop does it too (disjoint functions of kernels.py).
KERNEL_FUNCTIONS = ("fit_model", "score_slices", "prepare")


def stage_totals(event_log: Path, run_id: str) -> dict[str, dict[str, float]]:
    """Per stage of run `run_id` (from the job descriptions, which Delta prefixes with its own):
    tasks, run time, JVM CPU time, shuffle bytes. Jobs of no run are "(unlabelled)"."""
    stage_of_job = re.compile(r"retrain-advisor (\S+): (\w+)")
    stage_of_spark_stage: dict[int, str | None] = {}
    totals: dict[str, dict[str, float]] = defaultdict(Counter)
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerJobStart":
            match = stage_of_job.search(event.get("Properties", {}).get("spark.job.description") or "")
            name = "(unlabelled)" if match is None else match.group(2) if match.group(1) == run_id else None
            for stage_id in event["Stage IDs"]:
                stage_of_spark_stage[stage_id] = name
        elif kind == "SparkListenerTaskEnd" and event.get("Task Metrics"):
            name = stage_of_spark_stage.get(event["Stage ID"], "(unlabelled)")
            if name is None:
                continue  # another run's (the warm-up's)
            metrics = event["Task Metrics"]
            total = totals[name]
            total["tasks"] += 1
            total["run_s"] += metrics["Executor Run Time"] / 1e3
            total["jvm_cpu_s"] += metrics["Executor CPU Time"] / 1e9
            total["shuffle_mib"] += metrics["Shuffle Write Metrics"]["Shuffle Bytes Written"] / 2**20
    return totals


def python_workers() -> list[int]:
    """The Python workers this driver's JVM forked (reused from task to task) and their daemon."""
    found = [p.pid for p in psutil.Process().children(recursive=True) if part_of(p, os.getpid()) == PYTHON_WORKERS]
    if not found:
        raise RuntimeError("no pyspark workers: run a Python task first")
    return found


def inclusive_samples(files: list[Path]) -> tuple[Counter, int]:
    """Samples per function, each counted once per stack, from py-spy's raw (collapsed) outputs."""
    counts: Counter = Counter()
    total = 0
    for line in (line for path in files for line in path.read_text().splitlines()):
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        total += n
        for frame in {frame.rsplit(":", 1)[0] for frame in stack.split(";") if not frame.startswith("process ")}:
            counts[frame] += n
    return counts, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="demo")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workload = WORKLOADS[args.workload]
    folder = Path(tempfile.mkdtemp(prefix="retrain-advisor-profile-"))
    event_log = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": str(folder),
        "spark.eventLog.rolling.enabled": "false",
        "spark.eventLog.compress": "false",
    }
    spark = session(f"local[{args.cores}]", event_log)
    ensure_history(spark, workload)
    run_study(spark, workload.config({**WARM_UP, "output.run_id": f"{workload.name}-warm-up"}))

    # py-spy's --subprocesses does not follow the daemon's forks: one recorder per worker
    py_spy = str(Path(sys.executable).parent / "py-spy")
    recorders = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "50",
                "--output",
                str(folder / f"{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(folder / f"{pid}.log").open("w"),
        )
        for pid in python_workers()
    ]
    time.sleep(2)
    started = time.perf_counter()
    result = run_study(spark, workload.config())
    wall = time.perf_counter() - started
    for recorder in recorders:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=120)
    spark.stop()

    log = next(p for p in folder.iterdir() if p.name.startswith(("local-", "app-")))
    totals = stage_totals(log, result.run_id)
    print(f"# {workload.name}: run {wall:.1f} s on {args.cores} cores (event log and py-spy in {folder})\n")
    print(f"{'stage':<14}{'wall s':>8}{'tasks':>7}{'task run s':>12}{'JVM CPU s':>11}{'shuffle MiB':>13}")
    stages = {**result.stage_seconds, **{name: None for name in sorted(set(totals) - set(result.stage_seconds))}}
    for name, seconds in stages.items():
        t = totals.get(name, Counter())
        wall_text = "" if seconds is None else f"{seconds:.1f}"
        print(
            f"{name:<14}{wall_text:>8}{t['tasks']:>7.0f}{t['run_s']:>12.1f}{t['jvm_cpu_s']:>11.1f}"
            f"{t['shuffle_mib']:>13.1f}"
        )

    counts, total = inclusive_samples([p for p in folder.glob("*.txt") if p.stem.isdigit()])
    kernels = sum(n for frame, n in counts.items() if frame.split(" ")[0] in KERNEL_FUNCTIONS and "kernels.py" in frame)
    print(f"\nPython workers: {total} samples at 50 Hz ({total / 50:.1f} worker-seconds busy)")
    print(f"in the fit and score kernels (fit_model, score_slices, ScoringRows.prepare): {kernels / max(total, 1):.0%}")
    print(f"\n{'inclusive share':>16}  function (file:line)")
    for frame, n in counts.most_common(args.top):
        print(f"{n / total:>16.1%}  {frame}")


if __name__ == "__main__":
    main()
