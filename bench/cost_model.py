"""A cost model of a study run, fitted to the benchmark's own measurements, checked, and projected.

    .venv/bin/python -m bench.cost_model [--results retrain_advisor_demo/bench/results.json]

Reads the raw figures `make bench` keeps and splits each run's wall time into three parts, each
a linear function of what drives it (non-negative least squares):

- **source**: prepare, arrival and drift, which read every source row:
  `a0 + a1 * rows`. Drift's pass runs beside scoring, so only what of it scoring does not hide
  counts here; the rest is in the score stage's time;
- **models**: fit, score and the joint replay: `b0 + b1 * kernel + b2 * rows`, where `kernel`
  is the kernels' CPU time in the sequential loop, scaled from the study's plan to every fit the
  run trained (the joint replay's fits cost as much as the plan's), and `rows` pays for the
  stages' own reads of the source and drift's pass beside scoring;
- **driver**: reading the evaluation table, the analyses and the writes: `c0 + c1 * evaluations`.

The model is fitted to the workloads in FITTED and checked on the others (each run's predicted
total against its measured one), then projects a large study on clusters of several sizes. The
projection assumes what the measurements cannot show on two cores: that per-row and kernel work
divide evenly over the cluster's cores (up to the number of tasks a stage has), and that fixed
costs per job do not grow with the cluster. docs/scaling.md holds one run's output and says
where the assumptions are weakest.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from bench.memory import DRIVER_JVM, DRIVER_PYTHON, PYTHON_WORKERS
from bench.workloads import DATA

FITTED = ["demo", "rows-x1", "rows-x4", "periods-x1"]
SOURCE_STAGES = ["prepare", "arrival", "drift"]
MODEL_STAGES = ["fit", "score", "joint"]
MEASURED_CORES = 2

# The projected study: 1 billion rows over 3 years of weeks, 200 fits, the demo's recipe and caps.
PROJECTED_ROWS = 1_000_000_000
PROJECTED_PERIODS = 157
PROJECTED_FITS = 200
CLUSTER_CORES = [8, 32, 128]
FITS_PER_TASK = 4  # execution.fits_per_task's default
PERIODS_PER_SCORE_TASK = 4  # execution.periods_per_score_task's default


@dataclass(frozen=True)
class Run:
    name: str
    rows: float
    kernel: float  # kernel CPU seconds of every fit and evaluation the run computed
    evaluations: float
    source: float
    models: float
    driver: float

    @property
    def total(self) -> float:
        return self.source + self.models + self.driver


def run_of(name: str, measured: dict) -> Run:
    engine, base = measured["engine"], measured["baselines"]
    stages = engine["stage_seconds"]
    fit_share = base["fit_kernel_cpu_seconds"] / engine["plan_fits"]
    score_share = (base["kernel_cpu_seconds"] - base["fit_kernel_cpu_seconds"]) / engine["plan_evaluations"]
    kernel = fit_share * engine["fits"] + score_share * engine["evaluations"]
    source = sum(stages.get(s, 0.0) for s in SOURCE_STAGES)
    models = sum(stages.get(s, 0.0) for s in MODEL_STAGES)
    return Run(
        name,
        float(engine["source_rows"]["total_rows"]),
        kernel,
        float(engine["evaluations"]),
        source,
        models,
        engine["seconds"] - source - models,
    )


@dataclass(frozen=True)
class CostModel:
    source: np.ndarray  # a0, a1
    models: np.ndarray  # b0, b1, b2
    driver: np.ndarray  # c0, c1

    @classmethod
    def fit(cls, runs: list[Run]) -> CostModel:
        def solve(columns: list[list[float]], target: list[float]) -> np.ndarray:
            return nnls(np.array(columns, dtype=float), np.array(target, dtype=float))[0]

        return cls(
            solve([[1, r.rows] for r in runs], [r.source for r in runs]),
            solve([[1, r.kernel, r.rows] for r in runs], [r.models for r in runs]),
            solve([[1, r.evaluations] for r in runs], [r.driver for r in runs]),
        )

    def parts(self, run: Run, cores: int = MEASURED_CORES, model_tasks: float = math.inf) -> dict[str, float]:
        """Predicted seconds of each part on `cores`; a stage runs on at most `model_tasks` cores."""
        spread = cores / MEASURED_CORES
        kernel_spread = min(cores, model_tasks) / MEASURED_CORES
        a, b, c = self.source, self.models, self.driver
        return {
            "source": a[0] + a[1] * run.rows / spread,
            "models": b[0] + b[1] * run.kernel / kernel_spread + b[2] * run.rows / spread,
            "driver": c[0] + c[1] * run.evaluations,
        }


def projected_run(demo: Run, demo_measured: dict) -> tuple[Run, float]:
    """The large study, with the demo's cost per fit and per evaluation, and its model tasks."""
    engine = demo_measured["engine"]
    evaluations_per_fit = engine["evaluations"] / engine["fits"]
    kernel_per_fit = demo.kernel / engine["fits"]  # a fit and its share of evaluations
    evaluations = PROJECTED_FITS * evaluations_per_fit
    tasks = min(PROJECTED_FITS / FITS_PER_TASK, PROJECTED_PERIODS / PERIODS_PER_SCORE_TASK)
    run = Run("projected", PROJECTED_ROWS, kernel_per_fit * PROJECTED_FITS, evaluations, 0, 0, 0)
    return run, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path(DATA) / "results.json")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    runs = {name: run_of(name, measured) for name, measured in results.items() if name != "cluster"}
    model = CostModel.fit([runs[name] for name in FITTED if name in runs])
    a, b, c = model.source, model.models, model.driver
    print("# cost model (2 cores), fitted to " + ", ".join(n for n in FITTED if n in runs))
    print(f"source  = {a[0]:.2f} s + {a[1] * 1e6:.2f} s per million rows")
    print(f"models  = {b[0]:.2f} s + {b[1]:.3f} x kernel CPU s + {b[2] * 1e6:.2f} s per million rows")
    print(f"driver  = {c[0]:.2f} s + {c[1] * 1e3:.2f} s per thousand evaluations")
    print("\n# predicted against measured wall time")
    print("workload      fitted  rows        kernel s  measured s  predicted s  error")
    for name, run in runs.items():
        predicted = sum(model.parts(run).values())
        error = predicted / run.total - 1
        fitted = "yes" if name in FITTED else "no"
        print(
            f"{name:12}  {fitted:6}  {run.rows:>10,.0f}  {run.kernel:8.1f}  {run.total:10.1f}  "
            f"{predicted:11.1f}  {error:+.0%}"
        )
    demo_measured = results["demo"]
    large, tasks = projected_run(runs["demo"], demo_measured)
    print(
        f"\n# projected: {PROJECTED_ROWS:,} rows, {PROJECTED_PERIODS} weekly periods, {PROJECTED_FITS} fits, "
        f"{large.evaluations:,.0f} evaluations, {large.kernel:,.0f} kernel CPU s, {tasks:.0f} tasks per model stage"
    )
    peaks = demo_measured["engine"]["peak_mib"]
    worker = peaks[PYTHON_WORKERS] / MEASURED_CORES
    print("cores  source s  models s  driver s  wall min  dominant  Python workers per 8-core executor MiB")
    for cores in CLUSTER_CORES:
        parts = model.parts(large, cores, tasks)
        wall = sum(parts.values())
        dominant = max(parts, key=lambda k: parts[k])
        print(
            f"{cores:5}  {parts['source']:8,.0f}  {parts['models']:8,.0f}  {parts['driver']:8,.0f}  "
            f"{wall / 60:8.1f}  {dominant:8}  {8 * worker:,.0f}"
        )
    print(f"\nmeasured peaks (demo): driver Python {peaks[DRIVER_PYTHON]:,} MiB, driver JVM {peaks[DRIVER_JVM]:,} MiB")


if __name__ == "__main__":
    main()
