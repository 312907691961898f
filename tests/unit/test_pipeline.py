"""Every analysis of the evaluation table, end to end on simulated histories (no Spark): the cases
that were wrong before decay became regret on the same period."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from calibration.regimes import REGIMES
from calibration.simulate import FIRST_PERIOD, planned, simulate, simulate_drift
from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.pipeline import JointDesign, analyse, with_joint_replay
from retrain_advisor.foundation.periods import period_start
from retrain_advisor.foundation.vocabulary import ABRUPT, RECOMMENDED, STABLE, TRIGGER
from retrain_advisor.modelling.metrics import METRICS
from retrain_advisor.planning.study_plan import TrainingWindow, plan_joint_replay

REGIME = {regime.name: regime for regime in REGIMES}


def recommendation(name: str, seed: int = 1, **context_changes):
    study = planned(REGIME[name])
    context = dataclasses.replace(study.context, **context_changes)
    results = analyse(simulate(study, seed).assign(metric=context.primary.name), context)
    return results, results.recommendations[0]


def test_a_calendar_trend_without_ageing_neither_shortens_the_shelf_life_nor_the_interval():
    results, row = recommendation("calendar trend, no ageing")
    assert row["status"] == RECOMMENDED and row["shelf_life_censored"] and row["decay_pattern"] == STABLE
    assert row["recommended_interval_periods"] == max(results.summaries[None])


def test_one_change_on_one_date_is_named_in_the_rationale():
    _, row = recommendation("abrupt change on one date")
    date = period_start("week", FIRST_PERIOD + REGIME["abrupt change on one date"].event_period).isoformat()
    assert row["decay_pattern"] == ABRUPT and row["event_period_id"] == FIRST_PERIOD + 40
    assert date in row["rationale"] and "not a shorter calendar" in row["rationale"]


def test_a_quality_trigger_sees_the_labels_as_late_as_they_arrive():
    """windows.gap is 0 but labels take 3 weeks: the trigger is replayed with 3, and the
    rationale says the gap is too short."""
    late = ArrivalSummary(1, 3, 5000.0, observed_delay_periods=3)
    results, row = recommendation("gradual, linear", arrival={None: late})
    triggers = [r for r in results.schedule[None] if r.policy.kind == TRIGGER]
    on_time, _ = recommendation("gradual, linear")
    assert any("Labels take about 3 week(s)" in note and "windows.gap" in note for note in row["notes"])
    assert row["label_delay_periods"] == 3 and triggers
    quicker = {r.policy.name: r.mean_diff for r in on_time.schedule[None] if r.policy.kind == TRIGGER}
    assert all(r.mean_diff <= quicker[r.policy.name] + 1e-12 for r in triggers)


def test_a_metric_that_follows_the_base_rate_is_flagged_when_the_rate_drifts():
    drifting = ArrivalSummary(1, 0, 5000.0, positive_rate_range=(0.03, 0.05))
    _, row = recommendation("no change", arrival={None: drifting}, primary=METRICS["average_precision"])
    assert any("moves with the positive rate" in note for note in row["notes"])
    _, steady = recommendation("no change", arrival={None: drifting})
    assert not steady["notes"], "roc_auc does not follow the base rate"


@pytest.mark.parametrize("name", ["gradual, linear", "gradual, saturating", "noisy periods, AR(1)"])
def test_the_recommended_interval_serves_only_ages_surely_within_tolerance(name):
    results, row = recommendation(name)
    assert row["recommended_interval_periods"] <= max(row["within_tolerance_periods"], 1)
    assert row["expected_loss_ci_high"] <= row["tolerance_limit"] or row["recommended_interval_periods"] == 1
    assert 0.5 <= row["prob_within_tolerance"] <= 1.0


def test_a_study_whose_every_fit_failed_says_insufficient_evidence():
    study = planned(REGIME["no change"])
    frame = simulate(study, 1).assign(usable=False, fit_ok=False, value=float("nan"))
    row = analyse(frame, study.context).recommendations[0]
    assert row["status"] == "insufficient_evidence" and row["recommended_interval_periods"] is None
    assert "nan" not in row["rationale"].lower() and row["missing_evidence"]


@pytest.mark.parametrize("name", ["widening variance", "covariate shift that costs quality"])
def test_the_joint_replay_changes_only_the_recommendation_which_it_replays_with_its_window(name):
    """The schedule's fits trained again with the recommended window: their rows (some of them
    new evaluations of the study's own fits) leave every other analysis as the study's rows give
    it, so a run does not compute those again; the policy is chosen on their replay."""
    study = planned(REGIME[name])
    drift = simulate_drift(study, 1)
    overall = analyse(simulate(study, 1), study.context, drift).recommendations[0]
    window = TrainingWindow(overall["recommended_lookback_periods"], overall["recommended_half_life_periods"])
    joint = plan_joint_replay(study.history, study.config, study.study_plan.replay, window)
    assert joint is not None
    own_fits = study.study_plan.plan.fits
    assert any(e.fit_id in own_fits and e not in study.study_plan.plan.evaluations for e in joint.evaluations)
    merged = dataclasses.replace(study.study_plan, plan=study.study_plan.plan.merge(joint))
    both = simulate(dataclasses.replace(study, study_plan=merged), 1)
    own_keys = {(e.fit_id, e.period_id) for e in study.study_plan.plan.evaluations}
    own = both[[key in own_keys for key in zip(both["fit_id"], both["period_id"], strict=True)]]

    alone, together = analyse(own, study.context, drift), analyse(both, study.context, drift)
    for frame in ("cells", "curve", "shelf_life", "events"):
        pd.testing.assert_frame_equal(getattr(alone.decay, frame), getattr(together.decay, frame))
    pd.testing.assert_frame_equal(alone.learning_curve, together.learning_curve)
    pd.testing.assert_frame_equal(alone.window_comparison, together.window_comparison)
    for part in ("schedule", "summaries", "signals", "recommendations"):
        assert repr(getattr(alone, part)) == repr(getattr(together, part)), part
    assert bool(alone.signals) == (drift is not None)

    replayed = with_joint_replay(alone, both, study.context, JointDesign(joint, window))
    # only the recommendations change: a run writes every other table while the replay runs
    for field in dataclasses.fields(replayed):
        if field.name != "recommendations":
            assert getattr(replayed, field.name) is getattr(alone, field.name), field.name
    row = replayed.recommendations[0]
    before = alone.recommendations[0]
    assert (row["replayed_lookback_periods"], row["replayed_half_life_periods"]) == (window.lookback, window.half_life)
    assert (before["replayed_lookback_periods"], before["replayed_half_life_periods"]) != (
        window.lookback,
        window.half_life,
    )
    assert math.isfinite(row["quality_every_period"]) and math.isfinite(before["quality_every_period"])
    assert row["quality_every_period"] != before["quality_every_period"]
