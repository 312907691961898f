"""Read the labelled history, validate it, and give every row its period.

The source is only ever read. How files are opened is in `reading`, time columns in `times`,
features in `columns` and the label in `labels`. Two passes read it: one counts what validation
needs, the other (`period_counts`) everything per period: the label's values, the profile and
the arrival counts. This module returns the usable rows with those counts.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import PeriodUnit, StudyConfig, Task
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import EPOCH_DAY, EPOCH_MONDAY, MICROS_PER_DAY, period_start
from retrain_advisor.foundation.vocabulary import (
    DELAY_DAYS,
    LABEL_TIME,
    MAX_CLASSES,
    PERIOD,
    RESERVED_PREFIX,
    ROW_HASH,
    SLICE,
    TARGET,
)
from retrain_advisor.spark.columns import NUMERIC_TYPES, Features, candidate_features, quoted
from retrain_advisor.spark.labels import Label, label_of
from retrain_advisor.spark.period_counts import ClassOf, CountingPass, PeriodCounts, value_sample
from retrain_advisor.spark.reading import read_source
from retrain_advisor.spark.times import TimeColumn, time_column

log = logging.getLogger(__name__)

MISSING_SLICE = "(missing)"
# Fewer times than this share of the given ones readable: the pattern is wrong, not a few rows.
MIN_PARSED_SHARE = 0.5
UNPARSED_EXAMPLES = 3


@dataclass(frozen=True)
class SourceReport:
    """What was read and what was left out, for the runs table and the logs."""

    name: str
    delta_version: int | None
    total_rows: int
    null_event_time: int
    unparseable_event_time: int
    null_label: int
    used_rows: int
    left_out_columns: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "null_event_time": self.null_event_time,
            "unparseable_event_time": self.unparseable_event_time,
            "null_label": self.null_label,
            "used_rows": self.used_rows,
        }


@dataclass(frozen=True)
class PreparedSource:
    """Valid rows with the internal columns (period, row hash, target) and the features, plus their profile."""

    rows: DataFrame
    task: Task
    numeric: list[str]
    categorical: list[str]
    classes: list[str]
    positive_label: str | None
    # period_id, slice_value (None: all rows), rows, class_counts (classification), fingerprint
    # (all rows)
    periods: pd.DataFrame
    report: SourceReport
    # per period (and slice): rows, labelled_rows, target_average, label delay quantiles, class_counts
    arrival: pd.DataFrame
    # a row-hash sample of each numeric feature's labelled values (and a numeric label's, as TARGET),
    # NaN where missing
    value_samples: dict[str, np.ndarray]
    slice_key: str | None = None
    # the usable rows of periods first..last, read through a filter on the raw time column
    # (`_time_range`); None when that column cannot be filtered so
    rows_between: Callable[[int, int], DataFrame] | None = None

    def rows_in(self, periods: Iterable[int]) -> DataFrame:
        """The usable rows, with the files that cannot hold any row of `periods` left unread when
        the source's time column allows (Delta and Parquet compare the filter with each file's
        minimum and maximum); the caller still picks its periods' rows."""
        wanted = list(periods)
        if self.rows_between is None or not wanted:
            return self.rows
        return self.rows_between(min(wanted), max(wanted))

    @cached_property
    def _rows_by_period(self) -> dict[int, int]:
        overall = self.periods[self.periods["slice_value"].isna()]
        return {int(p): int(n) for p, n in zip(overall["period_id"], overall["rows"], strict=True)}

    def labelled_rows(self, period_id: int) -> int:
        return self._rows_by_period.get(period_id, 0)

    @property
    def period_ids(self) -> list[int]:
        return sorted(self._rows_by_period)

    @property
    def fingerprints(self) -> dict[int, str]:
        """Each period's fingerprint: equal when the period's usable rows are (see `_fingerprint_hash`)."""
        overall = self.periods[self.periods["slice_value"].isna()]
        return {int(p): str(f) for p, f in zip(overall["period_id"], overall["fingerprint"], strict=True)}

    def class_counts(self, period_id: int) -> dict[str, int]:
        """Labelled rows of each class in a period (classification; empty for regression)."""
        overall = self.periods[self.periods["slice_value"].isna() & (self.periods["period_id"] == period_id)]
        found = overall["class_counts"].iloc[0] if len(overall) else None
        return dict(found) if isinstance(found, dict) else {}


@dataclass(frozen=True)
class _TimedRows:
    """The source's label and feature columns with each row's period and its time and label flags."""

    frame: DataFrame
    missing_label: Column
    event_time: TimeColumn
    label_time: TimeColumn | None


def prepare_source(spark: SparkSession, config: StudyConfig) -> PreparedSource:
    """Validate the source against the config and return its usable rows and profile."""
    raw, version = read_source(spark, config)
    _check_named_columns(raw, config)
    candidates = candidate_features(raw, config)
    timed = _timed_rows(raw, config, candidates)
    totals = _count_rows(timed, config, candidates)
    features = candidates.settled(totals, config)
    _check_times_parsed(timed, totals, config)
    label_type = raw.schema[config.columns.label].dataType
    counts = _count_periods(timed, features, label_type, totals, config)
    label = _label(label_type, counts, totals, config)
    rows = _usable_rows(timed, config, features, label)
    class_of = _class_of(label)
    time_range = _time_range(raw, config)

    def rows_between(first: int, last: int) -> DataFrame:
        assert time_range is not None
        return _usable_rows(_timed_rows(raw.where(time_range(first, last)), config, features), config, features, label)

    report = SourceReport(
        name=config.source.describe(),
        delta_version=version,
        total_rows=int(totals["total"]),
        null_event_time=int(totals["null_time"]),
        unparseable_event_time=int(totals["bad_time"]),
        null_label=int(totals["null_label"]),
        used_rows=int(totals["used"]),
        left_out_columns=features.left_out,
    )
    _log_source(report, config, features, label)
    return PreparedSource(
        rows,
        label.task,
        features.numeric,
        features.categorical,
        label.classes,
        None if label.positive is None else str(label.positive),
        counts.profile(class_of, config),
        report,
        counts.arrival(label.task, class_of),
        counts.value_samples,
        config.slice.key,
        rows_between if time_range is not None else None,
    )


def _require_columns(df: DataFrame, names: list[str]) -> None:
    available = df.columns
    for name in names:
        if name not in available:
            near = difflib.get_close_matches(name, available, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; the source has: {', '.join(available)}"
            raise SourceError(f"column {name!r} named in the config is not in the source{hint}")


def _check_named_columns(raw: DataFrame, config: StudyConfig) -> None:
    """Every column the config names exists, and the slice expression is valid on the source."""
    cols = config.columns
    named = [cols.event_time, cols.label, cols.label_time, config.slice.column, *(cols.features or [])]
    _require_columns(raw, [c for c in named if c])
    if cols.label.startswith(RESERVED_PREFIX):  # the label travels under its own name beside them
        raise SourceError(
            f"label column {cols.label!r} starts with {RESERVED_PREFIX!r}, which is reserved for internal columns; "
            "rename it in a source.query"
        )
    if config.slice.expression:
        try:
            raw.select(F.expr(config.slice.expression)).schema  # noqa: B018 (analysis is the check)
        except (AnalysisException, ParseException) as error:
            raise SourceError(
                f"slice.expression {config.slice.expression!r} is not valid on the source: {error.getMessage()}"
            ) from None


def _timed_rows(raw: DataFrame, config: StudyConfig, features: Features) -> _TimedRows:
    """The label and features with each row's period, its time flags, slice and label delay."""
    cols = config.columns
    event_time = time_column(raw, cols.event_time, cols)
    extra = [_slice_column(config).alias(SLICE)] if config.slice.key else []
    label_time = None
    if cols.label_time:
        label_time = time_column(raw, cols.label_time, cols)
        delay = F.unix_micros(label_time.instant()) - F.unix_micros(event_time.instant())
        extra += [
            (delay / MICROS_PER_DAY).alias(DELAY_DAYS),
            label_time.instant().alias(LABEL_TIME),
            (~label_time.missing).alias("__given_label_time"),
            label_time.unparseable.alias("__bad_label_time"),
            quoted(cols.label_time).cast("string").alias("__bad_label_time_text"),
        ]
    frame = raw.select(
        *[quoted(c) for c in [cols.label, *features.numeric, *features.categorical]],
        period_id_column(config.period.unit, event_time.local_date(config.period.timezone)).alias(PERIOD),
        event_time.missing.alias("__null_time"),
        event_time.unparseable.alias("__bad_time"),
        quoted(cols.event_time).cast("string").alias("__bad_time_text"),
        *extra,
    )
    missing_label = quoted(cols.label).isNull()
    if isinstance(raw.schema[cols.label].dataType, (T.FloatType, T.DoubleType)):
        missing_label = missing_label | F.isnan(quoted(cols.label))
    return _TimedRows(frame, missing_label, event_time, label_time)


def _count_rows(timed: _TimedRows, config: StudyConfig, features: Features) -> Row:
    """One pass: total, unusable and used rows, distinct labels, and what settles the features;
    stops on a source with nothing to use."""
    cols, missing_label = config.columns, timed.missing_label
    totals = timed.frame.agg(
        F.count(F.lit(1)).alias("total"),
        F.count_if("__null_time").alias("null_time"),
        F.count_if("__bad_time").alias("bad_time"),
        F.count_if(missing_label).alias("null_label"),
        F.count_if(F.col(PERIOD).isNotNull() & ~missing_label).alias("used"),
        F.approx_count_distinct(quoted(cols.label)).alias("distinct_labels"),
        *([F.count_if("__given_label_time").alias("given_label_time")] if cols.label_time else []),
        *([F.count_if("__bad_label_time").alias("bad_label_time")] if cols.label_time else []),
        *features.checks(),
    ).first()
    assert totals is not None
    if totals["total"] == 0:
        raise SourceError(f"source {config.source.describe()} is empty")
    if totals["used"] == 0 and totals["bad_time"] == 0:
        raise SourceError(
            f"no row of source {config.source.describe()} has both a valid {cols.event_time!r} and a "
            f"non-null {cols.label!r} ({totals['null_time']} null times, {totals['null_label']} null labels)"
        )
    return totals


def _check_times_parsed(timed: _TimedRows, totals: Row, config: StudyConfig) -> None:
    """Say how many given times were read; stop when most were not (a wrong pattern or unit)."""
    cols = config.columns
    given = int(totals["total"]) - int(totals["null_time"])
    bad = int(totals["bad_time"])
    _check_parsed(timed.frame, cols.event_time, timed.event_time, given, bad, "__bad_time", "are left out")
    if not totals["used"]:
        raise SourceError(
            f"no row of source {config.source.describe()} has both a valid {cols.event_time!r} and a "
            f"non-null {cols.label!r}"
        )
    if timed.label_time is not None and cols.label_time:
        given, bad = int(totals["given_label_time"]), int(totals["bad_label_time"])
        outcome = "count as known when their row happened, like a null label time"
        _check_parsed(timed.frame, cols.label_time, timed.label_time, given, bad, "__bad_label_time", outcome)


def _check_parsed(
    frame: DataFrame, name: str, time: TimeColumn, given: int, unparsed: int, flag: str, outcome: str
) -> None:
    """Stop when fewer than half the given values of a time column were read; else warn, with examples."""
    if not unparsed:
        return
    examples = [r[0] for r in frame.where(flag).select(f"{flag}_text").distinct().limit(UNPARSED_EXAMPLES).collect()]
    read = f"{given - unparsed} of {given} given times in {name!r} were read ({time.reading})"
    if given - unparsed < MIN_PARSED_SHARE * given:
        raise SourceError(
            f"{read}; the others look like {examples}. Set columns.event_time_format to their Spark datetime "
            "pattern (e.g. dd/MM/yyyy HH:mm) or columns.event_time_unit for numbers, or derive a timestamp in a "
            "source.query"
        )
    log.warning("%s; the %d others %s, e.g. %s", read, unparsed, outcome, examples)


def _valid(timed: _TimedRows) -> DataFrame:
    return timed.frame.where(F.col(PERIOD).isNotNull() & ~timed.missing_label)


def _count_periods(
    timed: _TimedRows, features: Features, label_type: T.DataType, totals: Row, config: StudyConfig
) -> PeriodCounts:
    """The one pass that counts rows, labels and label delays per period and samples the numeric
    values (`period_counts`): the regression label's under TARGET. The
    approximate distinct count only decides whether grouping by the label's value is cheap; the
    task is inferred from the exact values (approx_count_distinct may be off by a few percent)."""
    cols = config.columns
    label = quoted(cols.label)
    label_number = label.cast("double") if isinstance(label_type, NUMERIC_TYPES) else None
    # the row hash is a column of its own, so the fingerprint and the sample's pick share it
    frame = timed.frame.select("*", _row_hash(cols.label, features).alias(ROW_HASH))
    row_hash = F.col(ROW_HASH)
    sampled = features.numbers(timed.frame) | ({TARGET: label_number} if label_number is not None else {})
    return CountingPass(
        frame,
        ~timed.missing_label,
        label,
        label_number,
        _fingerprint_hash(row_hash, config),
        value_sample(row_hash, int(totals["used"]), sampled),
        by_label=totals["distinct_labels"] <= 2 * MAX_CLASSES,
        sliced=config.slice.key is not None,
    ).count()


def _label(label_type: T.DataType, counts: PeriodCounts, totals: Row, config: StudyConfig) -> Label:
    """The task (configured or inferred from the label's values) and the target column."""
    values = counts.label_values()
    distinct = len(values) if values is not None else totals["distinct_labels"]
    return label_of(label_type, values, distinct, config)


def _class_of(label: Label) -> ClassOf | None:
    """The class a label value counts as, as the target column names it (None: regression)."""
    if label.task == "binary":
        return lambda value, _text: "1" if value == label.positive else "0"
    if label.task == "multiclass":
        return lambda _value, text: text
    return None


def _usable_rows(timed: _TimedRows, config: StudyConfig, features: Features, label: Label) -> DataFrame:
    """Rows with a period and a label: the internal columns, then the cleaned features."""
    cols = config.columns
    return _valid(timed).select(
        F.col(PERIOD),
        _row_hash(cols.label, features).alias(ROW_HASH),
        label.target.alias(TARGET),
        *features.cleaned(timed.frame),
        *([F.col(SLICE)] if config.slice.key else []),
        *([F.col(LABEL_TIME)] if cols.label_time else []),
    )


def _log_source(report: SourceReport, config: StudyConfig, features: Features, label: Label) -> None:
    cols = config.columns
    log.info(
        "source %s (delta version %s): %d rows, %d used; %d null and %d unparseable %s, %d null %s; "
        "task %s; %d numeric and %d categorical features",
        report.name,
        report.delta_version,
        report.total_rows,
        report.used_rows,
        report.null_event_time,
        report.unparseable_event_time,
        cols.event_time,
        report.null_label,
        cols.label,
        label.task,
        len(features.numeric),
        len(features.categorical),
    )
    if label.positive is not None:
        log.info("positive class of %r: %r (set positive_label to choose another)", cols.label, label.positive)
    if features.numeric_text:
        log.info("text columns holding only numbers, read as numbers: %s", features.numeric_text)
    if features.left_out:
        log.info(
            "left out of the features (list a column in columns.features to use it): %s",
            "; ".join(f"{name!r}: {why}" for name, why in features.left_out.items()),
        )


def _row_hash(label: str, features: Features) -> Column:
    """A hash of the row's content: its label, features and period. The fingerprints and the
    seeded samples both start from it. xxhash64 skips nulls, so which columns are null is hashed too."""
    names = [label, *features.numeric, *features.categorical]
    null_pattern = F.concat(*[F.when(quoted(c).isNull(), F.lit("1")).otherwise(F.lit("0")) for c in names])
    return F.xxhash64(*[quoted(c) for c in names], F.col(PERIOD), null_pattern)


# Kinds of time column a filter can compare with file statistics as they are, without reading
# them first (text needs parsing; numbers since 1970 a unit found by a pass of their own).
FILTERABLE_TIMES = (T.TimestampType, T.TimestampNTZType, T.DateType)
# Days added on either side of a time filter's range: more than any time zone's offset, so the
# filter keeps every row of the periods asked for whichever zone cuts them.
TIME_FILTER_MARGIN = dt.timedelta(days=2)


def _time_range(raw: DataFrame, config: StudyConfig) -> Callable[[int, int], Column] | None:
    """A filter on the raw event time keeping every row of periods first..last (and a margin),
    which the reader can test against each file's minimum and maximum; None when the event time
    is not a timestamp or date, or the label time would be read again at a cost."""
    cols, types = config.columns, {f.name: f.dataType for f in raw.schema.fields}
    if not isinstance(types[cols.event_time], FILTERABLE_TIMES):
        return None
    if cols.label_time and not isinstance(types[cols.label_time], (*FILTERABLE_TIMES, T.StringType)):
        return None  # a number since 1970: its unit would be found again by a pass
    kind, unit = types[cols.event_time], config.period.unit

    def bound(day: dt.date) -> Column:
        if isinstance(kind, T.DateType):
            return F.lit(day.isoformat()).cast("date")
        if isinstance(kind, T.TimestampNTZType):
            return F.lit(day.isoformat()).cast("timestamp_ntz")
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        return F.timestamp_micros(F.lit(int(midnight.timestamp()) * 1_000_000))

    def within(first: int, last: int) -> Column:
        start = period_start(unit, first) - TIME_FILTER_MARGIN
        end = period_start(unit, last + 1) + TIME_FILTER_MARGIN
        time = quoted(cols.event_time)
        return (time >= bound(start)) & (time < bound(end))

    return within


def _slice_column(config: StudyConfig) -> Column:
    """The slice of each row as text; a missing value is a slice of its own."""
    value = quoted(config.slice.column) if config.slice.column else F.expr(config.slice.expression or "")
    return F.coalesce(value.cast("string"), F.lit(MISSING_SLICE))


def _fingerprint_hash(row_hash: Column, config: StudyConfig) -> Column:
    """A hash of everything a fit or an evaluation reads from a usable row: its content and
    period (the row hash), when its label arrived and its slice."""
    return F.xxhash64(
        row_hash,
        *([F.col(LABEL_TIME)] if config.columns.label_time else []),
        *([F.col(SLICE)] if config.slice.key else []),
    )


def period_id_column(unit: PeriodUnit, local_date: Column) -> Column:
    """Spark expression: the period id of a local date column (same rule as `period_id_of`)."""
    if unit == "day":
        return F.datediff(local_date, F.lit(EPOCH_DAY))
    if unit == "week":
        return F.floor(F.datediff(local_date, F.lit(EPOCH_MONDAY)) / 7).cast("int")
    return ((F.year(local_date) - 1970) * 12 + F.month(local_date) - 1).cast("int")
