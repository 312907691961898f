from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.schedule.replay import Policy, PolicyResult, ReplaySettings, policies, replay
from retrain_advisor.analyses.schedule.rules import summarize_intervals
from retrain_advisor.foundation.vocabulary import HINDSIGHT, PERIODIC, TRIGGER


def make_matrix(start, last, max_age, quality, rows=100) -> pd.DataFrame:
    """Every fit from start - max_age + 1 to last, scored on each period up to last at ages below max_age."""
    return pd.DataFrame(
        [
            {"train_end": t, "period_id": j, "value": quality(t, j), "rows": rows(j) if callable(rows) else rows}
            for t in range(start - max_age + 1, last + 1)
            for j in range(t, min(t + max_age, last + 1))
        ]
    )


def decay(slope, fresh=0.9):
    return lambda t, j: fresh - slope * (j - t)


def shift(change, before=0.9, after=0.7):
    """A concept change at period `change`: fits trained before it drop to `after` from then on."""
    return lambda t, j: after if t < change <= j else before


def settings(**overrides) -> ReplaySettings:
    base = dict(start=10, last=25, intervals=(1, 2, 4), max_age=4)
    return ReplaySettings(**{**base, **overrides})


def all_fits(matrix: pd.DataFrame) -> set[int]:
    return set(matrix["train_end"].astype(int))


def by_name(results: list[PolicyResult]) -> dict[str, PolicyResult]:
    return {r.policy.name: r for r in results}


def run(matrix, config, fits=None) -> dict[str, PolicyResult]:
    return by_name(replay(matrix, all_fits(matrix) if fits is None else fits, config))


def weighted_score(result: PolicyResult, greater_is_better=True) -> float:
    sign = 1 if greater_is_better else -1
    return sum(sign * p.value * p.rows for p in result.periods if not math.isnan(p.value))


def retrain_periods(result: PolicyResult) -> list[int]:
    return [p.period_id for p in result.periods if p.retrained]


def test_policies_cover_every_offset_trigger_and_bound():
    names = [p.name for p in policies(settings(trigger_drops=(0.01,)))]
    assert names == [
        "periodic(1, 0)",
        "periodic(2, 0)",
        "periodic(2, 1)",
        "periodic(4, 0)",
        "periodic(4, 1)",
        "periodic(4, 2)",
        "periodic(4, 3)",
        "trigger(0.01)",
        "hindsight(1)",
        "hindsight(2)",
        "hindsight(4)",
    ]
    assert Policy(TRIGGER, trigger_drop=0.02).name == "trigger(0.02)"


def test_without_decay_every_schedule_is_as_good_and_the_trigger_only_retrains_at_the_age_cap():
    config = settings(trigger_drops=(0.0, 0.01))
    results = run(make_matrix(10, 25, 4, lambda t, j: 0.8), config)
    for result in results.values():
        assert result.mean_quality == pytest.approx(0.8)
        assert result.mean_diff == pytest.approx(0.0)
        assert result.quality_lost == pytest.approx(0.0)
        assert result.n_periods == result.n_measured == 16
    assert results["periodic(4, 2)"].difference.interval(0.9) == (0.0, 0.0)
    for name in ("trigger(0.0)", "trigger(0.01)"):
        assert retrain_periods(results[name]) == [10, 14, 18, 22]
        assert max(p.model_age for p in results[name].periods) == 3


def test_linear_decay_hand_checked():
    config = settings(start=0, last=7)
    results = run(make_matrix(0, 7, 4, decay(0.01)), config)
    assert results["periodic(1, 0)"].mean_quality == pytest.approx(0.9)
    assert results["periodic(2, 0)"].mean_quality == pytest.approx(0.895)  # ages 0,1,0,1,...
    assert results["periodic(4, 0)"].mean_quality == pytest.approx(0.885)  # ages 0,1,2,3,0,1,2,3
    assert results["periodic(4, 0)"].mean_diff == pytest.approx(-0.015)
    assert results["periodic(4, 0)"].quality_lost == pytest.approx(8 * 0.015)
    assert results["periodic(4, 0)"].worst_quality == pytest.approx(0.87)
    assert results["periodic(4, 0)"].worst_period == 3
    assert [p.model_age for p in results["periodic(4, 1)"].periods] == [3, 0, 1, 2, 3, 0, 1, 2]
    assert results["periodic(1, 0)"].difference.interval(0.9) == (0.0, 0.0)


def test_means_are_row_weighted():
    results = run(make_matrix(0, 7, 4, decay(0.01), rows=lambda j: j + 1), settings(start=0, last=7))
    # periodic(2, 0) serves the odd periods (rows 2, 4, 6, 8 out of 36) at age 1
    assert results["periodic(2, 0)"].mean_quality == pytest.approx(0.9 - 0.01 * 20 / 36)
    assert results["periodic(2, 0)"].mean_diff == pytest.approx(-0.01 * 20 / 36)


def test_mean_quality_falls_with_the_interval_under_decay():
    config = settings(intervals=(1, 2, 4, 8), max_age=8, start=10, last=41)
    summary = summarize_intervals(replay(make_matrix(10, 41, 8, decay(0.005)), set(range(0, 42)), config), True)
    assert list(summary) == [1, 2, 4, 8]
    assert [s.n_offsets for s in summary.values()] == [1, 2, 4, 8]
    qualities = [s.quality.mean for s in summary.values()]
    assert qualities == sorted(qualities, reverse=True) and len(set(qualities)) == 4
    losses = [s.loss.mean for s in summary.values()]
    assert losses[0] == 0 and all(loss > 0 for loss in losses[1:])
    assert [s.n_retrains for s in summary.values()] == [32, 16, 8, 4]
    assert all(s.total_cost is None for s in summary.values())


def test_an_offset_serves_start_with_an_older_model():
    result = run(make_matrix(10, 25, 4, decay(0.01)), settings())["periodic(2, 1)"]
    first, second = result.periods[:2]
    assert (first.train_end, first.model_age, first.retrained) == (9, 1, False)
    assert (second.train_end, second.model_age, second.retrained) == (11, 0, True)
    assert result.n_retrains == 8  # 11, 13, ..., 25


def test_a_failed_fit_keeps_the_previous_model_serving():
    matrix = make_matrix(10, 15, 4, decay(0.01))
    fits = all_fits(matrix) - {12}
    results = run(matrix[matrix["train_end"] != 12], settings(last=15), fits)
    periodic = results["periodic(2, 0)"]
    assert [p.train_end for p in periodic.periods] == [10, 10, 10, 10, 14, 14]
    assert [p.retrained for p in periodic.periods] == [True, False, False, False, True, False]
    assert (periodic.n_retrains, periodic.n_failed_retrains) == (2, 1)
    reference = results["periodic(1, 0)"]
    assert [p.train_end for p in reference.periods] == [10, 11, 11, 13, 14, 15]
    assert (reference.n_retrains, reference.n_failed_retrains) == (5, 1)
    assert 12 not in {p.train_end for r in results.values() for p in r.periods}


def test_a_failed_fit_never_serves_beyond_the_age_cap():
    matrix = make_matrix(10, 15, 2, decay(0.01))
    fits = all_fits(matrix) - {12}
    result = run(matrix[matrix["train_end"] != 12], settings(last=15, intervals=(1, 2), max_age=2), fits)
    periodic = result["periodic(2, 0)"]
    assert [p.train_end for p in periodic.periods] == [10, 10, None, None, 14, 14]
    assert np.isnan(periodic.periods[2].value) and periodic.periods[2].model_age is None
    assert (periodic.n_periods, periodic.n_measured) == (6, 4)


def test_a_trigger_whose_first_fit_failed_retries_every_period():
    matrix = make_matrix(10, 25, 4, lambda t, j: 0.8)
    result = run(matrix[matrix["train_end"] != 10], settings(trigger_drops=(0.01,)), all_fits(matrix) - {10})
    trigger = result["trigger(0.01)"]
    assert (trigger.periods[0].train_end, trigger.periods[0].retrained) == (9, False)
    assert retrain_periods(trigger) == [11, 15, 19, 23]
    assert trigger.n_failed_retrains == 1


@pytest.mark.parametrize("delay", [0, 1, 2, 3])
def test_a_trigger_waits_for_the_labels(delay):
    # the model of period 10 drops at period 11; its fresh quality is known from 10 + gap + 1,
    # the drop from 11 + gap + 1 = 10 + gap + 2
    config = settings(trigger_drops=(0.05,), label_delay=delay, intervals=(1, 2, 4, 8), max_age=8)
    trigger = run(make_matrix(10, 25, 8, shift(11)), config)["trigger(0.05)"]
    first = 10 + delay + 2
    assert retrain_periods(trigger)[:3] == [10, first, first + 8]
    assert [p.value for p in trigger.periods[1 : first - 10]] == [0.7] * (delay + 1)


def test_a_trigger_retrains_at_the_latest_at_its_age_cap():
    """Triggers are capped by the ages surely within tolerance, like calendar intervals."""
    config = settings(trigger_drops=(0.5,), intervals=(1, 2, 4, 8), max_age=8, trigger_max_age=3)
    trigger = run(make_matrix(10, 25, 8, lambda t, j: 0.8), config)["trigger(0.5)"]
    assert retrain_periods(trigger) == [10, 13, 16, 19, 22, 25]
    assert max(p.model_age for p in trigger.periods) == 2


def test_a_trigger_never_looks_ahead():
    """Decisions up to period j must not change when everything labelled after j - 1 - gap changes."""
    rng = np.random.default_rng(3)
    matrix = make_matrix(10, 30, 6, lambda t, j: 0.9 - 0.01 * (j - t) + rng.normal(0, 0.01))
    config = settings(last=30, intervals=(1, 2), max_age=6, label_delay=2, trigger_drops=(0.015,))
    decisions = [p.retrained for p in run(matrix, config)["trigger(0.015)"].periods]
    assert 2 < sum(decisions) < 21
    for j in range(12, 31, 3):
        later = matrix["period_id"] > j - 1 - config.label_delay
        noisy = matrix.assign(value=np.where(later, rng.uniform(0, 1, len(matrix)), matrix["value"]))
        changed = [p.retrained for p in run(noisy, config)["trigger(0.015)"].periods]
        assert changed[: j - 10 + 1] == decisions[: j - 10 + 1]


def monotone_matrix(seed, start=0, last=9, max_age=4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = dict(zip(range(start - max_age, last + 1), rng.uniform(0.7, 0.9, last - start + max_age + 1), strict=True))
    loss = np.concatenate([[0.0], np.cumsum(rng.uniform(0, 0.03, max_age - 1))])
    return make_matrix(start, last, max_age, lambda t, j: base[j] - loss[j - t], rows=lambda j: 50 + 10 * (j % 3))


@pytest.mark.parametrize("seed", range(5))
def test_hindsight_beats_every_periodic_schedule_with_no_larger_budget(seed):
    results = replay(monotone_matrix(seed), set(range(-4, 10)), settings(start=0, last=9))
    bounds = {r.policy.interval: r for r in results if r.policy.kind == HINDSIGHT}
    for interval, bound in bounds.items():
        budget = (9 - 0) // interval + 1
        assert bound.n_retrains <= budget and bound.periods[0].retrained
        for r in results:
            inherited = r.periods[0].train_end < 0  # an offset starts with an older model for free
            if r.policy.kind == PERIODIC and r.n_retrains + inherited <= budget:
                assert weighted_score(bound) >= weighted_score(r) - 1e-12
    assert bounds[1].mean_quality == pytest.approx(max(r.mean_quality for r in results))


def brute_force_best(matrix, fits, start, last, max_age, budget, greater_is_better) -> float:
    """(periods served, score) of the best retrain set, enumerating them all; a gap scores its period's worst."""
    sign = 1 if greater_is_better else -1
    measured = matrix.dropna(subset=["value"])
    cells = {
        (t, j): sign * v
        for t, j, v in zip(measured["train_end"], measured["period_id"], measured["value"], strict=True)
    }
    worst = {j: min(v for (_, k), v in cells.items() if k == j) for j in range(start, last + 1)}
    rows = matrix.groupby("period_id")["rows"].max()
    candidates = [t for t in range(start + 1, last + 1) if t in fits]
    best = (-np.inf, -np.inf)
    for k in range(budget):
        for extra in itertools.combinations(candidates, k):
            times = (start, *extra)
            served, total = 0, 0.0
            for j in range(start, last + 1):
                model = max(t for t in times if t <= j)
                if j - model < max_age:
                    served += 1
                    total += rows[j] * cells.get((model, j), worst[j])
            best = max(best, (served, total))  # first serve every period that can be, then the score
    return best


@pytest.mark.parametrize("greater_is_better", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_hindsight_finds_the_brute_force_optimum(seed, greater_is_better):
    rng = np.random.default_rng(seed)
    matrix = make_matrix(0, 9, 3, lambda t, j: rng.uniform(0.5, 0.9), rows=lambda j: int(rng.integers(10, 100)))
    matrix.loc[(matrix["train_end"] == 4) & (matrix["period_id"] == 5), "value"] = np.nan  # an unusable evaluation
    matrix = matrix[matrix["train_end"] != 6]  # one failed fit
    fits = all_fits(matrix)
    if not greater_is_better:
        matrix = matrix.assign(value=-matrix["value"])
    config = settings(start=0, last=9, intervals=(1, 2, 3), max_age=3, greater_is_better=greater_is_better)
    results = run(matrix, config, fits)
    sign = 1 if greater_is_better else -1
    for interval in (1, 2, 3):
        budget = 9 // interval + 1
        bound = results[f"hindsight({interval})"]
        expected = brute_force_best(matrix, fits, 0, 9, 3, budget, greater_is_better)
        measured = matrix.dropna(subset=["value"])
        worst = measured.groupby("period_id")["value"].agg("min" if greater_is_better else "max") * sign
        served = [p for p in bound.periods if p.train_end is not None]
        found = sum(p.rows * (sign * p.value if not math.isnan(p.value) else worst[p.period_id]) for p in served)
        assert (len(served), found) == pytest.approx(expected)
        assert bound.n_retrains <= budget


def test_lower_is_better_mirrors_negated_values():
    rng = np.random.default_rng(7)
    matrix = make_matrix(10, 25, 4, lambda t, j: 0.9 - 0.01 * (j - t) + rng.normal(0, 0.02))
    up = replay(matrix, all_fits(matrix), settings(trigger_drops=(0.01, 0.03)))
    negated = matrix.assign(value=-matrix["value"])
    down = replay(negated, all_fits(matrix), settings(trigger_drops=(0.01, 0.03), greater_is_better=False))
    assert any(r.policy.kind == TRIGGER and 4 < r.n_retrains for r in up)
    for a, b in zip(up, down, strict=True):
        assert a.policy == b.policy
        assert [p.train_end for p in a.periods] == [p.train_end for p in b.periods]
        assert b.mean_quality == pytest.approx(-a.mean_quality)
        assert b.worst_quality == pytest.approx(-a.worst_quality) and b.worst_period == a.worst_period
        assert (b.mean_diff, b.quality_lost) == pytest.approx((a.mean_diff, a.quality_lost))
        assert b.difference.interval(0.9) == pytest.approx(a.difference.interval(0.9))


def test_total_cost_follows_the_formula():
    matrix = make_matrix(10, 25, 4, decay(0.01))
    costly = run(matrix, settings(cost_per_retrain=2.0, cost_per_quality_unit=100.0))
    for result in costly.values():
        assert result.total_cost == pytest.approx(2.0 * result.n_retrains + 100.0 * result.quality_lost)
    assert costly["periodic(4, 0)"].total_cost == pytest.approx(2.0 * 4 + 100.0 * 16 * 0.015)
    assert all(r.total_cost is None for r in run(matrix, settings()).values())
    summary = summarize_intervals(list(costly.values()), True)
    assert summary[4].total_cost == pytest.approx(8 + 24)


def test_the_difference_interval_is_over_replayed_periods_and_deterministic():
    rng = np.random.default_rng(1)
    matrix = make_matrix(10, 49, 4, lambda t, j: 0.9 - 0.01 * (j - t) + rng.normal(0, 0.02))
    first = run(matrix, settings(last=49))
    again = run(matrix, settings(last=49, intervals=(4, 2, 1)))  # the same policies in another order
    for name in ("periodic(2, 1)", "periodic(4, 0)", "periodic(4, 3)"):
        low, high = first[name].difference.interval(0.9)
        assert low < first[name].mean_diff < high
        assert again[name].difference.interval(0.9) == (low, high)


def test_an_interval_pools_its_offsets_period_by_period():
    """The interval's loss is the mean over offsets of each period's loss against retraining every
    period, so a change that punishes the offsets retraining just before it counts for all."""
    results = replay(make_matrix(10, 25, 4, shift(13)), set(range(7, 26)), settings())
    summary = summarize_intervals(results, True)[4]
    offsets = [r for r in results if r.policy.kind == PERIODIC and r.policy.interval == 4]
    assert summary.n_offsets == 4
    assert summary.loss.mean == pytest.approx(-np.mean([r.mean_diff for r in offsets]))
    assert summary.loss.n == 16
    assert summary.quality.mean == pytest.approx(np.mean([r.mean_quality for r in offsets]))


def test_a_period_missing_from_the_matrix_is_replayed_unmeasured():
    matrix = make_matrix(10, 25, 4, decay(0.01))
    result = run(matrix[matrix["period_id"] != 15], settings(trigger_drops=(0.01,)))
    for r in result.values():
        assert r.n_periods == 16 and r.n_measured == 15
        assert np.isnan(r.periods[5].value) and r.periods[5].rows == 0


@pytest.mark.parametrize(
    "overrides, setting",
    [
        ({"intervals": (2, 4)}, "intervals"),
        ({"intervals": (1, 0)}, "intervals"),
        ({"start": 30}, "start"),
        ({"max_age": 3}, "max_age"),
        ({"cost_per_retrain": 1.0}, "cost_per_quality_unit"),
        ({"label_delay": -1}, "label_delay"),
    ],
)
def test_invalid_settings_name_the_setting(overrides, setting):
    with pytest.raises(ValueError, match=setting):
        settings(**overrides)


def test_the_matrix_needs_its_columns():
    with pytest.raises(ValueError, match="rows"):
        replay(pd.DataFrame({"train_end": [10], "period_id": [10], "value": [0.9]}), {10}, settings())


def drift_after(change):
    """A drift signal that is 1 for every period from `change` on, against a model trained before it."""
    return {(t, j): 1.0 if t < change <= j else 0.0 for t in range(-10, 40) for j in range(t, 40)}


def test_a_drift_trigger_retrains_the_period_after_the_drift_shows():
    matrix = make_matrix(10, 25, 4, shift(15))
    config = settings(drift_triggers=[("psi:x", 0.5)])
    result = by_name(replay(matrix, all_fits(matrix), config, {"psi:x": drift_after(15)}))["drift(psi:x >= 0.5)"]
    served = {p.period_id: p for p in result.periods}
    assert not served[15].retrained, "the drift of period 15 is known only once period 15 is complete"
    assert served[16].retrained and served[16].value == pytest.approx(0.9)
    assert served[15].value == pytest.approx(0.7)
    quality_only = run(matrix, settings(trigger_drops=[0.1], label_delay=3))["trigger(0.1)"]
    assert result.mean_quality > quality_only.mean_quality, "drift needs no labels, so it reacts before the labels"


def test_a_drift_trigger_never_reads_the_current_period():
    matrix = make_matrix(10, 25, 8, decay(0.0))
    only_current = {(t, j): 5.0 if j == 20 else 0.0 for t in range(0, 26) for j in range(t, 26)}
    config = settings(intervals=(1, 2), max_age=8, drift_triggers=[("psi:x", 1.0)])
    result = by_name(replay(matrix, all_fits(matrix), config, {"psi:x": only_current}))["drift(psi:x >= 1)"]
    retrained = [p.period_id for p in result.periods if p.retrained]
    assert 20 not in retrained and 21 in retrained


def test_a_drift_trigger_needs_its_signal():
    matrix = make_matrix(10, 25, 4, decay(0.01))
    with pytest.raises(ValueError, match="psi:x"):
        replay(matrix, all_fits(matrix), settings(drift_triggers=[("psi:x", 0.5)]))


def test_an_estimate_trigger_acts_on_the_last_complete_period_whatever_the_label_delay():
    """A covariate shift at 15 that the estimate sees: it retrains at 16, where a quality trigger
    with labels 3 periods late would wait until 19 and is overtaken by its age cap at 18."""
    matrix = make_matrix(10, 25, 4, shift(15))
    estimated = matrix.assign(estimate=matrix["value"] + 0.01)  # a biased estimate: only its drop counts
    config = settings(trigger_drops=[0.1], estimate_drops=[0.1], label_delay=3)
    result = run(estimated, config)
    served = {p.period_id: p for p in result["estimate(0.1)"].periods}
    assert not served[15].retrained and served[16].retrained and served[16].value == pytest.approx(0.9)
    assert retrain_periods(result["trigger(0.1)"])[:3] == [10, 14, 18]  # the labels come too late: the age cap
    assert result["estimate(0.1)"].mean_quality > result["trigger(0.1)"].mean_quality


def test_an_estimate_blind_to_the_change_retrains_only_at_the_age_cap():
    """Concept drift leaves the predictions, and so the estimate, where they were."""
    matrix = make_matrix(10, 25, 4, shift(15)).assign(estimate=0.9)
    estimate = run(matrix, settings(estimate_drops=[0.1]))["estimate(0.1)"]
    assert retrain_periods(estimate) == [10, 14, 18, 22]


def test_an_estimate_trigger_never_reads_the_current_period():
    matrix = make_matrix(10, 25, 8, decay(0.0))
    matrix = matrix.assign(estimate=np.where(matrix["period_id"] == 20, 0.0, 0.9))
    config = settings(intervals=(1, 2), max_age=8, estimate_drops=[0.5])
    retrained = retrain_periods(run(matrix, config)["estimate(0.5)"])
    assert 20 not in retrained and 21 in retrained


def test_an_estimate_trigger_needs_the_estimates():
    with pytest.raises(ValueError, match="estimate"):
        run(make_matrix(10, 25, 4, decay(0.01)), settings(estimate_drops=[0.1]))
