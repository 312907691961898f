"""Profile a source for a starting config, in two passes over its rows, each with a small result.

The event time is read as a study reads it (`times.py`). The first pass is one aggregation: row
counts, nulls per column, approximate distinct counts of the discrete columns (alone and with the
label), and for numeric columns the covariance with the event time and with the label (the
correlation is taken from covariance and variances on the driver: Spark's `corr` divides by zero
on a constant column under ANSI SQL). The second counts the labelled rows per UTC day, and per
class when the label has few values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import ColumnsConfig, SourceConfig, StudyConfig
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.vocabulary import MAX_CLASSES
from retrain_advisor.planning.source_profile import ColumnKind, ColumnProfile, SourceProfile
from retrain_advisor.spark.columns import quoted
from retrain_advisor.spark.labels import positive_label
from retrain_advisor.spark.reading import read_source
from retrain_advisor.spark.times import time_column

# Relative error of the distinct counts: Spark's default. Below a few hundred values the sketch
# counts nearly exactly (linear counting), which is where a column's values and its (value, label)
# pairs are compared (starting_config.PAIRS_SLACK); a 1% sketch costs about three times as much.
DISTINCT_RSD = 0.05
MICROS_PER_DAY = 86_400 * 10**6
HASH_SCALE = float(2**63)
NUMERIC_KINDS = ("integer", "float", "boolean")
DISCRETE_KINDS = ("string", "integer", "boolean")  # columns whose values may each go with one class

KINDS: tuple[tuple[tuple[type[T.DataType], ...], ColumnKind], ...] = (
    ((T.TimestampType, T.TimestampNTZType), "timestamp"),
    ((T.DateType,), "date"),
    ((T.StringType,), "string"),
    ((T.ByteType, T.ShortType, T.IntegerType, T.LongType), "integer"),
    ((T.FloatType, T.DoubleType, T.DecimalType), "float"),
    ((T.BooleanType,), "boolean"),
)


def read_history(spark: SparkSession, source: SourceConfig) -> DataFrame:
    """The raw source, read as a study reads it. `read_source` reads only the source section, so
    the rest of the config it takes is placeholders."""
    placeholder = StudyConfig.model_validate(
        {"name": "init", "source": source, "columns": {"event_time": "_t", "label": "_y"}, "output": {"path": "_"}}
    )
    return read_source(spark, placeholder)[0]


def column_kinds(df: DataFrame) -> dict[str, ColumnKind]:
    return {f.name: _kind(f.dataType) for f in df.schema.fields}


def profile_source(
    df: DataFrame, kinds: dict[str, ColumnKind], event_time: str, label: str, description: str
) -> SourceProfile:
    """The profile of `df` with the given event-time and label columns."""
    time = time_column(df, event_time, ColumnsConfig(event_time=event_time, label=label))
    has_label = _present(quoted(label), kinds[label])
    label_number = F.when(has_label, _label_number(quoted(label), kinds[label]))
    days = F.unix_micros(time.instant()) / F.lit(MICROS_PER_DAY)
    others = [c for c in df.columns if c not in (event_time, label)]
    totals = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(quoted(event_time).isNull()).alias("null_time"),
        F.count_if(time.unparseable).alias("bad_time"),
        F.count_if(~has_label).alias("null_label"),
        F.approx_count_distinct(F.when(has_label, quoted(label)), DISTINCT_RSD).alias("label_distinct"),
        F.min(label_number).alias("label_min"),
        F.max(label_number).alias("label_max"),
        *[agg for i, c in enumerate(others) for agg in _column_aggregates(c, kinds[c], i, days, label_number)],
        *[_pairs(c, label, has_label, i) for i, c in enumerate(others) if kinds[c] in DISCRETE_KINDS],
    ).first()
    assert totals is not None  # a global aggregation always returns one row
    by_class = totals["label_distinct"] <= MAX_CLASSES
    daily_rows, daily_classes = _daily(df, time.local_date("UTC"), has_label, label, by_class)
    classes = sorted({c for counts in daily_classes.values() for c in counts})
    numeric_label = kinds[label] in NUMERIC_KINDS and totals["label_min"] is not None
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
        label_range=(totals["label_min"], totals["label_max"]) if numeric_label else None,
        positive_class=_positive(classes, label),
        daily_rows=daily_rows,
        daily_classes=daily_classes,
        columns=tuple(_column_profile(totals, c, kinds[c], i) for i, c in enumerate(others)),
    )


def _column_aggregates(name: str, kind: ColumnKind, i: int, days: Column, label_number: Column) -> list[Column]:
    """Nulls; distinct values of discrete columns; for numbers, the moments of their correlations
    with the time and the label."""
    value = _number(quoted(name), kind) if kind in NUMERIC_KINDS else quoted(name)
    aggregates = [F.count_if(value.isNull()).alias(f"nulls_{i}")]
    if kind in DISCRETE_KINDS:
        aggregates.append(F.approx_count_distinct(value, DISTINCT_RSD).alias(f"distinct_{i}"))
    if kind in NUMERIC_KINDS:
        for other, tag in ((days, "time"), (label_number, "label")):
            aggregates += [
                F.covar_pop(value, other).alias(f"cov_{tag}_{i}"),
                F.var_pop(F.when(other.isNotNull(), value)).alias(f"var_{tag}_{i}"),
                F.var_pop(F.when(value.isNotNull(), other)).alias(f"var_{tag}_of_{i}"),
            ]
    return aggregates


def _pairs(name: str, label: str, has_label: Column, i: int) -> Column:
    """Distinct (value, label) pairs: as many as the values when every value goes with one class."""
    pair = F.when(has_label & quoted(name).isNotNull(), F.struct(quoted(name), quoted(label)))
    return F.approx_count_distinct(pair, DISTINCT_RSD).alias(f"pairs_{i}")


def _column_profile(totals: Row, name: str, kind: ColumnKind, i: int) -> ColumnProfile:
    fields = totals.asDict()
    correlations = {
        tag: _correlation(fields.get(f"cov_{tag}_{i}"), fields.get(f"var_{tag}_{i}"), fields.get(f"var_{tag}_of_{i}"))
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


def _positive(classes: list[str], label: str) -> str | None:
    """The positive class of two, as the study picks it; None when it cannot tell."""
    if len(classes) != 2:
        return None
    try:
        return str(positive_label(classes, None, label))
    except SourceError:
        return None


def _kind(data_type: T.DataType) -> ColumnKind:
    return next((kind for types, kind in KINDS if isinstance(data_type, types)), "other")


def _present(raw: Column, kind: ColumnKind) -> Column:
    return raw.isNotNull() & ~F.isnan(raw) if kind == "float" else raw.isNotNull()


def _number(raw: Column, kind: ColumnKind) -> Column:
    """A double, with NaN and infinities as missing (as the study reads numeric features)."""
    value = raw.cast("double")
    if kind == "float":
        return F.when(~F.isnan(value) & (F.abs(value) != F.lit(float("inf"))), value)
    return value


def _label_number(raw: Column, kind: ColumnKind) -> Column:
    """The label as a number. Text becomes a hash of its value: for two classes any two distinct
    numbers give the correlation of the class indicator, up to its sign."""
    if kind in NUMERIC_KINDS:
        return _number(raw, kind)
    return F.xxhash64(raw).cast("double") / F.lit(HASH_SCALE)
