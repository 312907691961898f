"""Drift of every feature and of the label, per period, from one pass over the rows; and of the
model's predictions, from the counts the scoring kept.

Each Spark task counts its rows' values per period in shared bins, with numpy in the Python
worker (numeric columns: fine cells, the percentiles of all history, found by binary search;
categorical columns and classification labels: one bin per value), with nulls apart, and Spark
adds the tasks' counts. That table is small (periods x columns x bins) and every comparison is made
from it on the driver: a training window's histogram is the sum of its periods' histograms, so
the drift of a scored period against any fit's training window costs no further pass over the
rows, and PSI and JS distance group the cells into the deciles of that window alone.

Drift is measured on the labelled rows, the rows every quality figure is measured on, for each
slice when the study is sliced (all rows are the sum of the slices' counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

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


def drift_columns(source: PreparedSource, label: str) -> list[MeasuredColumn]:
    """The features and the label, numeric ones with the cell edges of all labelled history."""
    numeric = [(name, quoted(name).cast("double"), FEATURE) for name in source.numeric]
    if source.task == "regression":
        numeric.append((label, F.col(TARGET).cast("double"), LABEL))
    edges = _cell_edges(source, [value for _, value, _ in numeric])
    columns = [
        MeasuredColumn(DriftColumn(name, role, True, column_edges), value)
        for (name, value, role), column_edges in zip(numeric, edges, strict=True)
    ]
    columns += [
        MeasuredColumn(DriftColumn(name, FEATURE, False), quoted(name).cast("string")) for name in source.categorical
    ]
    if source.task != "regression":
        columns.append(MeasuredColumn(DriftColumn(label, LABEL, False), F.col(TARGET).cast("string")))
    return columns


def _cell_edges(source: PreparedSource, values: list[Column]) -> list[tuple[float, ...]]:
    """The cell edges of each value over a row-hash sample of the labelled rows."""
    if not values:
        return []
    total = int(source.periods.loc[source.periods["slice_value"].isna(), "rows"].sum())
    keep = min(1.0, EDGE_SAMPLE_ROWS / max(total, 1))
    sampled = source.rows.where((F.col(ROW_HASH).bitwiseAND(F.lit(0xFFFFFF)) / F.lit(0x1000000)) < F.lit(keep))
    sample = sampled.select(*[v.alias(f"_{i}") for i, v in enumerate(values)]).toPandas()
    return [grid_edges(sample[f"_{i}"].to_numpy(dtype=float)) for i in range(len(values))]


def grid_edges(values: np.ndarray) -> tuple[float, ...]:
    """The distinct inner percentiles of the finite values: GRID_CELLS cells of equal mass."""
    known = values[np.isfinite(values)]
    if not len(known):
        return ()
    return tuple(float(e) for e in np.unique(np.quantile(known, np.arange(1, GRID_CELLS) / GRID_CELLS)))


def period_histograms(rows: DataFrame, columns: list[MeasuredColumn]) -> pd.DataFrame:
    """(period_id, slice_value, column_name, bin, rows, value_sum): one pass over the rows, each
    task counting its own rows in its Python worker and Spark adding the tasks' counts;
    slice_value is null when the study is not sliced."""
    slice_value = F.col(SLICE).cast("string") if SLICE in rows.columns else F.lit(None).cast("string")
    values = rows.select(
        F.col(PERIOD).cast("long").alias("period_id"),
        slice_value.alias("slice_value"),
        *[c.value.alias(f"_{i}") for i, c in enumerate(columns)],
    )
    counting = Counting(tuple((c.column.name, c.column.edges if c.column.numeric else None) for c in columns))
    return (
        values.mapInPandas(partial(count_task, counting), COUNTS_SCHEMA)
        .groupBy(*COUNT_KEYS)
        .agg(F.sum("rows").alias("rows"), F.sum("value_sum").alias("value_sum"))
        .toPandas()
    )


COUNT_KEYS = ["period_id", "slice_value", "column_name", "bin"]
COUNTS_SCHEMA = "period_id long, slice_value string, column_name string, bin string, rows long, value_sum double"


@dataclass(frozen=True)
class Counting:
    """What each task counts: every column's name and, for a numeric one, its cell edges (None:
    categorical, one bin per value). Travels to the Python workers with the task."""

    columns: tuple[tuple[str, tuple[float, ...] | None], ...]


def count_task(counting: Counting, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """One task's counts: every batch counted and added up as it goes (memory: about 64 batches'
    counts), so the task ships one small table."""
    parts: list[pd.DataFrame] = []
    for batch in batches:
        parts.append(count_batch(counting, batch))
        if len(parts) >= 64:
            parts = [_summed(parts)]
    if parts:
        yield _as_text(_summed(parts), ["slice_value", "bin"])


def _summed(parts: list[pd.DataFrame]) -> pd.DataFrame:
    counted = pd.concat(parts, ignore_index=True)
    return counted.groupby(COUNT_KEYS, dropna=False, sort=False)[["rows", "value_sum"]].sum(min_count=1).reset_index()


def _as_text(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """`names` as text or None: pandas turns a key column of nothing but None into NaN, which
    Arrow cannot write as a string."""
    for name in names:
        frame[name] = np.array([None if pd.isna(v) else str(v) for v in frame[name]], dtype=object)
    return frame


def count_batch(counting: Counting, batch: pd.DataFrame) -> pd.DataFrame:
    """Rows per (period, slice, column, bin) of one batch, and the sum of the numeric values in
    each. A numeric value's cell is the number of edges at or below it; NaN, infinite and null
    values have the null bin (None)."""
    slices, slice_values = pd.factorize(batch["slice_value"], use_na_sentinel=False)
    keys, group = np.unique(np.c_[batch["period_id"].to_numpy(dtype=np.int64), slices], axis=0, return_inverse=True)
    group = group.reshape(-1)
    frames = []
    for i, (name, edges) in enumerate(counting.columns):
        values = batch[f"_{i}"]
        if edges is None:
            sizes = values.groupby([group, values.to_numpy(dtype=object)], dropna=False).size()
            at, bins = sizes.index.get_level_values(0).to_numpy(), sizes.index.get_level_values(1)
            frame = pd.DataFrame({"group": at, "bin": [None if pd.isna(b) else str(b) for b in bins]})
            frame["rows"], frame["value_sum"] = sizes.to_numpy(), np.nan
        else:
            frame = _numeric_counts(values.to_numpy(dtype=float, na_value=np.nan), np.asarray(edges), group, len(keys))
        frames.append(frame.assign(column_name=name))
    counted = pd.concat(frames, ignore_index=True)
    at = counted.pop("group").to_numpy()
    counted["period_id"] = keys[at, 0]
    counted["slice_value"] = [slice_values[s] for s in keys[at, 1]]
    return counted[[*COUNT_KEYS, "rows", "value_sum"]]


def _numeric_counts(values: np.ndarray, edges: np.ndarray, group: np.ndarray, groups: int) -> pd.DataFrame:
    """Counts and value sums per (group, cell) of one numeric column; cell len(edges) + 1 holds
    the missing values."""
    missing = len(edges) + 1
    finite = np.isfinite(values)
    cell = np.where(finite, np.searchsorted(edges, values, side="right"), missing)
    flat = group * (missing + 1) + cell
    size = groups * (missing + 1)
    rows = np.bincount(flat, minlength=size)
    sums = np.bincount(flat, weights=np.where(finite, values, 0.0), minlength=size)
    occupied = np.flatnonzero(rows)
    cells = occupied % (missing + 1)
    return pd.DataFrame(
        {
            "group": occupied // (missing + 1),
            "bin": [None if c == missing else str(c) for c in cells],
            "rows": rows[occupied],
            "value_sum": np.where(cells == missing, np.nan, sums[occupied]),
        }
    )
