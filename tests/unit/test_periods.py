import datetime as dt

import pytest

from retrain_advisor.foundation.periods import period_id_of, period_start, period_window


@pytest.mark.parametrize("unit", ["day", "week", "month"])
def test_ids_are_consecutive_and_round_trip(unit):
    day = dt.date(2023, 12, 30)
    first = period_id_of(unit, day)
    for offset in range(40):
        start = period_start(unit, first + offset)
        assert period_id_of(unit, start) == first + offset
        assert period_id_of(unit, start - dt.timedelta(days=1)) == first + offset - 1


def test_weeks_start_on_monday():
    assert period_start("week", period_id_of("week", dt.date(2024, 3, 7))) == dt.date(2024, 3, 4)
    assert period_id_of("week", dt.date(2024, 3, 10)) == period_id_of("week", dt.date(2024, 3, 4))


def test_months():
    assert period_start("month", period_id_of("month", dt.date(2024, 2, 29))) == dt.date(2024, 2, 1)
    assert period_id_of("month", dt.date(2025, 1, 1)) - period_id_of("month", dt.date(2024, 12, 31)) == 1


def test_window_is_cut_in_the_period_zone():
    week = period_id_of("week", dt.date(2024, 3, 4))
    start, end = period_window("week", week, week + 1, "America/New_York")
    assert start == dt.datetime(2024, 3, 4, 5, tzinfo=dt.timezone.utc)  # EST, UTC-5
    assert end == dt.datetime(2024, 3, 11, 4, tzinfo=dt.timezone.utc)  # EDT after the DST switch
