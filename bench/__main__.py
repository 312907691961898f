"""The benchmark harness: every workload, the baselines, the scaling series and the cluster, in one run.

    .venv/bin/python -m bench [--workloads demo,rows-x1,...] [--cores N] [--reuse]   (or: make bench)

Each measurement runs in a process of its own (`bench.measure`), one after the other, so that
no two compete for the cores and each peak memory is its own. Prints one table per group of
workloads, then the targets of docs/benchmarks.md with the measured figure beside each (for the
whole-run targets, also the best a run could reach on these cores: its time outside fit and
score, with fit and score no slower than joblib), and keeps every raw figure in
retrain_advisor_demo/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.memory import DRIVER_JVM, DRIVER_PYTHON, EXECUTOR_JVMS, PYTHON_WORKERS
from bench.workloads import DATA, GROUPS, WORKLOADS

RESULTS = Path(DATA) / "results.json"
MEASURED = Path(DATA) / "measured"


def measure(part: str, workload: str, cores: int, master: str | None = None, reuse: bool = False) -> dict:
    """One part of one workload in its own process; with `reuse`, an earlier measurement's file."""
    out = MEASURED / f"{workload}-{part}.json"
    if not (reuse and out.exists()):
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "bench.measure", part, "--workload", workload, "--out", str(out)]
        command += ["--cores", str(cores)] + (["--master", master] if master else [])
        subprocess.run(command, check=True)
    return json.loads(out.read_text())


def measure_on_cluster(workload: str, cores: int, reuse: bool) -> dict:
    from localspark import StandaloneCluster

    if reuse and (MEASURED / f"{workload}-engine.json").exists():
        return measure("engine", workload, cores, reuse=True)
    with tempfile.TemporaryDirectory() as folder:
        cluster = StandaloneCluster(Path(folder), workers=2).start()
        try:
            return measure("engine", workload, cores, cluster.url)
        finally:
            cluster.stop()


def derived(engine: dict, base: dict, cores: int) -> dict:
    """The ratios: parallel efficiency, speed-ups and work reuse."""
    stages = engine["stage_seconds"]
    fit_score = stages["fit"] + stages["score"]
    separate = sum(engine["separate_fits"].values())
    kernel = base["kernel_cpu_seconds"]
    # The baselines run the study's plan; the joint replay of the recommended window (fits the
    # verdict asks for after the analyses) is work they do not do, so the ratios leave it out.
    run = engine["seconds"] - stages.get("joint", 0.0)
    # What the whole-run targets could reach at best on these cores: the run's time outside fit
    # and score kept, fit and score taking no longer than joblib takes for the same kernels.
    outside = run - fit_score
    best_run = outside + min(fit_score, base["joblib_seconds"])
    return {
        "run_without_joint": run,
        "outside_fit_score": outside,
        "efficiency_run": kernel / (run * cores),
        "ceiling_efficiency_run": kernel / (best_run * cores),
        "ceiling_vs_loop_run": base["loop_seconds"] / best_run,
        "ceiling_vs_joblib_run": base["joblib_seconds"] / best_run,
        "efficiency_fit_score": kernel / (fit_score * cores),
        "efficiency_fit": base["fit_kernel_cpu_seconds"] / (stages["fit"] * cores),
        "efficiency_score": (kernel - base["fit_kernel_cpu_seconds"]) / (stages["score"] * cores),
        "vs_loop_run": base["loop_seconds"] / run,
        "vs_loop_fit_score": base["loop_seconds"] / fit_score,
        "vs_joblib_run": base["joblib_seconds"] / run,
        "vs_joblib_fit_score": base["joblib_seconds"] / fit_score,
        "vs_user_script_run": base["user_script_seconds"] / run,
        "fit_reuse": engine["fits"] / separate,
        "separate_fits": separate,
    }


def rows_of(results: dict[str, dict]) -> list[tuple[str, list[str]]]:
    def each(get, fmt="{:,.1f}") -> list[str]:
        values = []
        for measured in results.values():
            try:
                values.append(fmt.format(get(measured)))
            except (KeyError, TypeError):
                values.append("-")
        return values

    e, b, d = "engine", "baselines", "derived"
    stage_names = next(iter(results.values()))[e]["stage_seconds"]
    return [
        ("source rows", each(lambda m: m[e]["source_rows"]["used_rows"], "{:,}")),
        ("fits (separate analyses would fit)", each(lambda m: f"{m[e]['fits']} ({m[d]['separate_fits']})", "{}")),
        ("evaluations", each(lambda m: m[e]["evaluations"], "{:,}")),
        ("passes over the source", each(lambda m: sum(m[e]["source_passes"].values()), "{}")),
        ("run wall time, s", each(lambda m: m[e]["seconds"])),
        ("run without the joint replay (the baselines' work), s", each(lambda m: m[d]["run_without_joint"])),
        *[(f"  {name}, s", each(lambda m, n=name: m[e]["stage_seconds"][n])) for name in stage_names],
        ("kernel CPU time (sequential loop), s", each(lambda m: m[b]["kernel_cpu_seconds"])),
        ("  of which fitting, s", each(lambda m: m[b]["fit_kernel_cpu_seconds"])),
        ("kernel time inside Spark tasks, s", each(lambda m: m[e]["fit_task_seconds"] + m[e]["score_task_seconds"])),
        ("parallel efficiency, whole run (without joint)", each(lambda m: m[d]["efficiency_run"], "{:.2f}")),
        ("  its time outside fit and score, s", each(lambda m: m[d]["outside_fit_score"])),
        ("  at best, with fit + score as fast as joblib", each(lambda m: m[d]["ceiling_efficiency_run"], "{:.2f}")),
        ("parallel efficiency, fit + score stages", each(lambda m: m[d]["efficiency_fit_score"], "{:.2f}")),
        ("  fit stage", each(lambda m: m[d]["efficiency_fit"], "{:.2f}")),
        ("  score stage", each(lambda m: m[d]["efficiency_score"], "{:.2f}")),
        ("sequential loop, s", each(lambda m: m[b]["loop_seconds"])),
        ("joblib on the same cores, s", each(lambda m: m[b]["joblib_seconds"])),
        (
            "user's script from disk, s (of which reading)",
            each(lambda m: f"{m[b]['user_script_seconds']:.1f} ({m[b]['user_script_read_seconds']:.1f})", "{}"),
        ),
        (
            "  its evaluations; median gap to the engine's metric",
            each(lambda m: f"{m[b]['user_script_evaluations']:,}; {m[b]['user_script_median_gap']:.4f}", "{}"),
        ),
        ("speed-up vs user's script, whole run", each(lambda m: m[d]["vs_user_script_run"], "{:.2f}x")),
        ("speed-up vs loop, whole run", each(lambda m: m[d]["vs_loop_run"], "{:.2f}x")),
        ("speed-up vs loop, fit + score stages", each(lambda m: m[d]["vs_loop_fit_score"], "{:.2f}x")),
        ("speed-up vs joblib, whole run", each(lambda m: m[d]["vs_joblib_run"], "{:.2f}x")),
        ("speed-up vs joblib, fit + score stages", each(lambda m: m[d]["vs_joblib_fit_score"], "{:.2f}x")),
        ("fits / separate analyses' fits", each(lambda m: m[d]["fit_reuse"], "{:.2f}")),
        *[
            (f"peak RSS {part}, MiB", each(lambda m, p=part: m[e]["peak_mib"][p], "{:,}"))
            for part in (DRIVER_PYTHON, DRIVER_JVM, EXECUTOR_JVMS, PYTHON_WORKERS)
        ],
        (
            "evaluations differing from the engine",
            each(lambda m: m[b]["loop_disagreements"] + m[b]["joblib_disagreements"], "{}"),
        ),
    ]


def print_group(title: str, results: dict[str, dict]) -> None:
    rows = rows_of(results)
    names = list(results)
    label = max(len(name) for name, _ in rows)
    widths = [max(len(n), *(len(values[i]) for _, values in rows)) for i, n in enumerate(names)]
    print(f"\n## {title}\n")
    print(" " * label + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True)))
    for name, values in rows:
        print(name.ljust(label) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True)))


def targets(results: dict[str, dict]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target that the measured workloads can answer."""
    checks = []
    if "demo" in results:
        d = results["demo"]["derived"]
        checks += [
            (
                "whole-run parallel efficiency >= 0.75 (demo)",
                f"{d['efficiency_run']:.2f} (at best {d['ceiling_efficiency_run']:.2f})",
                d["efficiency_run"] >= 0.75,
            ),
            (
                "at least 1.5x the sequential loop (demo, whole run)",
                f"{d['vs_loop_run']:.2f}x (at best {d['ceiling_vs_loop_run']:.2f}x)",
                d["vs_loop_run"] >= 1.5,
            ),
            (
                "at least 0.9x joblib (demo, whole run)",
                f"{d['vs_joblib_run']:.2f}x (at best {d['ceiling_vs_joblib_run']:.2f}x)",
                d["vs_joblib_run"] >= 0.9,
            ),
            ("fits at most half of separate analyses'", f"{d['fit_reuse']:.2f}", d["fit_reuse"] <= 0.5),
        ]
    if "rows-x1" in results:
        light = results["rows-x1"]["derived"]
        checks.append(
            (
                "whole-run parallel efficiency >= 0.4 (light plan, rows-x1)",
                f"{light['efficiency_run']:.2f} (at best {light['ceiling_efficiency_run']:.2f})",
                light["efficiency_run"] >= 0.4,
            )
        )
    if "rows-x1" in results and "rows-x16" in results:
        small, large = results["rows-x1"]["engine"], results["rows-x16"]["engine"]
        growth = large["peak_mib"][DRIVER_PYTHON] / small["peak_mib"][DRIVER_PYTHON]
        checks.append(("driver Python peak flat with 16x rows", f"{growth:.2f}x", growth <= 1.1))
        wall = large["seconds"] / small["seconds"]
        checks.append(("wall time at most linear in rows (16x rows)", f"{wall:.2f}x", wall <= 16))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default: all)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores Spark and joblib may use")
    parser.add_argument(
        "--reuse", action="store_true", help=f"reuse measurements already in {MEASURED} (after an interrupted run)"
    )
    args = parser.parse_args()
    chosen = [name for name in WORKLOADS if name in args.workloads.split(",")]
    results: dict[str, dict] = {}
    for name in chosen:
        print(f"measuring {name} ...", flush=True)
        if WORKLOADS[name].cluster:
            engine = measure_on_cluster(name, args.cores, args.reuse)
            base = measure("baselines", "demo", args.cores, reuse=True)  # the same plan as the demo's
        else:
            engine = measure("engine", name, args.cores, reuse=args.reuse)
            base = measure("baselines", name, args.cores, reuse=args.reuse)
        results[name] = {"engine": engine, "baselines": base, "derived": derived(engine, base, args.cores)}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\n# retrain-advisor benchmark, {args.cores} cores")
    for group, members in GROUPS.items():
        present = {name: results[name] for name in members if name in results}
        if present:
            print_group(group, present)
    print("\n## targets\n")
    for target, value, met in targets(results):
        print(f"{'met   ' if met else 'MISSED'}  {target}: {value}")


if __name__ == "__main__":
    main()
