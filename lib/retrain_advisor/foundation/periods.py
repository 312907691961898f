"""Period arithmetic: every row belongs to one period, identified by an integer `period_id`.

Ids are absolute (days since 1970-01-01, weeks since Monday 1970-01-05, months since January
1970), so the same period has the same id in every run, and consecutive periods differ by 1.
Periods are cut on the wall-clock date in the configured time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from retrain_advisor.foundation.config import PeriodUnit

EPOCH_DAY = dt.date(1970, 1, 1)
EPOCH_MONDAY = dt.date(1970, 1, 5)
MICROS_PER_DAY = 86_400 * 10**6

GRANULARITY: dict[str, str] = {"day": "1 day", "week": "1 week", "month": "1 month"}


def period_id_of(unit: PeriodUnit, day: dt.date) -> int:
    """The id of the period holding a local calendar date."""
    if unit == "day":
        return (day - EPOCH_DAY).days
    if unit == "week":
        return (day - EPOCH_MONDAY).days // 7
    return day.year * 12 + day.month - 1 - 1970 * 12


def period_start(unit: PeriodUnit, period_id: int) -> dt.date:
    """The first local calendar date of a period."""
    if unit == "day":
        return EPOCH_DAY + dt.timedelta(days=period_id)
    if unit == "week":
        return EPOCH_MONDAY + dt.timedelta(weeks=period_id)
    year, month0 = divmod(period_id + 1970 * 12, 12)
    return dt.date(year, month0 + 1, 1)


def period_window(unit: PeriodUnit, first_id: int, end_id: int, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The half-open instant range [start, end) covering periods first_id .. end_id - 1, in UTC."""
    zone = ZoneInfo(timezone)

    def instant(period_id: int) -> dt.datetime:
        local = dt.datetime.combine(period_start(unit, period_id), dt.time(), tzinfo=zone)
        return local.astimezone(dt.timezone.utc)

    return instant(first_id), instant(end_id)
