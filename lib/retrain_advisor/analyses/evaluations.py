"""Predicates over the stored evaluation table that every analysis shares."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def usable(metric: str) -> Column:
    """An evaluation that enters aggregates: sufficient, and the metric has a value."""
    value = F.col("metrics")[metric]
    return F.col("is_sufficient") & value.isNotNull() & ~F.isnan(value)
