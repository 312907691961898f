"""Drift of every feature and of the label, per period, from one Spark aggregation; and of the
model's predictions, from the counts the scoring kept.

Spark counts each column's values per period in shared bins (numeric columns: fine cells, the
percentiles of all history; categorical columns and classification labels: one bin per value),
with nulls apart. That table is small (periods x columns x bins) and every comparison is made
from it on the driver: a training window's histogram is the sum of its periods' histograms, so
the drift of a scored period against any fit's training window costs no further pass over the
rows, and PSI and JS distance group the cells into the deciles of that window alone.

Drift is measured on the labelled rows, the rows every quality figure is measured on, for each
slice when the study is sliced (all rows are the sum of the slices' counts).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retrain_advisor.analyses.drift.histograms import DriftColumn
from retrain_advisor.foundation.vocabulary import FEATURE, LABEL, PERIOD, ROW_HASH, SLICE, TARGET
from retrain_advisor.spark.columns import quoted
from retrain_advisor.spark.source import PreparedSource

# Numeric values are counted in this many cells of equal mass over all history (fewer where
# values repeat): fine enough that the deciles of any training window are placed within half a
# cell, few enough that the counts stay periods x columns x cells.
GRID_CELLS = 100
# Cell edges come from a seeded sample of about this many rows, taken by row hash: the same rows
# however the data is partitioned, so the same edges on a laptop and on a cluster.
EDGE_SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class MeasuredColumn:
    """A drift column and the Spark expression its values are read from."""

    column: DriftColumn
    value: Column

    def bin(self) -> Column:
        """The bin of each row as text (the cell index, or the value); null for a null value."""
        if not self.column.numeric:
            return self.value.cast("string")
        index = _cell_of(self.value, self.column.edges, 0, len(self.column.edges))
        return F.when(self.value.isNotNull(), index.cast("string"))


def _cell_of(value: Column, edges: tuple[float, ...], low: int, high: int) -> Column:
    """The number of edges at or below `value` (NaN above all), known to lie in [low, high]: a
    binary search written as nested comparisons, so each row makes about log2(cells) of them."""
    if low == high:
        return F.lit(low)
    middle = (low + high) // 2
    below = _cell_of(value, edges, low, middle)
    return F.when(value < F.lit(edges[middle]), below).otherwise(_cell_of(value, edges, middle + 1, high))


def drift_columns(source: PreparedSource, label: str) -> list[MeasuredColumn]:
    """The features and the label, numeric ones with the cell edges of all labelled history."""
    numeric = [(name, _finite(quoted(name)), FEATURE) for name in source.numeric]
    if source.task == "regression":
        numeric.append((label, _finite(F.col(TARGET)), LABEL))
    edges = _cell_edges(source, [value for _, value, _ in numeric])
    columns = [
        MeasuredColumn(DriftColumn(name, role, True, column_edges), value)
        for (name, value, role), column_edges in zip(numeric, edges, strict=True)
    ]
    columns += [MeasuredColumn(DriftColumn(name, FEATURE, False), quoted(name)) for name in source.categorical]
    if source.task != "regression":
        columns.append(MeasuredColumn(DriftColumn(label, LABEL, False), F.col(TARGET)))
    return columns


def _finite(value: Column) -> Column:
    """The value as a double; null when it is NaN or infinite, which are counted as missing."""
    number = value.cast("double")
    return F.when(F.abs(number) <= F.lit(sys.float_info.max), number)


def _cell_edges(source: PreparedSource, values: list[Column]) -> list[tuple[float, ...]]:
    """The cell edges of each value over a row-hash sample of the labelled rows."""
    if not values:
        return []
    total = int(source.periods.loc[source.periods["slice_value"].isna(), "rows"].sum())
    keep = min(1.0, EDGE_SAMPLE_ROWS / max(total, 1))
    sampled = source.rows.where((F.col(ROW_HASH).bitwiseAND(F.lit(0xFFFFFF)) / F.lit(0x1000000)) < F.lit(keep))
    sample = sampled.select(*[v.cast("double").alias(f"_{i}") for i, v in enumerate(values)]).toPandas()
    return [grid_edges(sample[f"_{i}"].to_numpy(dtype=float)) for i in range(len(values))]


def grid_edges(values: np.ndarray) -> tuple[float, ...]:
    """The distinct inner percentiles of the finite values: GRID_CELLS cells of equal mass."""
    known = values[np.isfinite(values)]
    if not len(known):
        return ()
    return tuple(float(e) for e in np.unique(np.quantile(known, np.arange(1, GRID_CELLS) / GRID_CELLS)))


def period_histograms(rows: DataFrame, columns: list[MeasuredColumn]) -> pd.DataFrame:
    """(period_id, slice_value, column_name, bin, rows, value_sum): one pass over the rows,
    counted in Spark; slice_value is null when the study is not sliced."""
    slice_value = F.col(SLICE) if SLICE in rows.columns else F.lit(None).cast("string")
    cells = F.array(
        *[
            F.struct(
                F.lit(c.column.name).alias("column_name"),
                c.bin().alias("bin"),
                (c.value.cast("double") if c.column.numeric else F.lit(None).cast("double")).alias("value"),
            )
            for c in columns
        ]
    )
    return (
        rows.select(F.col(PERIOD).alias("period_id"), slice_value.alias("slice_value"), F.explode(cells).alias("cell"))
        .groupBy("period_id", "slice_value", "cell.column_name", "cell.bin")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("cell.value").alias("value_sum"))
        .toPandas()
    )
