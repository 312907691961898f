"""The benchmark's arithmetic: its ratios leave the joint replay out, and the cost model recovers
the costs a series of runs was made with and predicts the runs it was not fitted to."""

from __future__ import annotations

import pytest

pytest.importorskip("psutil", reason="the benchmark's extra (.[bench]) is not installed")

from bench.__main__ import derived  # noqa: E402 (after the check for the benchmark's extra)
from bench.cost_model import FITTED, CostModel, projected_run, run_of  # noqa: E402

# The costs the made-up runs below are built from: seconds, per row, per kernel CPU second, per evaluation.
SOURCE = (4.0, 10e-6)
MODELS = (12.0, 0.7, 1e-6)
DRIVER = (6.0, 2e-3)


def measured(rows: int, fits: int, evaluations: int, fit_kernel: float, score_kernel: float) -> dict:
    """One workload's raw figures as `make bench` keeps them, made from the costs above: the plan's
    fits and evaluations, plus a joint replay of a tenth more of each."""
    joint_fits, joint_evaluations = fits // 10, evaluations // 10
    kernel = (fit_kernel / fits) * (fits + joint_fits) + (score_kernel / evaluations) * (
        evaluations + joint_evaluations
    )
    source = SOURCE[0] + SOURCE[1] * rows
    models = MODELS[0] + MODELS[1] * kernel + MODELS[2] * rows
    driver = DRIVER[0] + DRIVER[1] * (evaluations + joint_evaluations)
    stages = {
        "prepare": 0.7 * source,
        "arrival": 0.1 * source,
        "drift": 0.2 * source,
        "fit": 0.4 * models,
        "score": 0.4 * models,
        "joint": 0.2 * models,
        "evaluations": 0.1 * driver,
        "analyses": 0.3 * driver,
        "write": 0.6 * driver,
    }
    return {
        "engine": {
            "seconds": sum(stages.values()),
            "stage_seconds": stages,
            "fits": fits + joint_fits,
            "evaluations": evaluations + joint_evaluations,
            "plan_fits": fits,
            "plan_evaluations": evaluations,
            "separate_fits": {"decay": fits, "schedule": fits // 2},
            "source_rows": {"total_rows": rows},
        },
        "baselines": {
            "kernel_cpu_seconds": fit_kernel + score_kernel,
            "fit_kernel_cpu_seconds": fit_kernel,
            "loop_seconds": fit_kernel + score_kernel + 1.0,
            "joblib_seconds": (fit_kernel + score_kernel) / 1.8,
            "user_script_seconds": fit_kernel + score_kernel + 3.0,
        },
    }


RESULTS = {
    "demo": measured(1_200_000, 150, 1_400, 60.0, 65.0),
    "rows-x1": measured(300_000, 110, 460, 14.0, 9.0),
    "rows-x4": measured(1_200_000, 90, 340, 13.0, 9.0),
    "rows-x16": measured(4_800_000, 110, 460, 14.0, 9.0),
    "periods-x1": measured(150_000, 60, 300, 6.0, 4.0),
    "periods-x4": measured(600_000, 200, 650, 28.0, 21.0),
}


def test_the_cost_model_recovers_the_costs_and_predicts_the_runs_it_was_not_fitted_to():
    runs = {name: run_of(name, figures) for name, figures in RESULTS.items()}
    model = CostModel.fit([runs[name] for name in FITTED])
    assert model.source == pytest.approx(SOURCE, rel=1e-6)
    assert model.models == pytest.approx(MODELS, rel=1e-6, abs=1e-9)
    assert model.driver == pytest.approx(DRIVER, rel=1e-6)
    for name in set(RESULTS) - set(FITTED):
        assert sum(model.parts(runs[name]).values()) == pytest.approx(runs[name].total, rel=1e-6), name


def test_more_cores_divide_the_work_but_not_the_fixed_costs_nor_beyond_the_tasks():
    runs = {name: run_of(name, figures) for name, figures in RESULTS.items()}
    model = CostModel.fit([runs[name] for name in FITTED])
    large, tasks = projected_run(runs["demo"], RESULTS["demo"])
    at = {cores: model.parts(large, cores, tasks) for cores in (8, 32, 128)}
    assert at[32]["source"] - SOURCE[0] == pytest.approx((at[8]["source"] - SOURCE[0]) / 4)
    assert at[32]["driver"] == at[8]["driver"]
    kernel_share = {cores: at[cores]["models"] - MODELS[0] - MODELS[2] * large.rows / (cores / 2) for cores in at}
    assert tasks < 128 and kernel_share[128] == pytest.approx(kernel_share[8] * 8 / tasks)


def test_the_ratios_leave_out_the_joint_replay_that_no_baseline_does():
    figures = RESULTS["demo"]
    engine, base = figures["engine"], figures["baselines"]
    ratios = derived(engine, base, cores=2)
    run = engine["seconds"] - engine["stage_seconds"]["joint"]
    assert ratios["run_without_joint"] == pytest.approx(run)
    assert ratios["efficiency_run"] == pytest.approx(base["kernel_cpu_seconds"] / (2 * run))
    assert ratios["vs_joblib_run"] == pytest.approx(base["joblib_seconds"] / run)
    assert ratios["fit_reuse"] == pytest.approx(engine["fits"] / (150 + 75))


def test_the_ceiling_keeps_the_time_outside_fit_and_score_and_gives_them_joblibs_time():
    figures = RESULTS["demo"]
    engine, base = figures["engine"], figures["baselines"]
    stages = engine["stage_seconds"]
    ratios = derived(engine, base, cores=2)
    outside = engine["seconds"] - stages["joint"] - stages["fit"] - stages["score"]
    assert ratios["outside_fit_score"] == pytest.approx(outside)
    assert ratios["ceiling_efficiency_run"] == pytest.approx(
        base["kernel_cpu_seconds"] / (2 * (base["joblib_seconds"] + outside))
    )
    # fit and score slower than joblib: the ceiling is above the run's figure
    assert stages["fit"] + stages["score"] > base["joblib_seconds"]
    assert ratios["ceiling_efficiency_run"] > ratios["efficiency_run"]
    assert ratios["ceiling_vs_loop_run"] > ratios["vs_loop_run"]
    # a run whose fit and score take joblib's time is at its ceiling
    share = base["joblib_seconds"] / (stages["fit"] + stages["score"])
    at_joblib = {**engine, "stage_seconds": {**stages, "fit": stages["fit"] * share, "score": stages["score"] * share}}
    at_joblib["seconds"] = outside + stages["joint"] + base["joblib_seconds"]
    reached = derived(at_joblib, base, cores=2)
    assert reached["efficiency_run"] == pytest.approx(reached["ceiling_efficiency_run"])
    assert reached["vs_loop_run"] == pytest.approx(reached["ceiling_vs_loop_run"])
    assert reached["vs_joblib_run"] == pytest.approx(reached["ceiling_vs_joblib_run"])
    # fit and score already faster than joblib: the ceiling is the run itself, never below it
    faster = derived(engine, {**base, "joblib_seconds": (stages["fit"] + stages["score"]) * 1.5}, cores=2)
    assert faster["ceiling_efficiency_run"] == pytest.approx(faster["efficiency_run"])
