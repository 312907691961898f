"""Before any fit: periods too small for a usable evaluation stop the run with what would help."""

import pytest

from retrain_advisor.foundation.config import LimitsConfig
from retrain_advisor.foundation.errors import PlanError
from retrain_advisor.planning.volumes import check_evaluable, evaluable_periods

LIMITS = LimitsConfig(min_eval_rows=100, min_class_rows=10, max_eval_rows=1000)


def test_a_small_monthly_regression_history_stops_before_training():
    """About 30 rows a month against limits.min_eval_rows = 100: every evaluation would be too
    small, so training 200 models would end in nothing."""
    rows = {p: 30 for p in range(200)}
    with pytest.raises(PlanError) as raised:
        check_evaluable(rows, {}, [], LIMITS, needed=4, unit="month")
    message = str(raised.value)
    assert "only 0 of 200 months" in message and "a median of 30 labelled rows" in message
    assert "limits.min_eval_rows=100" in message and "more history" in message


def test_rare_positives_suggest_a_coarser_period():
    rows = {p: 5000 for p in range(40)}
    counts = {p: {"0": 4996, "1": 4} for p in range(40)}
    with pytest.raises(PlanError) as raised:
        check_evaluable(rows, counts, ["0", "1"], LIMITS, needed=4, unit="week")
    message = str(raised.value)
    assert "4 of its rarest class" in message and "period.unit: month" in message
    assert "limits.min_class_rows=10" in message


def test_sampling_to_the_evaluation_cap_counts():
    """5,000 rows with 60 positives, sampled to 1,000: about 12 positives are scored."""
    rows, counts = {1: 5000}, {1: {"0": 4940, "1": 60}}
    assert evaluable_periods(rows, counts, ["0", "1"], LIMITS) == [1]
    assert evaluable_periods(rows, {1: {"0": 4960, "1": 40}}, ["0", "1"], LIMITS) == []


def test_enough_usable_periods_pass():
    rows = {p: (150 if p % 2 else 50) for p in range(20)}
    check_evaluable(rows, {}, [], LIMITS, needed=4, unit="week")
    assert len(evaluable_periods(rows, {}, [], LIMITS)) == 10
