"""A Spark column's type as the kind the pure rules speak of (`planning/source_profile.ColumnKind`)."""

from __future__ import annotations

from pyspark.sql import types as T

from retrain_advisor.planning.source_profile import ColumnKind

KINDS: tuple[tuple[tuple[type[T.DataType], ...], ColumnKind], ...] = (
    ((T.TimestampType, T.TimestampNTZType), "timestamp"),
    ((T.DateType,), "date"),
    ((T.StringType,), "string"),
    ((T.ByteType, T.ShortType, T.IntegerType, T.LongType), "integer"),
    ((T.FloatType, T.DoubleType, T.DecimalType), "float"),
    ((T.BooleanType,), "boolean"),
)


def column_kind(data_type: T.DataType) -> ColumnKind:
    return next((kind for types, kind in KINDS if isinstance(data_type, types)), "other")
