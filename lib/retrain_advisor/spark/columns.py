"""The source's columns by name, whatever the name, and which of them are features.

Features are numeric, boolean or text columns. Text that holds only numbers (a CSV read without
a schema) is read as numbers; integers that are all beyond 10^17 are nanosecond times (pandas'
default in parquet) or ids, never features unless listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.vocabulary import RESERVED_PREFIX

NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
NANOSECOND_TIMES = 10**17  # 1973-03-03 in nanoseconds since 1970
# Whatever Spark can cast to a double starts, after control characters or spaces and a sign, with
# a digit, a dot, or the i or n of inf and nan. Text that does not is no number, without the
# failed cast (an exception per value, four times the cost of the pass on a text column).
MAYBE_NUMBER = r"^[\x00-\x20]*[+-]?[0-9.iInN]"


def quoted(name: str) -> Column:
    """The column called `name`, even with dots, spaces or backticks in it."""
    return F.col("`" + name.replace("`", "``") + "`")


def sql_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def text_as_number(name: str) -> Column:
    """The text column `name` as a double, null where it holds no number."""
    return F.when(quoted(name).rlike(MAYBE_NUMBER), F.expr(f"try_cast({sql_name(name)} AS DOUBLE)"))


@dataclass(frozen=True)
class Features:
    numeric: list[str]
    categorical: list[str]
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    numeric_text: list[str] = field(default_factory=list)  # text columns read as numbers
    integer_columns: frozenset[str] = frozenset()  # numeric columns of an integer type

    def checks(self) -> list[Column]:
        """Aggregates that settle the features, to run in the source's counting pass."""
        checks = []
        for i, name in enumerate(self.categorical):
            checks += [
                F.approx_count_distinct(quoted(name)).alias(f"__distinct_{i}"),
                F.count_if(quoted(name).isNotNull() & text_as_number(name).isNull()).alias(f"__not_number_{i}"),
                F.count(quoted(name)).alias(f"__given_{i}"),
            ]
        return checks + [F.min(quoted(name)).alias(f"__min_{i}") for i, name in enumerate(self._integer)]

    @property
    def _integer(self) -> list[str]:
        return [name for name in self.numeric if name in self.integer_columns]

    def settled(self, counts: Row, config: StudyConfig) -> Features:
        """Numbers in text become numeric features; nanosecond times and wide text leave."""
        listed = set(config.columns.features or [])
        as_numbers = [
            name
            for i, name in enumerate(self.categorical)
            if counts[f"__given_{i}"] > 0 and counts[f"__not_number_{i}"] == 0
        ]
        distinct = {name: counts[f"__distinct_{i}"] for i, name in enumerate(self.categorical)}
        smallest = {name: counts[f"__min_{i}"] for i, name in enumerate(self._integer)}
        huge = [
            name for name, low in smallest.items() if name not in listed and low is not None and low >= NANOSECOND_TIMES
        ]
        left_out = dict(self.left_out)
        for name in huge:
            left_out[name] = "integers all above 10^17: nanosecond times (pandas' parquet default) or ids"
        categorical = [name for name in self.categorical if name not in as_numbers]
        _check_cardinality({name: distinct[name] for name in categorical}, config)
        return replace(
            self,
            numeric=[name for name in self.numeric if name not in huge] + as_numbers,
            categorical=categorical,
            left_out=left_out,
            numeric_text=as_numbers,
        )

    def cleaned(self, df: DataFrame) -> list[Column]:
        """The feature columns for the models: numbers as doubles, then the text columns."""
        return [value.alias(name) for name, value in self.numbers(df).items()] + [
            quoted(name) for name in self.categorical
        ]

    def numbers(self, df: DataFrame) -> dict[str, Column]:
        """Each numeric feature's values as the models read them."""
        return {name: _clean_numeric(name, df.schema[name].dataType) for name in self.numeric}


def candidate_features(df: DataFrame, config: StudyConfig) -> Features:
    """The listed or inferred feature columns by type, before the counting pass settles them."""
    cols = config.columns
    reserved = {cols.event_time, cols.label, cols.label_time, *cols.exclude}
    listed = cols.features
    candidates = listed if listed is not None else [c for c in df.columns if c not in reserved]
    types = {f.name: f.dataType for f in df.schema.fields}
    numeric, categorical, left_out = [], [], {}
    for name in candidates:
        kind = types[name]
        if name.startswith(RESERVED_PREFIX):
            if listed is not None:
                raise SourceError(
                    f"feature column {name!r} starts with {RESERVED_PREFIX!r}, which is reserved for internal "
                    "columns; rename it in a source.query"
                )
            left_out[name] = f"names starting with {RESERVED_PREFIX} are reserved (e.g. a pandas index)"
        elif isinstance(kind, (*NUMERIC_TYPES, T.BooleanType)):
            numeric.append(name)
        elif isinstance(kind, T.StringType):
            categorical.append(name)
        elif listed is not None:
            raise SourceError(
                f"feature column {name!r} has type {kind.simpleString()}; features must be numeric, boolean or "
                "text. Derive a usable column in a source.query, or remove it from columns.features"
            )
        else:
            left_out[name] = f"type {kind.simpleString()} is not a feature type (numeric, boolean or text)"
    if not numeric and not categorical:
        raise SourceError("no usable feature columns: list numeric, boolean or text columns in columns.features")
    integers = frozenset(name for name in numeric if isinstance(types[name], INTEGER_TYPES))
    return Features(numeric, categorical, left_out, integer_columns=integers)


def _check_cardinality(distinct: dict[str, int], config: StudyConfig) -> None:
    """Refuse text features with more values than limits.max_categories: ids and leaks, not signal."""
    limit = config.limits.max_categories
    wide = {name: n for name, n in distinct.items() if n > limit}
    if wide:
        shown = ", ".join(f"{name!r} (about {n} values)" for name, n in wide.items())
        raise SourceError(
            f"text feature(s) {shown} have more distinct values than limits.max_categories={limit}: such a column "
            "is usually an id or a leak. Add it to columns.exclude, or raise limits.max_categories"
        )


def _clean_numeric(name: str, kind: T.DataType) -> Column:
    """Numbers as double, with infinities turned into missing values (estimators reject them).
    Text is read leniently: a source that changed since it was checked gives a missing value."""
    value = text_as_number(name) if isinstance(kind, T.StringType) else quoted(name).cast("double")
    if isinstance(kind, (T.FloatType, T.DoubleType, T.StringType)):
        value = F.when(F.abs(value) == F.lit(float("inf")), F.lit(None)).otherwise(value)
    return value
