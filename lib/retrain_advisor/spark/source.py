"""Read the labelled history, validate it, and give every row its period.

The source is only ever read. A Delta source is read at the version current when the run
starts, so every stage of the run sees the same data and the runs table can name it.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd
from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import PeriodUnit, StudyConfig, Task
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import EPOCH_DAY, EPOCH_MONDAY
from retrain_advisor.foundation.vocabulary import (
    DELAY_DAYS,
    LABEL_TIME,
    LABELLED,
    PERIOD,
    RESERVED_PREFIX,
    ROW_HASH,
    SLICE,
    TARGET,
)

log = logging.getLogger(__name__)

NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
TIME_TYPES = (T.TimestampType, T.TimestampNTZType, T.DateType, T.StringType)
MAX_CLASSES = 100
MULTICLASS_MAX_INTEGER_VALUES = 20
MISSING_SLICE = "(missing)"
MICROS_PER_DAY = 86_400 * 10**6


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
    ignored_columns: list[str] = field(default_factory=list)

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
    periods: pd.DataFrame  # period_id, slice_value (None: all rows), rows, class_counts (all rows, classification)
    report: SourceReport
    arrival_rows: DataFrame  # every row with a period: labelled flag, target, label delay, slice
    slice_key: str | None = None

    @cached_property
    def _rows_by_period(self) -> dict[int, int]:
        overall = self.periods[self.periods["slice_value"].isna()]
        return {int(p): int(n) for p, n in zip(overall["period_id"], overall["rows"], strict=True)}

    def labelled_rows(self, period_id: int) -> int:
        return self._rows_by_period.get(period_id, 0)

    @property
    def period_ids(self) -> list[int]:
        return sorted(self._rows_by_period)

    def class_counts(self, period_id: int) -> dict[str, int]:
        """Labelled rows of each class in a period (classification; empty for regression)."""
        overall = self.periods[self.periods["slice_value"].isna() & (self.periods["period_id"] == period_id)]
        found = overall["class_counts"].iloc[0] if len(overall) else None
        return dict(found) if isinstance(found, dict) else {}


def _delta_version(spark: SparkSession, reference: str) -> int | None:
    try:
        row = spark.sql(f"DESCRIBE HISTORY {reference} LIMIT 1").first()
    except AnalysisException:
        return None
    return None if row is None else int(row["version"])


def read_source(spark: SparkSession, config: StudyConfig) -> tuple[DataFrame, int | None]:
    """The raw source DataFrame, pinned to its current Delta version when it is a Delta table."""
    source = config.source
    try:
        if source.query:
            return spark.sql(source.query), None
        if source.table:
            version = _delta_version(spark, source.table)
            if version is None:
                return spark.read.table(source.table), None
            return spark.sql(f"SELECT * FROM {source.table} VERSION AS OF {version}"), version
        assert source.path is not None
        if source.format == "delta":
            quoted = source.path.replace("`", "``")
            version = _delta_version(spark, f"delta.`{quoted}`")
            reader = spark.read.format("delta").options(**source.options)
            if version is not None:
                reader = reader.option("versionAsOf", version)
            return reader.load(source.path), version
        return spark.read.format(source.format).options(**source.options).load(source.path), None
    except AnalysisException as error:
        raise SourceError(f"cannot read source {source.describe()}: {error.getMessage()}") from None


def _require_columns(df: DataFrame, names: list[str]) -> None:
    available = df.columns
    for name in names:
        if name not in available:
            near = difflib.get_close_matches(name, available, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; the source has: {', '.join(available)}"
            raise SourceError(f"column {name!r} named in the config is not in the source{hint}")


def _feature_columns(df: DataFrame, config: StudyConfig) -> tuple[list[str], list[str], list[str]]:
    """(numeric, categorical, ignored) feature columns, listed or inferred."""
    cols = config.columns
    reserved = {cols.event_time, cols.label, cols.label_time, *cols.exclude}
    listed = cols.features
    candidates = listed if listed is not None else [c for c in df.columns if c not in reserved]
    types = {f.name: f.dataType for f in df.schema.fields}
    numeric, categorical, ignored = [], [], []
    for name in candidates:
        kind = types[name]
        if name.startswith(RESERVED_PREFIX):
            if listed is not None:
                raise SourceError(
                    f"feature column {name!r} starts with {RESERVED_PREFIX!r}, which is reserved for internal "
                    "columns; rename it in a source.query"
                )
            ignored.append(name)
            continue
        if isinstance(kind, (*NUMERIC_TYPES, T.BooleanType)):
            numeric.append(name)
        elif isinstance(kind, T.StringType):
            categorical.append(name)
        elif listed is not None:
            raise SourceError(
                f"feature column {name!r} has type {kind.simpleString()}; features must be numeric, boolean or "
                "string. Derive a usable column in a source.query, or remove it from columns.features"
            )
        else:
            ignored.append(name)
    if not numeric and not categorical:
        raise SourceError("no usable feature columns: list numeric or string columns in columns.features")
    return numeric, categorical, ignored


def _event_time(df: DataFrame, config: StudyConfig) -> tuple[Column, Column]:
    """(local date in the period time zone, flag 'given but unparseable')."""
    name = config.columns.event_time
    kind = df.schema[name].dataType
    raw = F.col(name)
    zone = F.lit(config.period.timezone)
    if isinstance(kind, T.TimestampType):
        return F.to_date(F.convert_timezone(None, zone, raw)), F.lit(False)
    if isinstance(kind, T.TimestampNTZType):
        return F.to_date(raw), F.lit(False)
    if isinstance(kind, T.DateType):
        return raw, F.lit(False)
    if isinstance(kind, T.StringType):
        parsed = F.try_to_timestamp(raw)
        return F.to_date(F.convert_timezone(None, zone, parsed)), raw.isNotNull() & parsed.isNull()
    raise SourceError(
        f"columns.event_time {name!r} has type {kind.simpleString()}; it must be a timestamp, date or "
        "a string holding one (e.g. 2024-03-01T12:00:00Z)"
    )


def _infer_task(kind: T.DataType, distinct: int, values: list[Any] | None) -> Task:
    if isinstance(kind, (T.StringType, T.BooleanType)):
        return "binary" if distinct <= 2 else "multiclass"
    if isinstance(kind, INTEGER_TYPES):
        if distinct <= 2:
            return "binary"
        return "multiclass" if distinct <= MULTICLASS_MAX_INTEGER_VALUES else "regression"
    if values is not None and distinct <= 2 and set(values) <= {0, 1}:
        return "binary"
    return "regression"


def _positive_label(values: list[Any], configured: Any, label: str) -> Any:
    if configured is not None:
        matches = [v for v in values if v == configured or str(v) == str(configured)]
        if not matches:
            raise SourceError(
                f"positive_label {configured!r} does not occur in column {label!r} (values: {values}); "
                "fix positive_label"
            )
        return matches[0]
    for candidate in (1, True):
        if any(v == candidate and type(v) is type(candidate) for v in values):
            return candidate
    return max(values)


@dataclass(frozen=True)
class _Features:
    numeric: list[str]
    categorical: list[str]
    ignored: list[str]


@dataclass(frozen=True)
class _TimedRows:
    """The source's label and feature columns with each row's period and its time and label flags."""

    frame: DataFrame
    missing_label: Column


@dataclass(frozen=True)
class _Label:
    task: Task
    target: Column
    classes: list[str]
    positive: Any


def prepare_source(spark: SparkSession, config: StudyConfig) -> PreparedSource:
    """Validate the source against the config and return its usable rows and profile."""
    raw, version = read_source(spark, config)
    _check_named_columns(raw, config)
    features = _Features(*_feature_columns(raw, config))
    timed = _timed_rows(raw, config, features)
    totals = _count_rows(timed, config, features)
    label = _label(timed, raw.schema[config.columns.label].dataType, totals, config)
    rows = _usable_rows(timed, raw, config, features, label)
    report = SourceReport(
        name=config.source.describe(),
        delta_version=version,
        total_rows=int(totals["total"]),
        null_event_time=int(totals["null_time"]),
        unparseable_event_time=int(totals["bad_time"]),
        null_label=int(totals["null_label"]),
        used_rows=int(totals["used"]),
        ignored_columns=features.ignored,
    )
    _log_source(report, config, features, label.task)
    return PreparedSource(
        rows,
        label.task,
        features.numeric,
        features.categorical,
        label.classes,
        None if label.positive is None else str(label.positive),
        _profile(rows, config, label.task),
        report,
        _arrival_rows(timed, config, label),
        config.slice.key,
    )


def _check_named_columns(raw: DataFrame, config: StudyConfig) -> None:
    """Every column the config names exists, and the slice expression is valid on the source."""
    cols = config.columns
    named = [cols.event_time, cols.label, cols.label_time, config.slice.column, *(cols.features or [])]
    _require_columns(raw, [c for c in named if c])
    if config.slice.expression:
        try:
            raw.select(F.expr(config.slice.expression)).schema  # noqa: B018 (analysis is the check)
        except (AnalysisException, ParseException) as error:
            raise SourceError(
                f"slice.expression {config.slice.expression!r} is not valid on the source: {error.getMessage()}"
            ) from None


def _timed_rows(raw: DataFrame, config: StudyConfig, features: _Features) -> _TimedRows:
    """The label and features with each row's period, its time flags, slice and label delay."""
    cols = config.columns
    local_date, unparseable = _event_time(raw, config)
    extra = [_slice_column(config).alias(SLICE)] if config.slice.key else []
    if cols.label_time:
        label_time = _as_timestamp(raw, cols.label_time)
        delay = F.unix_micros(label_time) - F.unix_micros(_as_timestamp(raw, cols.event_time))
        extra += [(delay / MICROS_PER_DAY).alias(DELAY_DAYS), label_time.alias(LABEL_TIME)]
    frame = raw.select(
        *[F.col(c) for c in [cols.label, *features.numeric, *features.categorical]],
        period_id_column(config.period.unit, local_date).alias(PERIOD),
        F.col(cols.event_time).isNull().alias("__null_time"),
        unparseable.alias("__bad_time"),
        *extra,
    )
    missing_label = F.col(cols.label).isNull()
    if isinstance(raw.schema[cols.label].dataType, (T.FloatType, T.DoubleType)):
        missing_label = missing_label | F.isnan(cols.label)
    return _TimedRows(frame, missing_label)


def _count_rows(timed: _TimedRows, config: StudyConfig, features: _Features) -> Row:
    """One pass: total, unusable and used rows, distinct labels and categories; stops on a source
    with nothing to use or string features that look like ids."""
    cols, missing_label = config.columns, timed.missing_label
    totals = timed.frame.agg(
        F.count(F.lit(1)).alias("total"),
        F.count_if("__null_time").alias("null_time"),
        F.count_if("__bad_time").alias("bad_time"),
        F.count_if(missing_label).alias("null_label"),
        F.count_if(F.col(PERIOD).isNotNull() & ~missing_label).alias("used"),
        F.approx_count_distinct(cols.label).alias("distinct_labels"),
        *[F.approx_count_distinct(c).alias(f"__distinct_{i}") for i, c in enumerate(features.categorical)],
    ).first()
    assert totals is not None
    distinct = [totals[f"__distinct_{i}"] for i in range(len(features.categorical))]
    _check_cardinality(features.categorical, distinct, config)
    if totals["total"] == 0:
        raise SourceError(f"source {config.source.describe()} is empty")
    if totals["used"] == 0:
        raise SourceError(
            f"no row of source {config.source.describe()} has both a valid {cols.event_time!r} and a "
            f"non-null {cols.label!r} ({totals['null_time']} null and {totals['bad_time']} unparseable times, "
            f"{totals['null_label']} null labels)"
        )
    return totals


def _valid(timed: _TimedRows) -> DataFrame:
    return timed.frame.where(F.col(PERIOD).isNotNull() & ~timed.missing_label)


def _label(timed: _TimedRows, label_type: T.DataType, totals: Row, config: StudyConfig) -> _Label:
    """The task (configured or inferred from the label's values) and the target column."""
    label = config.columns.label
    values = None
    # The approximate count only decides whether collecting the distinct labels is cheap; the
    # task is inferred from the exact values (approx_count_distinct may be off by a few percent).
    if totals["distinct_labels"] <= 2 * MAX_CLASSES:
        collected = [r[0] for r in _valid(timed).select(label).distinct().limit(MAX_CLASSES + 1).collect()]
        values = sorted(collected) if len(collected) <= MAX_CLASSES else None
    distinct = len(values) if values is not None else totals["distinct_labels"]
    task = config.task or _infer_task(label_type, distinct, values)
    return _Label(task, *_target(task, label_type, values, config))


def _usable_rows(
    timed: _TimedRows, raw: DataFrame, config: StudyConfig, features: _Features, label: _Label
) -> DataFrame:
    """Rows with a period and a label: the internal columns, then the cleaned features."""
    cols = config.columns
    return _valid(timed).select(
        F.col(PERIOD),
        _row_hash([cols.label, *features.numeric, *features.categorical]).alias(ROW_HASH),
        label.target.alias(TARGET),
        *[_clean_numeric(c, raw.schema[c].dataType) for c in features.numeric],
        *[F.col(c) for c in features.categorical],
        *([F.col(SLICE)] if config.slice.key else []),
        *([F.col(LABEL_TIME)] if cols.label_time else []),
    )


def _arrival_rows(timed: _TimedRows, config: StudyConfig, label: _Label) -> DataFrame:
    """Every row with a period, labelled or not: what the arrival analysis counts."""
    labelled = ~timed.missing_label
    return timed.frame.where(F.col(PERIOD).isNotNull()).select(
        F.col(PERIOD),
        labelled.alias(LABELLED),
        F.when(labelled, label.target).alias(TARGET),
        *([F.col(DELAY_DAYS)] if config.columns.label_time else []),
        *([F.col(SLICE)] if config.slice.key else []),
    )


def _log_source(report: SourceReport, config: StudyConfig, features: _Features, task: Task) -> None:
    cols, ignored = config.columns, features.ignored
    log.info(
        "source %s (delta version %s): %d rows, %d used; %d null and %d unparseable %s, %d null %s; "
        "task %s; %d numeric and %d categorical features%s",
        report.name,
        report.delta_version,
        report.total_rows,
        report.used_rows,
        report.null_event_time,
        report.unparseable_event_time,
        cols.event_time,
        report.null_label,
        cols.label,
        task,
        len(features.numeric),
        len(features.categorical),
        f"; ignored (not numeric or string): {ignored}" if ignored else "",
    )


def _check_cardinality(categorical: list[str], distinct: list[int], config: StudyConfig) -> None:
    """Refuse string features with more values than limits.max_categories: ids and leaks, not signal."""
    limit = config.limits.max_categories
    wide = {name: n for name, n in zip(categorical, distinct, strict=True) if n > limit}
    if wide:
        shown = ", ".join(f"{name!r} (about {n} values)" for name, n in wide.items())
        raise SourceError(
            f"string feature(s) {shown} have more distinct values than limits.max_categories={limit}: such a column "
            "is usually an id or a leak. Add it to columns.exclude, or raise limits.max_categories"
        )


def _target(
    task: Task, label_type: T.DataType, values: list[Any] | None, config: StudyConfig
) -> tuple[Column, list[str], Any]:
    """The `_y` column: 0/1 for binary, the class as text for multiclass, a double for regression."""
    label = config.columns.label
    if task == "regression":
        if not isinstance(label_type, NUMERIC_TYPES):
            raise SourceError(
                f"columns.label {label!r} has type {label_type.simpleString()}, "
                "but a regression label must be numeric; "
                "cast it in a source.query or set task to binary/multiclass"
            )
        return F.col(label).cast("double"), [], None
    if values is None:
        raise SourceError(
            f"columns.label {label!r} has more than {MAX_CLASSES} distinct values, too many for task {task!r}; "
            "set task: regression or bucket the label in a source.query"
        )
    if task == "binary":
        if len(values) > 2:
            raise SourceError(f"task is binary but column {label!r} has {len(values)} values: {values[:10]}")
        if len(values) < 2:
            raise SourceError(f"column {label!r} holds a single class ({values}) in the whole source; nothing to learn")
        positive = _positive_label(values, config.positive_label, label)
        return (F.col(label) == F.lit(positive)).cast("int"), ["0", "1"], positive
    if len(values) < 2:
        raise SourceError(f"column {label!r} holds a single class ({values}) in the whole source; nothing to learn")
    return F.col(label).cast("string"), [str(v) for v in values], None


def _row_hash(names: list[str]) -> Column:
    """A hash of the row's content. xxhash64 skips nulls, so which columns are null is hashed too."""
    null_pattern = F.concat(*[F.when(F.col(c).isNull(), F.lit("1")).otherwise(F.lit("0")) for c in names])
    return F.xxhash64(*[F.col(c) for c in names], F.col(PERIOD), null_pattern)


def _clean_numeric(name: str, kind: T.DataType) -> Column:
    """Numbers as double, with infinities turned into missing values (estimators reject them)."""
    value = F.col(name).cast("double")
    if isinstance(kind, (T.FloatType, T.DoubleType)):
        value = F.when(F.abs(value) == F.lit(float("inf")), F.lit(None)).otherwise(value)
    return value.alias(name)


def _slice_column(config: StudyConfig) -> Column:
    """The slice of each row as text; a missing value is a slice of its own."""
    value = F.col(config.slice.column) if config.slice.column else F.expr(config.slice.expression or "")
    return F.coalesce(value.cast("string"), F.lit(MISSING_SLICE))


def _as_timestamp(df: DataFrame, name: str) -> Column:
    kind = df.schema[name].dataType
    if isinstance(kind, T.StringType):
        return F.try_to_timestamp(F.col(name))
    if isinstance(kind, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return F.col(name).cast("timestamp")
    raise SourceError(
        f"column {name!r} has type {kind.simpleString()}; it must be a timestamp, date or a string holding one"
    )


def _profile(rows: DataFrame, config: StudyConfig, task: Task) -> pd.DataFrame:
    """Labelled rows per period (with the rows of each class, for classification), and per
    period and slice (a small result)."""
    if task == "regression":
        counts = rows.groupBy(F.col(PERIOD).alias("period_id")).agg(F.count(F.lit(1)).alias("rows")).toPandas()
        profile = counts.assign(slice_value=None, class_counts=None)
    else:
        by_class = (
            rows.groupBy(F.col(PERIOD).alias("period_id"), F.col(TARGET).cast("string").alias("target"))
            .agg(F.count(F.lit(1)).alias("rows"))
            .toPandas()
        )
        profile = pd.DataFrame(
            [
                {
                    "period_id": int(group["period_id"].iloc[0]),
                    "rows": int(group["rows"].sum()),
                    "class_counts": {str(k): int(v) for k, v in zip(group["target"], group["rows"], strict=True)},
                }
                for _, group in by_class.groupby("period_id", sort=True)
            ],
            columns=["period_id", "rows", "class_counts"],
        ).assign(slice_value=None)
    if config.slice.key:
        per_slice = (
            rows.groupBy(F.col(PERIOD).alias("period_id"), F.col(SLICE).alias("slice_value"))
            .agg(F.count(F.lit(1)).alias("rows"))
            .toPandas()
        )
        values = per_slice["slice_value"].unique()
        if len(values) > config.slice.max_values:
            raise SourceError(
                f"slice {config.slice.key!r} has {len(values)} distinct values, more than "
                f"slice.max_values={config.slice.max_values} (e.g. {sorted(values)[:5]}); slice on a coarser column "
                "or raise slice.max_values"
            )
        profile = pd.concat([profile, per_slice.assign(class_counts=None)], ignore_index=True)
    return profile.sort_values(["period_id", "slice_value"], na_position="first").reset_index(drop=True)


def period_id_column(unit: PeriodUnit, local_date: Column) -> Column:
    """Spark expression: the period id of a local date column (same rule as `period_id_of`)."""
    if unit == "day":
        return F.datediff(local_date, F.lit(EPOCH_DAY))
    if unit == "week":
        return F.floor(F.datediff(local_date, F.lit(EPOCH_MONDAY)) / 7).cast("int")
    return ((F.year(local_date) - 1970) * 12 + F.month(local_date) - 1).cast("int")
