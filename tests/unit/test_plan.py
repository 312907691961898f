from retrain_advisor.planning.plan import Arm, FitSpec, History, Plan, make_fit

HISTORY = History({p: 1000 for p in range(100, 140)})  # 40 weekly periods of 1000 rows


def test_fit_never_trains_on_the_gap_or_later():
    fit = make_fit(HISTORY, 120, 8, 2, 100_000, 0)
    assert [p for p in range(100, 130) if fit.trains_on(p)] == list(range(112, 118))
    assert fit.gap == 2


def test_lookback_reaching_the_first_period_is_all_history():
    everything = make_fit(HISTORY, 120, None, 1, 100_000, 0)
    assert everything.train_start == 100 and everything.lookback is None
    assert make_fit(HISTORY, 120, 20, 1, 100_000, 0) == everything
    assert make_fit(HISTORY, 120, 50, 1, 100_000, 0) == everything
    assert make_fit(HISTORY, 120, 19, 1, 100_000, 0).lookback == 19


def test_row_cap_above_the_window_is_the_same_fit():
    small_window = make_fit(HISTORY, 120, 4, 0, 4000, 0)
    assert make_fit(HISTORY, 120, 4, 0, 100_000, 0).fit_id == small_window.fit_id
    assert make_fit(HISTORY, 120, 4, 0, 2000, 0).fit_id != small_window.fit_id


def test_recency_weights_halve_every_half_life():
    fit = make_fit(HISTORY, 120, None, 1, 100_000, 0, half_life=2)
    assert fit.weight_of(118) == 1.0
    assert fit.weight_of(116) == 0.5
    assert fit.weight_of(114) == 0.25
    assert make_fit(HISTORY, 120, None, 1, 100_000, 0).weight_of(100) == 1.0


def test_fit_id_is_stable_and_depends_on_identity():
    a = FitSpec(120, 112, 119, 8, 1000, 0)
    assert a.fit_id == FitSpec(120, 112, 119, 8, 1000, 0).fit_id
    assert a.fit_id != FitSpec(120, 112, 119, 8, 1000, 1).fit_id
    assert a.fit_id != FitSpec(120, 112, 119, 8, 500, 0).fit_id
    assert a.fit_id != FitSpec(120, 112, 119, 8, 1000, 0, half_life=4).fit_id


def test_two_analyses_asking_for_one_fit_train_it_once():
    fit = make_fit(HISTORY, 120, 8, 1, 100_000, 0)
    first, second = Plan(), Plan()
    first.add_arm(Arm("decay", fit.fit_id, 120, 100_000, 8), fit, [120, 121, 122])
    second.add_arm(Arm("schedule", fit.fit_id, 120, 100_000, 8), fit, [121, 122, 123])
    merged = first.merge(second)
    assert len(merged.fits) == 1
    assert {e.period_id for e in merged.evaluations} == {120, 121, 122, 123}
    assert merged.analyses_of(fit.fit_id) == ["decay", "schedule"]


def test_adding_the_same_evaluation_twice_keeps_one():
    plan = Plan()
    fit = make_fit(HISTORY, 120, 8, 1, 1000, 0)
    plan.add_evaluation(fit, 121)
    plan.add_evaluation(fit, 121)
    assert len(plan.fits) == 1 and len(plan.evaluations) == 1


def test_history_ignores_empty_periods():
    history = History({1: 10, 2: 0, 3: 5})
    assert history.periods == [1, 3] and not history.has(2) and history.rows_between(1, 3) == 10
