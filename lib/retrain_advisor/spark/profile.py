"""Profile a source for a starting config, in two passes over its rows, each with a small result.

The event time is read as a study reads it (`times.py`: inferring the unit of a number since 1970
costs one more pass). The first pass is one aggregation: row counts, nulls per column, approximate
distinct counts of the discrete columns (alone and with the label), the label's lowest and
highest values, the study's own checks of the text columns (`columns.Features`: text holding only
numbers is read as numbers, so it is profiled as numbers), and for numeric columns the covariance
with the event time and with the label (the correlation is taken from covariance and variances on
the driver: Spark's `corr` divides by zero on a constant column under ANSI SQL). The second counts
the labelled rows per UTC day, and per class when the label has few values.

Before them, choosing the event time may take one small aggregation: the lowest value of each
64-bit integer column, to tell nanosecond times (`nanosecond_times`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import ColumnsConfig, EpochUnit, SourceConfig, StudyConfig
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import MICROS_PER_DAY
from retrain_advisor.foundation.vocabulary import MAX_CLASSES
from retrain_advisor.planning.source_profile import ColumnKind, ColumnProfile, SourceProfile
from retrain_advisor.spark.columns import NANOSECOND_TIMES, Features, candidate_features, quoted, text_as_number
from retrain_advisor.spark.kinds import column_kind
from retrain_advisor.spark.labels import positive_label
from retrain_advisor.spark.reading import read_source
from retrain_advisor.spark.times import TimeColumn, time_column

# Relative error of the distinct counts: Spark's default. Below a few hundred values the sketch
# counts nearly exactly (linear counting), which is where a column's values and its (value, label)
# pairs are compared (starting_config.PAIRS_SLACK); a 1% sketch costs about three times as much.
DISTINCT_RSD = 0.05
HASH_SCALE = float(2**63)
NUMERIC_KINDS = ("integer", "float", "boolean")
DISCRETE_KINDS = ("string", "integer", "boolean")  # columns whose values may each go with one class
# The study stops on text with more values than limits.max_categories; init excludes such a column
# with its reason instead, so the study's checks run here without that limit.
NO_CATEGORY_LIMIT = 2**62


def read_history(spark: SparkSession, source: SourceConfig) -> DataFrame:
    """The raw source, read as a study reads it."""
    return read_source(spark, _study_config(source=source))[0]


def column_kinds(df: DataFrame) -> dict[str, ColumnKind]:
    return {f.name: column_kind(f.dataType) for f in df.schema.fields}


def nanosecond_times(df: DataFrame) -> frozenset[str]:
    """The integer columns whose every value is at or above 10^17: nanosecond times (pandas'
    parquet timestamps, read as integers), which the study leaves out of the features. One
    aggregation of the lowest values of the 64-bit integer columns (smaller ones cannot reach
    10^17); none when there is no such column."""
    longs = [f.name for f in df.schema.fields if isinstance(f.dataType, T.LongType)]
    if not longs:
        return frozenset()
    lowest = df.agg(*[F.min(quoted(c)).alias(f"low_{i}") for i, c in enumerate(longs)]).first()
    assert lowest is not None  # a global aggregation always returns one row
    return frozenset(
        c for i, c in enumerate(longs) if lowest[f"low_{i}"] is not None and lowest[f"low_{i}"] >= NANOSECOND_TIMES
    )


def profile_source(
    df: DataFrame,
    kinds: dict[str, ColumnKind],
    event_time: str,
    label: str,
    description: str,
    time_format: str | None = None,
    time_unit: EpochUnit | None = None,
) -> SourceProfile:
    """The profile of `df` with the given event-time and label columns, the event time read with
    the given pattern (text) or unit (numbers) when they are given."""
    columns = ColumnsConfig(
        event_time=event_time, label=label, event_time_format=time_format, event_time_unit=time_unit
    )
    config = _study_config(columns=columns)
    time = _event_time(df, columns)
    features = _study_features(df, config)
    has_label = _present(quoted(label), kinds[label])
    label_number = F.when(has_label, _label_number(label, kinds[label]))
    days = F.unix_micros(time.instant()) / F.lit(MICROS_PER_DAY)
    others = [c for c in df.columns if c not in (event_time, label)]
    numbers = {c: _number_of(c, kinds[c], features) for c in others}
    totals = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(quoted(event_time).isNull()).alias("null_time"),
        F.count_if(time.unparseable).alias("bad_time"),
        F.count_if(~has_label).alias("null_label"),
        F.approx_count_distinct(F.when(has_label, quoted(label)), DISTINCT_RSD).alias("label_distinct"),
        *_label_bounds(label, kinds[label], has_label),
        *[
            agg
            for i, c in enumerate(others)
            for agg in _column_aggregates(c, kinds[c], numbers[c], i, days, label_number)
        ],
        *[_pairs(c, label, has_label, i) for i, c in enumerate(others) if kinds[c] in DISCRETE_KINDS],
        *features.checks(),
    ).first()
    assert totals is not None  # a global aggregation always returns one row
    as_numbers = set(features.settled(totals, config).numeric_text)
    by_class = totals["label_distinct"] <= MAX_CLASSES
    daily_rows, daily_classes = _daily(df, time.local_date("UTC"), has_label, label, by_class)
    classes = sorted({c for counts in daily_classes.values() for c in counts})
    values = _few_values(len(classes), totals["label_low"], totals["label_high"])
    return SourceProfile(
        description=description,
        rows=int(totals["rows"]),
        event_time=event_time,
        event_time_kind=kinds[event_time],
        event_time_reading=time.reading,
        label=label,
        label_kind=kinds[label],
        null_event_time=int(totals["null_time"]),
        unparseable_event_time=int(totals["bad_time"]),
        null_label=int(totals["null_label"]),
        label_distinct=int(totals["label_distinct"]),
        label_values=values,
        positive_class=_positive(values, (totals["label_low_text"], totals["label_high_text"]), label),
        daily_rows=daily_rows,
        daily_classes=daily_classes,
        columns=tuple(
            _column_profile(totals, c, "float" if c in as_numbers else kinds[c], i) for i, c in enumerate(others)
        ),
        event_time_format=time_format,
        event_time_unit=time_unit,
    )


def _study_config(source: SourceConfig | None = None, columns: ColumnsConfig | None = None) -> StudyConfig:
    """A config for the study's own reading functions, which read only its source or its columns
    (and the text limit): the other sections are placeholders."""
    return StudyConfig.model_validate(
        {
            "name": "init",
            "source": source or {"query": "SELECT 1"},
            "columns": columns or {"event_time": "_t", "label": "_y"},
            "limits": {"max_categories": NO_CATEGORY_LIMIT},
            "output": {"path": "_"},
        }
    )


def _event_time(df: DataFrame, columns: ColumnsConfig) -> TimeColumn:
    try:
        return time_column(df, columns.event_time, columns)
    except SourceError as error:
        raise SourceError(
            f"{error}. With init, give these keys as --event-time-unit UNIT and --event-time-format PATTERN, or "
            "pass another --event-time"
        ) from None


def _study_features(df: DataFrame, config: StudyConfig) -> Features:
    """The study's candidate features, whose checks tell which text holds only numbers; none when
    no column could be one (the starting config then says so)."""
    try:
        return candidate_features(df, config)
    except SourceError:
        return Features([], [])


def _number_of(name: str, kind: ColumnKind, features: Features) -> Column | None:
    """The column as a number: numeric columns, and text the study would read as numbers."""
    if kind in NUMERIC_KINDS or (kind == "string" and name in features.categorical):
        return _number(name, kind)
    return None


def _column_aggregates(
    name: str, kind: ColumnKind, number: Column | None, i: int, days: Column, label_number: Column
) -> list[Column]:
    """Nulls; distinct values of discrete columns; for numbers, the moments of their correlations
    with the time and the label."""
    value = number if kind in NUMERIC_KINDS and number is not None else quoted(name)
    aggregates = [F.count_if(value.isNull()).alias(f"nulls_{i}")]
    if kind in DISCRETE_KINDS:
        aggregates.append(F.approx_count_distinct(value, DISTINCT_RSD).alias(f"distinct_{i}"))
    if number is not None:
        for other, tag in ((days, "time"), (label_number, "label")):
            aggregates += [
                F.covar_pop(number, other).alias(f"cov_{tag}_{i}"),
                F.var_pop(F.when(other.isNotNull(), number)).alias(f"var_{tag}_{i}"),
                F.var_pop(F.when(number.isNotNull(), other)).alias(f"var_{tag}_of_{i}"),
            ]
    return aggregates


def _label_bounds(label: str, kind: ColumnKind, has_label: Column) -> list[Column]:
    """The label's lowest and highest values, as the source holds them and as text: its two values
    when it holds two. Only for kinds that can be labels (a map cannot be ordered)."""
    value = F.when(has_label, quoted(label)) if kind in (*DISCRETE_KINDS, "float") else F.lit(None)
    low, high = F.min(value), F.max(value)
    return [
        low.alias("label_low"),
        high.alias("label_high"),
        low.cast("string").alias("label_low_text"),
        high.cast("string").alias("label_high_text"),
    ]


def _pairs(name: str, label: str, has_label: Column, i: int) -> Column:
    """Distinct (value, label) pairs: as many as the values when every value goes with one class."""
    pair = F.when(has_label & quoted(name).isNotNull(), F.struct(quoted(name), quoted(label)))
    return F.approx_count_distinct(pair, DISTINCT_RSD).alias(f"pairs_{i}")


def _column_profile(totals: Row, name: str, kind: ColumnKind, i: int) -> ColumnProfile:
    """The column's profile as the study reads it: `kind` is "float" for text holding numbers."""
    fields = totals.asDict()
    correlations = {
        tag: _correlation(fields.get(f"cov_{tag}_{i}"), fields.get(f"var_{tag}_{i}"), fields.get(f"var_{tag}_of_{i}"))
        if kind in NUMERIC_KINDS
        else None
        for tag in ("time", "label")
    }
    distinct, pairs = fields.get(f"distinct_{i}"), fields.get(f"pairs_{i}")
    return ColumnProfile(
        name=name,
        kind=kind,
        nulls=int(fields[f"nulls_{i}"]),
        distinct=None if distinct is None else int(distinct),
        time_correlation=correlations["time"],
        label_correlation=correlations["label"],
        label_pairs=None if pairs is None else int(pairs),
    )


def _correlation(covariance: float | None, variance: float | None, other_variance: float | None) -> float | None:
    if covariance is None or not variance or not other_variance:
        return None
    correlation = covariance / math.sqrt(variance * other_variance)
    return max(-1.0, min(1.0, correlation)) if math.isfinite(correlation) else None


def _daily(
    df: DataFrame, day: Column, has_label: Column, label: str, by_class: bool
) -> tuple[dict[dt.date, int], dict[dt.date, dict[str, int]]]:
    """Labelled rows per UTC day and, when the label's values can be classes, per day and class."""
    group = quoted(label).cast("string") if by_class else F.lit(None).cast("string")
    counts = (
        df.where(day.isNotNull() & has_label)
        .groupBy(day.alias("day"), group.alias("class"))
        .agg(F.count(F.lit(1)).alias("rows"))
        .toPandas()
    )
    rows: dict[dt.date, int] = defaultdict(int)
    classes: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for when, value, n in counts.itertuples(index=False):
        rows[when] += int(n)
        if by_class:
            classes[when][value] = int(n)
    return dict(rows), dict(classes)


def _few_values(classes: int, low: Any, high: Any) -> tuple[Any, ...]:
    """The label's values as the source holds them, when it holds one or two."""
    if classes == 1:
        return (low,)
    return (low, high) if classes == 2 else ()


def _positive(values: tuple[Any, ...], texts: tuple[str, str], label: str) -> str | None:
    """The positive class of two, as the study picks it from the values the source holds (a
    decimal 1.000 is 1), named as the classes are; None when it cannot tell."""
    if len(values) != 2:
        return None
    try:
        positive = positive_label(list(values), None, label)
    except SourceError:
        return None
    return texts[values.index(positive)]


def _present(raw: Column, kind: ColumnKind) -> Column:
    return raw.isNotNull() & ~F.isnan(raw) if kind == "float" else raw.isNotNull()


def _number(name: str, kind: ColumnKind) -> Column:
    """A double, with NaN and infinities as missing (as the study reads numeric features); text is
    read as the study reads numbers in text."""
    value = text_as_number(name) if kind == "string" else quoted(name).cast("double")
    if kind in ("float", "string"):
        return F.when(~F.isnan(value) & (F.abs(value) != F.lit(float("inf"))), value)
    return value


def _label_number(label: str, kind: ColumnKind) -> Column:
    """The label as a number. Text becomes a hash of its value: for two classes any two distinct
    numbers give the correlation of the class indicator, up to its sign."""
    if kind in NUMERIC_KINDS:
        return _number(label, kind)
    return F.xxhash64(quoted(label)).cast("double") / F.lit(HASH_SCALE)
