"""The recommendation: decisions on bounds, the feasible interval, insufficient evidence, the rationale."""

import numpy as np
import pandas as pd
import pytest

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.decay.analysis import SliceDecay
from retrain_advisor.analyses.decay.events import CalendarEvent
from retrain_advisor.analyses.decay.rules import ShelfLife
from retrain_advisor.analyses.recommendation.evidence import Evidence, JointReplay
from retrain_advisor.analyses.recommendation.rules import recommend
from retrain_advisor.analyses.schedule.replay import ReplaySettings, replay
from retrain_advisor.analyses.schedule.rules import feasible_interval, summarize_intervals
from retrain_advisor.foundation.statistics import INDEPENDENT
from retrain_advisor.foundation.vocabulary import ABRUPT, GRADUAL, INSUFFICIENT_EVIDENCE, RECOMMENDED, STABLE
from retrain_advisor.planning.study_plan import TrainingWindow
from tests.configs import make_config

START, LAST = 100, 123
INTERVALS = (1, 2, 3, 4, 6)
BASE = {
    "name": "t",
    "source": {"table": "h"},
    "columns": {"event_time": "t", "label": "y"},
    "tolerance": {"absolute": 0.02},
    "output": {"path": "/tmp/o"},
}


def config(**sections):
    return make_config(BASE, **sections)


def matrix(quality, max_age: int = 6, rows: int = 1000) -> pd.DataFrame:
    cells = [
        (t, j, quality(t, j), rows)
        for t in range(START - max_age + 1, LAST + 1)
        for j in range(max(t, START), min(t + max_age, LAST + 1))
    ]
    return pd.DataFrame(cells, columns=["train_end", "period_id", "value", "rows"])


def replayed(quality, **kw):
    cells = matrix(quality)
    settings = ReplaySettings(START, LAST, INTERVALS, (0.02,), max_age=6, **kw)
    return replay(cells, set(cells["train_end"]), settings)


def decay(within: int = 7, censored: bool = True, pattern: str = GRADUAL, **kw) -> SliceDecay:
    defaults = {
        "shelf": ShelfLife(within + 1 if not censored else 7, censored, None if censored else "absolute", within, 6),
        "pattern": pattern,
        "shape": None,
        "fresh_quality": 0.9,
        "limit": 0.02,
        "events": [],
        "explained_by_events": False,
        "seasons": {},
        "measured_ages": 6,
        "level_dependence": INDEPENDENT,
    }
    return SliceDecay(**(defaults | kw))


def arrival(cadence=1, delay=0, rows=5000.0) -> ArrivalSummary:
    return ArrivalSummary(cadence, delay, rows, delay or None)


def curve(rows_used: dict[int, float], minimum: int) -> pd.DataFrame:
    sizes = sorted(rows_used)
    return pd.DataFrame(
        {
            "slice_value": None,
            "axis": "rows",
            "train_rows_max": sizes,
            "train_rows_used": [rows_used[s] for s in sizes],
            "is_within_tolerance": [s >= minimum for s in sizes],
            "is_minimum": [s == minimum for s in sizes],
        }
    )


def windows() -> pd.DataFrame:
    """All history and one lookback that surely costs more than the tolerance."""
    return pd.DataFrame(
        [
            (None, None, True, 0.0, 0.0, 0.0, 50000.0, 0.02),
            (4, None, False, -0.05, -0.08, -0.03, 10000.0, 0.02),
        ],
        columns=[
            "lookback_periods",
            "half_life_periods",
            "is_reference",
            "mean_diff",
            "diff_ci_low",
            "diff_ci_high",
            "train_rows_used",
            "tolerance_limit",
        ],
    )


def evidence(schedule, **kw) -> Evidence:
    defaults = {
        "metric": "roc_auc",
        "decay": decay(),
        "arrival": arrival(),
        "learning_curve": curve({1000: 980.0, 4000: 3920.0, 8000: 7840.0}, 4000),
        "windows": windows(),
        "schedule": schedule,
        "summaries": summarize_intervals(schedule, True),
        "rows_per_period": 5000.0,
        "window_rows": 130_000.0,
        "replayed_periods": LAST - START + 1,
        "label_delay_used": 0,
    }
    return Evidence(**(defaults | kw))


def linear(slope: float):
    return lambda t, j: 0.9 - slope * (j - t)


def test_no_decay_recommends_the_longest_interval_surely():
    row = recommend(evidence(replayed(linear(0.0))), config())
    assert row["status"] == RECOMMENDED and row["missing_evidence"] is None
    assert row["recommended_interval_periods"] == 6 and row["recommended_policy"] == "periodic"
    assert row["expected_quality"] == pytest.approx(0.9) and row["prob_within_tolerance"] == pytest.approx(1.0)


def test_steeper_decay_recommends_a_shorter_interval():
    gentle = recommend(evidence(replayed(linear(0.004))), config())["recommended_interval_periods"]
    steep = recommend(evidence(replayed(linear(0.015))), config())["recommended_interval_periods"]
    # retraining every R periods serves ages 0..R-1 and loses slope * (R - 1) / 2 on average
    assert steep < gentle and steep == max(r for r in INTERVALS if 0.015 * (r - 1) / 2 <= 0.02) == 3


def test_the_interval_is_chosen_on_the_upper_bound_of_its_loss_not_the_point():
    """Noisy periods: every 4 periods loses 0.015 on average (within 0.02) but so unevenly that
    its upper bound is beyond the tolerance: a shorter interval is recommended."""
    shocks = [0.6, -0.6] * 100  # how much older models lose swings from period to period
    schedule = replayed(lambda t, j: 0.9 - 0.0125 * (j - t) * (1 + shocks[j - START + 10]))
    summaries = summarize_intervals(schedule, True)
    assert summaries[4].loss.mean < 0.02 < summaries[4].loss.interval(0.9)[1]
    row = recommend(evidence(schedule), config())
    assert row["recommended_interval_periods"] < 4
    assert row["expected_loss_ci_high"] <= 0.02


def test_models_never_serve_past_the_ages_surely_within_tolerance():
    schedule = replayed(linear(0.004))
    row = recommend(evidence(schedule, decay=decay(within=3, censored=False)), config())
    assert row["recommended_interval_periods"] == 3, "the replayed loss alone would allow 6"
    assert "serve past the 3 weeks surely within tolerance" in row["rationale"]
    assert recommend(evidence(schedule, decay=decay(within=7)), config())["recommended_interval_periods"] == 6


def test_the_training_size_sets_a_floor_only_when_the_window_cannot_hold_it():
    """A 40,000-row minimum at 2,000 rows a period: a retrain uses the whole lookback window (26
    periods, 52,000 rows), so nothing requires 20 periods of new data between retrains."""
    assert feasible_interval(1, 40_000, window_rows=52_000, rows_per_period=2000) == (1, "batch cadence")
    assert feasible_interval(1, 40_000, window_rows=20_000, rows_per_period=2000) == (20, "training size")
    assert feasible_interval(4, 40_000, window_rows=52_000, rows_per_period=2000) == (4, "batch cadence")
    schedule = replayed(linear(0.012))
    row = recommend(evidence(schedule, arrival=arrival(rows=2000.0), window_rows=52_000.0), config())
    assert row["min_feasible_interval_periods"] == 1 and row["recommended_interval_periods"] == 4


def test_the_label_delay_is_not_counted_again_as_a_floor():
    row = recommend(evidence(replayed(linear(0.015)), arrival=arrival(delay=4)), config())
    assert row["min_feasible_interval_periods"] == 1 and row["recommended_interval_periods"] == 3


def test_an_interval_below_the_feasible_minimum_is_raised_and_says_so():
    row = recommend(evidence(replayed(linear(0.05)), arrival=arrival(cadence=4), decay=decay(within=2)), config())
    assert row["min_feasible_interval_periods"] == 4 and row["recommended_interval_periods"] == 4
    assert row["decays_before_new_data"] and "raised" in row["rationale"]


def test_costs_pick_the_cheapest_interval_within_tolerance():
    """Cheap quality makes the longest interval cheapest, but one that loses more than the
    tolerance is never chosen for its cost."""
    cheap = dict(cost_per_retrain=1.0, cost_per_quality_unit=0.001)
    costly = dict(cost_per_retrain=1.0, cost_per_quality_unit=10_000.0)
    row = recommend(evidence(replayed(linear(0.02), **cheap)), config(schedule=cheap))
    without_costs = recommend(evidence(replayed(linear(0.02))), config())
    assert row["recommended_interval_periods"] == without_costs["recommended_interval_periods"] < 6
    assert row["expected_loss_ci_high"] <= row["tolerance_limit"]
    row = recommend(evidence(replayed(linear(0.02), **costly)), config(schedule=costly))
    assert row["recommended_interval_periods"] == 1 and row["expected_cost"] is not None


def test_every_evaluation_unusable_is_insufficient_evidence_without_nan():
    """Rare positives below limits.min_class_rows: no usable evaluation, so no interval is stated."""
    schedule = replayed(lambda t, j: np.nan)
    empty = decay(within=0, fresh_quality=np.nan, measured_ages=0)
    row = recommend(evidence(schedule, decay=empty), config())
    assert row["status"] == INSUFFICIENT_EVIDENCE and row["recommended_interval_periods"] is None
    assert "limits.min_class_rows" in row["missing_evidence"] and "coarser period.unit" in row["missing_evidence"]
    assert "nan" not in row["rationale"].lower()


def test_too_few_measured_ages_is_insufficient_evidence():
    row = recommend(evidence(replayed(linear(0.0)), decay=decay(measured_ages=0)), config())
    assert row["status"] == INSUFFICIENT_EVIDENCE and "tolerance.min_origins" in row["missing_evidence"]


def test_the_rationale_quotes_the_numbers():
    row = recommend(evidence(replayed(linear(0.004))), config())
    text = row["rationale"]
    assert f"Retrain every {row['recommended_interval_periods']} weeks" in text
    assert f"{row['expected_quality']:.3f}" in text and f"{row['quality_every_period']:.3f}" in text
    assert f"probability {row['prob_within_tolerance']:.2f}" in text
    assert "every shorter lookback costs more than the tolerance" in text and "3920 rows" in text


def test_a_change_on_one_date_is_named_with_what_it_means_for_the_cadence():
    event = CalendarEvent(START + 5, 0.06, 0.05, 8, True, 3)
    abrupt = decay(pattern=ABRUPT, events=[event], explained_by_events=True)
    row = recommend(evidence(replayed(linear(0.0)), decay=abrupt), config())
    assert row["decay_pattern"] == ABRUPT and row["event_period_id"] == START + 5
    text = row["rationale"]
    assert "1972-01-10" in text  # the Monday of week 105
    assert "a one-off change calls for a retrain on data from after" in text and "3 weeks later" in text


def test_a_change_over_two_weeks_is_dated_once_and_an_unsure_recovery_claims_nothing():
    event = CalendarEvent(START + 5, 0.12, 0.1, 8, False, 8, n_periods=2)
    row = recommend(evidence(replayed(linear(0.0)), decay=decay(pattern=ABRUPT, events=[event])), config())
    text = row["rationale"]
    assert "Over the 2 weeks from 1972-01-10 every model lost 0.120" in text
    assert "does not undo" not in text and "did not surely beat the last one trained before it" in text


def test_only_seasons_measured_on_enough_origins_get_a_cadence_note():
    thin, short = ShelfLife(7, True, None, 0, 6), ShelfLife(7, True, None, 3, 6)
    row = recommend(evidence(replayed(linear(0.0)), decay=decay(seasons={"Q1": thin, "Q3": short})), config())
    assert "(Q3 3 weeks, against 7 weeks overall): retrain more often then" in row["rationale"]
    assert "Q1" not in row["rationale"]


def test_notes_reach_the_rationale():
    note = "Only 3 of the 24 weeks asked for were replayed: earlier fits would lack a full lookback."
    row = recommend(evidence(replayed(linear(0.0)), notes=[note]), config())
    assert row["notes"] == [note] and row["rationale"].endswith(note)


def test_a_drift_trigger_is_recommended_when_it_beats_the_calendar():
    """A concept change at one period: drift shows at once, labels take 2 periods. Watching drift
    loses one period and retrains least; the calendar needs short intervals to lose as little."""
    change = START + 7
    quality = lambda t, j: 0.85 if t < change <= j else 0.9  # noqa: E731
    cells = matrix(quality)
    drift = {
        (t, j): 1.0 if t < change <= j else 0.0 for t, j in zip(cells["train_end"], cells["period_id"], strict=True)
    }
    settings = ReplaySettings(
        START, LAST, INTERVALS, (0.02,), drift_triggers=[("js_distance:x", 0.5)], max_age=6, label_delay=2
    )
    schedule = replay(cells, set(cells["train_end"]), settings, {"js_distance:x": drift})
    row = recommend(evidence(schedule, decay=decay(pattern=STABLE)), config())
    assert row["recommended_policy"] == "drift"
    assert row["recommended_drift_signal"] == "js_distance:x" and row["recommended_drift_threshold"] == 0.5
    assert "js_distance:x" in row["rationale"] and "needs no labels" in row["rationale"]


def test_an_estimated_quality_trigger_is_recommended_when_it_beats_the_calendar_and_the_labels():
    """A covariate shift at one period that the estimate sees at once, while labels take 2
    periods: the estimate trigger loses one period and retrains least."""
    change = START + 7
    quality = lambda t, j: 0.85 if t < change <= j else 0.9  # noqa: E731
    cells = matrix(quality).assign(estimate=lambda m: m["value"] - 0.01)
    settings = ReplaySettings(START, LAST, INTERVALS, (0.02,), estimate_drops=(0.02,), max_age=6, label_delay=2)
    schedule = replay(cells, set(cells["train_end"]), settings)
    row = recommend(evidence(schedule, decay=decay(pattern=STABLE)), config())
    assert row["recommended_policy"] == "estimate" and row["recommended_trigger_drop"] == 0.02
    assert "without labels" in row["rationale"] and "not a change in what they mean" in row["rationale"]
    blind = replay(cells.assign(estimate=0.89), set(cells["train_end"]), settings)
    assert recommend(evidence(blind, decay=decay(pattern=STABLE)), config())["recommended_policy"] != "estimate"


def test_the_interval_is_chosen_on_the_replay_with_the_recommended_window():
    """The lookback verdict says drop data older than 4 periods; trained that way the models age
    faster. The interval, its loss and the quoted quality all come from that joint replay, never
    from the study's own window, which would allow every interval."""
    shorter_is_better = windows().assign(mean_diff=[0.0, 0.05], diff_ci_low=[0.0, 0.03], diff_ci_high=[0.0, 0.08])
    study, joint = replayed(linear(0.001)), replayed(linear(0.02))
    own = recommend(evidence(study), config())
    row = recommend(
        evidence(
            study,
            windows=shorter_is_better,
            joint=JointReplay(TrainingWindow(4), joint, summarize_intervals(joint, True)),
        ),
        config(),
    )
    assert own["recommended_interval_periods"] == 6
    assert row["lookback_verdict"] == "drop_older" and row["replayed_lookback_periods"] == 4
    assert row["recommended_interval_periods"] < 6 and row["expected_loss_ci_high"] <= row["tolerance_limit"]
    every = next(r for r in joint if r.policy.kind == "periodic" and r.policy.interval == 1)
    assert row["quality_every_period"] == every.mean_quality
