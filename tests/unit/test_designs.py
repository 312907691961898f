import pytest

from retrain_advisor.foundation.errors import PlanError
from retrain_advisor.foundation.vocabulary import DECAY, LEARNING_CURVE, SCHEDULE, WINDOW_COMPARISON
from retrain_advisor.planning.plan import History
from retrain_advisor.planning.study_plan import choose_origins, plan_schedule, plan_study, replay_design
from tests.configs import make_config

HISTORY = History({p: 1000 for p in range(100, 140)})  # 40 weekly periods


BASE = {
    "name": "t",
    "source": {"table": "history"},
    "columns": {"event_time": "t", "label": "y"},
    "windows": {"lookback": 8, "gap": 1, "max_age": 6, "origin_every": 1},
    "limits": {"max_train_rows": 8000, "min_train_rows": 500},
    "output": {"path": "/tmp/out"},
}


def config(**sections):
    return make_config(BASE, **sections)


def test_origins_have_full_lookback_and_reach_max_age():
    origins = choose_origins(HISTORY, config().windows, "week")
    assert origins[0] == 108 and origins[-1] == 133
    assert len(origins) == 26


def test_origins_sit_on_a_fixed_grid_and_keep_the_most_recent():
    windows = config(windows={"lookback": 8, "max_age": 6, "origin_every": 5, "max_origins": 3}).windows
    assert choose_origins(HISTORY, windows, "week") == [120, 125, 130]


def test_a_longer_history_keeps_every_fit_of_the_shorter_one_but_those_it_drops():
    """An incremental run reuses fits by id: one more period must not move the origins."""
    settings = config(windows={"origin_every": 2}, comparisons={"test_periods": 3})
    shorter = plan_study(HISTORY, settings).plan
    for extra in (1, 2, 3):
        longer = plan_study(History({p: 1000 for p in range(100, 140 + extra)}), settings).plan
        kept = shorter.fits.keys() & longer.fits.keys()
        assert len(longer.fits.keys() - kept) <= 0.15 * len(longer.fits), extra


def test_short_history_names_the_settings():
    with pytest.raises(PlanError, match="windows.lookback=30 and windows.max_age=12"):
        choose_origins(HISTORY, config(windows={"lookback": 30, "max_age": 12}).windows, "week")


def test_decay_scores_every_age_of_every_origin_and_a_fresh_fit_of_every_period():
    study = plan_study(HISTORY, config())
    design = study.decay
    assert len(design.origin_fits) == 26
    ages = {e.model_age for e in study.plan.evaluations if e.fit_id in set(design.origin_fits.values())}
    assert ages == set(range(7))
    # the reference of every scored period: the same window trained at that period, scored there
    assert sorted(design.reference_fits) == list(range(108, 140))
    for period, fit_id in design.reference_fits.items():
        fit = study.plan.fits[fit_id]
        assert fit.train_end == period and fit.train_stop - fit.train_start == 8 - 1
        assert any(e.fit_id == fit_id and e.period_id == period for e in study.plan.evaluations)
    assert design.reference_fits[120] == design.origin_fits[120], "an origin's fit is its own period's reference"
    assert set(design.reference_fits.values()) | set(design.origin_fits.values()) == study.plan.fits_needed_by(DECAY)


def test_a_history_with_too_few_origins_stops_saying_how_much_more_is_needed():
    """40 weeks with the default windows (26-week lookback, ages up to 12) leave 2 origins."""
    short = History({p: 1000 for p in range(100, 140)})
    with pytest.raises(PlanError) as raised:
        plan_study(short, config(windows={"lookback": 26, "max_age": 12, "gap": 0}))
    message = str(raised.value)
    assert "2 origin(s)" in message and "tolerance.min_origins=3" in message and "1 more week(s)" in message


def test_missing_periods_get_no_evaluation():
    history = History({p: (0 if p == 125 else 1000) for p in range(100, 140)})
    study = plan_study(history, config())
    assert all(e.period_id != 125 for e in study.plan.evaluations)


def test_a_full_study_trains_shared_fits_once():
    study = plan_study(HISTORY, config())
    separate = study.separate_fit_counts()
    assert set(separate) == {DECAY, LEARNING_CURVE, WINDOW_COMPARISON, SCHEDULE}
    assert len(study.plan.fits) < sum(separate.values())
    assert len(study.plan.fits) == len({f.fit_id for f in study.plan.fits.values()})
    # every schedule fit at a decay origin is the decay fit itself
    shared = study.plan.fits_needed_by(DECAY) & study.plan.fits_needed_by(SCHEDULE)
    assert shared


def test_comparisons_score_every_arm_on_the_same_periods():
    study = plan_study(HISTORY, config(comparisons={"origins": 3, "test_periods": 2, "half_lives": [4]}))
    plan = study.plan
    for origin in study.comparison_origins:
        arms = [a for a in plan.arms if a.train_end == origin and a.analysis in (LEARNING_CURVE, WINDOW_COMPARISON)]
        scored = {frozenset(e.period_id for e in plan.evaluations if e.fit_id == a.fit_id) for a in arms}
        assert {origin, origin + 1} <= min(scored, key=len)
    assert len(study.comparison_origins) == 3
    weighted = [a for a in plan.arms if a.half_life == 4]
    assert len(weighted) == 3 and all(plan.fits[a.fit_id].half_life == 4 for a in weighted)
    sizes = sorted({a.train_rows for a in plan.arms if a.analysis == LEARNING_CURVE})
    assert sizes == [500, 1000, 2000, 4000, 8000]


def test_the_replay_has_a_fit_at_every_period_and_respects_the_gap():
    study = plan_study(HISTORY, config(schedule={"intervals": [1, 2, 4]}))
    design = study.replay
    assert design.intervals == [1, 2, 4] and design.last == 139 and design.start == 139 - 8 + 1
    ends = sorted(study.plan.fits[f].train_end for f in study.plan.fits_needed_by(SCHEDULE))
    assert ends == list(range(design.start - 3, 140))
    alone = plan_schedule(HISTORY, config(), design)
    for fit in alone.fits.values():
        assert fit.train_stop == fit.train_end - 1
    assert {e.model_age for e in alone.evaluations} == {0, 1, 2, 3}
    assert {e.period_id for e in alone.evaluations} == set(range(design.start, 140))


def test_a_replay_shorter_than_asked_says_how_long_it_is():
    design = replay_design(History({p: 1000 for p in range(100, 130)}), config(schedule={"replay_periods": 24}))
    assert design.requested == 24 and design.periods < 24


def test_interval_beyond_the_measured_ages_is_refused():
    from retrain_advisor.foundation.errors import ConfigError

    with pytest.raises(ConfigError, match=r"schedule.intervals \[9\] exceed windows.max_age \+ 1 = 7"):
        config(schedule={"intervals": [1, 9]})


def test_row_caps_a_window_cannot_fill_are_not_separate_fits():
    # a 8-week lookback with a 1-week gap holds 7000 rows: a 7500 cap would train on the same rows as 8000
    study = plan_study(HISTORY, config(comparisons={"train_sizes": [2000, 7500, 8000]}))
    assert study.train_sizes == [2000, 8000]


def test_lookbacks_reaching_the_first_period_are_left_to_all_history():
    study = plan_study(HISTORY, config(comparisons={"lookbacks": [4, 16, 30]}))
    assert min(study.comparison_origins) == 128
    assert study.lookbacks == [4, 16]
