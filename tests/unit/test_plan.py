import pytest

from retrain_advisor.config import WindowsConfig
from retrain_advisor.errors import PlanError
from retrain_advisor.plan import FitSpec, Plan, choose_origins, fit_for_origin, plan_decay

PERIODS = list(range(100, 140))  # 40 weekly periods


def windows(**kw) -> WindowsConfig:
    return WindowsConfig(**{"lookback": 8, "gap": 1, "max_age": 6, "origin_every": 1} | kw)


def test_origins_have_full_lookback_and_reach_max_age():
    origins = choose_origins(PERIODS, windows(), "week")
    assert origins[0] == 108 and origins[-1] == 133
    assert len(origins) == 26


def test_origins_are_counted_back_from_the_latest():
    origins = choose_origins(PERIODS, windows(origin_every=5, max_origins=3), "week")
    assert origins == [123, 128, 133]


def test_short_history_names_the_settings():
    with pytest.raises(PlanError, match="windows.lookback=30 and windows.max_age=12"):
        choose_origins(PERIODS, windows(lookback=30, max_age=12), "week")


def test_decay_plan_scores_every_age_of_every_origin():
    plan = plan_decay(PERIODS, windows(), "week", max_rows=1000, seed=0)
    assert len(plan.fits) == 26
    assert len(plan.evaluations) == 26 * 7
    assert {e.model_age for e in plan.evaluations} == set(range(7))


def test_fit_never_trains_on_the_gap_or_later():
    fit = fit_for_origin(120, 100, 8, 2, 1000, 0)
    assert [p for p in range(100, 130) if fit.trains_on(p)] == list(range(112, 118))
    assert fit.gap == 2


def test_lookback_all_starts_at_the_first_period():
    fit = fit_for_origin(120, 100, "all", 1, 1000, 0)
    assert fit.train_start == 100 and fit.lookback is None


def test_missing_periods_get_no_evaluation():
    present = [p for p in PERIODS if p != 125]
    plan = plan_decay(present, windows(), "week", 1000, 0)
    assert all(e.period_id != 125 for e in plan.evaluations)


def test_merging_plans_trains_shared_fits_once():
    first = plan_decay(PERIODS, windows(), "week", 1000, 0)
    second = plan_decay(PERIODS, windows(max_age=3), "week", 1000, 0)
    merged = first.merge(second)
    shared = set(first.fits) & set(second.fits)
    assert shared, "the two analyses share fits"
    assert len(merged.fits) == len(set(first.fits) | set(second.fits)) < len(first.fits) + len(second.fits)
    assert len(merged.evaluations) == len(first.evaluations | second.evaluations)


def test_fit_id_is_stable_and_depends_on_identity():
    a = FitSpec(120, 112, 119, 8, 1000, 0)
    assert a.fit_id == FitSpec(120, 112, 119, 8, 1000, 0).fit_id
    assert a.fit_id != FitSpec(120, 112, 119, 8, 1000, 1).fit_id
    assert a.fit_id != FitSpec(120, 112, 119, 8, 500, 0).fit_id


def test_adding_the_same_evaluation_twice_keeps_one():
    plan = Plan()
    fit = fit_for_origin(120, 100, 8, 1, 1000, 0)
    plan.add_evaluation(fit, 121)
    plan.add_evaluation(fit, 121)
    assert len(plan.fits) == 1 and len(plan.evaluations) == 1
