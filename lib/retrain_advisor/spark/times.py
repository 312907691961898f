"""Time columns as sources hold them: instants, local times, dates, text, and numbers since 1970.

Every kind becomes either an instant (a Spark timestamp, converted to `period.timezone` to cut
periods) or a local time (a timestamp without zone or a date, taken as already local).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import ColumnsConfig, EpochUnit
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.spark.columns import NUMERIC_TYPES, quoted

MICROS_PER_UNIT: dict[EpochUnit, float] = {
    "seconds": 1e6,
    "milliseconds": 1e3,
    "microseconds": 1.0,
    "nanoseconds": 1e-3,  # below a microsecond is dropped: Spark's timestamps stop there
}
# The values of times from 1973 to 2286 in each unit. The ranges do not overlap, so a column of
# such times says its own unit.
EPOCH_MAGNITUDES: dict[EpochUnit, tuple[float, float]] = {
    "seconds": (1e8, 1e10),
    "milliseconds": (1e11, 1e13),
    "microseconds": (1e14, 1e16),
    "nanoseconds": (1e17, 1e19),
}


@dataclass(frozen=True)
class TimeColumn:
    """A source column read as a time."""

    value: Column  # a timestamp (an instant) or, when `is_local`, a local timestamp or date
    is_local: bool
    unparseable: Column  # given but not readable as a time
    reading: str  # how it was read, for the log

    def local_date(self, zone: str) -> Column:
        """The date in `zone` on which the time falls."""
        if self.is_local:
            return F.to_date(self.value)
        return F.to_date(F.convert_timezone(None, F.lit(zone), self.value))

    def instant(self) -> Column:
        return self.value.cast("timestamp")


def time_column(df: DataFrame, name: str, columns: ColumnsConfig) -> TimeColumn:
    """Read column `name` as a time, whatever the source holds."""
    kind = df.schema[name].dataType
    raw = quoted(name)
    given = raw.isNotNull()
    if isinstance(kind, T.TimestampType):
        return TimeColumn(raw, False, F.lit(False), "timestamp")
    if isinstance(kind, (T.TimestampNTZType, T.DateType)):
        return TimeColumn(raw, True, F.lit(False), f"{kind.simpleString()}, local to period.timezone")
    if isinstance(kind, T.StringType):
        fmt = columns.event_time_format
        parsed = F.try_to_timestamp(raw, F.lit(fmt)) if fmt else F.try_to_timestamp(raw)
        return TimeColumn(parsed, False, given & parsed.isNull(), f"text, pattern {fmt or 'ISO 8601'}")
    if isinstance(kind, NUMERIC_TYPES) and not isinstance(kind, T.DecimalType):
        unit = columns.event_time_unit or _epoch_unit(df, name)
        micros = F.floor(raw.cast("double") * F.lit(MICROS_PER_UNIT[unit])).cast("long")
        return TimeColumn(F.timestamp_micros(micros), False, F.lit(False), f"{unit} since 1970-01-01 UTC")
    raise SourceError(
        f"column {name!r} has type {kind.simpleString()}; a time must be a timestamp, a date, text holding "
        "one (e.g. 2024-03-01T12:00:00Z, or set columns.event_time_format) or a number of seconds, "
        "milliseconds, microseconds or nanoseconds since 1970 (columns.event_time_unit)"
    )


def _epoch_unit(df: DataFrame, name: str) -> EpochUnit:
    """The unit whose range of plausible times holds every value of the column (one small job)."""
    bounds = df.agg(F.min(quoted(name)).alias("low"), F.max(quoted(name)).alias("high")).first()
    assert bounds is not None
    low, high = bounds["low"], bounds["high"]
    if low is None:
        return "seconds"  # no value: every row is counted as a missing time
    for unit, (smallest, largest) in EPOCH_MAGNITUDES.items():
        if smallest <= low and high < largest:
            return unit
    raise SourceError(
        f"column {name!r} holds numbers from {low} to {high}, which are not times since 1970 in any one unit; "
        "set columns.event_time_unit (seconds, milliseconds, microseconds or nanoseconds), or derive a "
        "timestamp in a source.query"
    )
