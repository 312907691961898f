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
from retrain_advisor.spark.columns import INTEGER_TYPES, NUMERIC_TYPES, quoted, sql_name

# The values of times from 1973 to 2286 in each unit. The ranges do not overlap, so a column of
# such times says its own unit, and a value outside its unit's range is not a time.
EPOCH_MAGNITUDES: dict[EpochUnit, tuple[float, float]] = {
    "seconds": (1e8, 1e10),
    "milliseconds": (1e11, 1e13),
    "microseconds": (1e14, 1e16),
    "nanoseconds": (1e17, 1e19),  # beyond a long's range, so compared as doubles
}
MICROS_PER_UNIT: dict[EpochUnit, float] = {
    "seconds": 1e6,
    "milliseconds": 1e3,
    "microseconds": 1.0,
    "nanoseconds": 1e-3,  # below a microsecond is dropped: Spark's timestamps stop there
}


@dataclass(frozen=True)
class TimeColumn:
    """A source column read as a time."""

    value: Column  # a timestamp (an instant) or, when `is_local`, a local timestamp or date
    is_local: bool
    missing: Column  # no time given (null, or NaN in a number column)
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
    missing = raw.isNull()
    if isinstance(kind, T.TimestampType):
        return TimeColumn(raw, False, missing, F.lit(False), "timestamp")
    if isinstance(kind, (T.TimestampNTZType, T.DateType)):
        return TimeColumn(raw, True, missing, F.lit(False), f"{kind.simpleString()}, local to period.timezone")
    if isinstance(kind, T.StringType):
        fmt = columns.event_time_format
        if fmt:
            _check_pattern(df, fmt)
        parsed = F.try_to_timestamp(raw, F.lit(fmt)) if fmt else F.try_to_timestamp(raw)
        return TimeColumn(
            parsed, False, missing, raw.isNotNull() & parsed.isNull(), f"text, pattern {fmt or 'ISO 8601'}"
        )
    if isinstance(kind, NUMERIC_TYPES):
        return _epoch_time(df, name, kind, columns.event_time_unit)
    raise SourceError(
        f"column {name!r} has type {kind.simpleString()}; a time must be a timestamp, a date, text holding "
        "one (e.g. 2024-03-01T12:00:00Z, or set columns.event_time_format) or a number of seconds, "
        "milliseconds, microseconds or nanoseconds since 1970 (columns.event_time_unit)"
    )


def _epoch_time(df: DataFrame, name: str, kind: T.DataType, configured: EpochUnit | None) -> TimeColumn:
    """A number since 1970 as an instant; NaN is a missing time, and a number outside the unit's
    range of plausible times (or infinite) is given but unreadable, not a time in 1970 or 4000."""
    raw = quoted(name)
    number = raw if isinstance(kind, INTEGER_TYPES) else raw.cast("double")
    missing = raw.isNull() if isinstance(kind, INTEGER_TYPES) else raw.isNull() | F.isnan(number)
    unit = configured or _epoch_unit(df, number, missing, name)
    low, high = EPOCH_MAGNITUDES[unit]
    plausible = (number >= F.lit(low)) & (number < F.lit(high))
    if isinstance(kind, INTEGER_TYPES):  # exact: a double cannot hold nanoseconds
        micros = (
            F.expr(f"{sql_name(name)} div 1000") if unit == "nanoseconds" else raw * F.lit(int(MICROS_PER_UNIT[unit]))
        )
    else:
        micros = F.floor(number * F.lit(MICROS_PER_UNIT[unit]))
    value = F.when(plausible, F.timestamp_micros(micros.cast("long")))
    return TimeColumn(value, False, missing, ~missing & ~plausible, f"{unit} since 1970-01-01 UTC")


def _epoch_unit(df: DataFrame, number: Column, missing: Column, name: str) -> EpochUnit:
    """The unit whose range of plausible times holds every finite value of the column (one small job)."""
    finite = F.when(~missing & (F.abs(number) != F.lit(float("inf"))), number)
    bounds = df.agg(F.min(finite).alias("low"), F.max(finite).alias("high")).first()
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


def _check_pattern(df: DataFrame, pattern: str) -> None:
    """Spark refuses some patterns only when it parses; try it once on one value."""
    try:
        df.sparkSession.range(1).select(F.try_to_timestamp(F.lit("2024-03-01"), F.lit(pattern))).collect()
    except Exception as error:  # SparkUpgradeException, INVALID_DATETIME_PATTERN, ...
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SourceError(
            f"columns.event_time_format {pattern!r} is not a pattern Spark can use ({first}); write it with "
            "Spark's datetime letters, e.g. dd/MM/yyyy HH:mm (yyyy for the year, MM the month, dd the day)"
        ) from None
