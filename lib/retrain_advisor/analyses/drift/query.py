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
from retrain_advisor.foundation.vocabulary import FEATURE, LABEL, PERIOD, SLICE, TARGET
from retrain_advisor.spark.columns import quoted
from retrain_advisor.spark.source import PreparedSource

# Numeric values are counted in this many cells of equal mass over all history (fewer where
# values repeat): fine enough that the deciles of any training window are placed within half a
# cell, few enough that the counts stay periods x columns x cells.
GRID_CELLS = 100


@dataclass(frozen=True)
class MeasuredColumn:
    """A drift column and the Spark expression its values are read from."""

    column: DriftColumn
    value: Column


def drift_columns(source: PreparedSource, label: str) -> list[MeasuredColumn]:
    """The features and the label, numeric ones with the cell edges of all labelled history (from
    prepare's row-hash sample: the same rows however the data is partitioned, so the same edges on
    a laptop and on a cluster)."""
    numeric = [(name, quoted(name).cast("double"), FEATURE, name) for name in source.numeric]
    if source.task == "regression":
        numeric.append((label, F.col(TARGET).cast("double"), LABEL, TARGET))
    columns = [
        MeasuredColumn(DriftColumn(name, role, True, grid_edges(source.value_samples[sampled])), value)
        for name, value, role, sampled in numeric
    ]
    columns += [
        MeasuredColumn(DriftColumn(name, FEATURE, False), quoted(name).cast("string")) for name in source.categorical
    ]
    if source.task != "regression":
        columns.append(MeasuredColumn(DriftColumn(label, LABEL, False), F.col(TARGET).cast("string")))
    return columns


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
    values have the null bin (None). Every column is counted with one `bincount` over
    (period, slice, bin) codes."""
    periods, period_values = pd.factorize(batch["period_id"].to_numpy(dtype=np.int64))
    slices, slice_values = pd.factorize(batch["slice_value"], use_na_sentinel=False)
    group = periods * len(slice_values) + slices
    groups = len(period_values) * len(slice_values)
    parts = [
        _numeric_counts(batch[f"_{i}"].to_numpy(dtype=float, na_value=np.nan), np.asarray(edges), group, groups)
        if edges is not None
        else _value_counts(batch[f"_{i}"], group, groups)
        for i, (_, edges) in enumerate(counting.columns)
    ]
    at = np.concatenate([p.group for p in parts])
    return pd.DataFrame(
        {
            "period_id": period_values[at // len(slice_values)],
            "slice_value": slice_values[at % len(slice_values)],
            "column_name": np.repeat([name for name, _ in counting.columns], [len(p.group) for p in parts]),
            "bin": np.concatenate([p.bins for p in parts]),
            "rows": np.concatenate([p.rows for p in parts]),
            "value_sum": np.concatenate([p.value_sums for p in parts]),
        }
    )


@dataclass(frozen=True)
class _Counted:
    """One column's occupied (group, bin) pairs in a batch."""

    group: np.ndarray
    bins: np.ndarray  # text, None for missing values
    rows: np.ndarray
    value_sums: np.ndarray  # NaN for a categorical column and for missing values


def _value_counts(values: pd.Series, group: np.ndarray, groups: int) -> _Counted:
    """Counts per (group, value) of one categorical column; missing values have the last bin."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    width = len(uniques) + 1
    cell = np.where(codes < 0, len(uniques), codes)
    rows = np.bincount(group * width + cell, minlength=groups * width)
    occupied = np.flatnonzero(rows)
    bins = np.array([*(str(u) for u in uniques), None], dtype=object)
    return _Counted(occupied // width, bins[occupied % width], rows[occupied], np.full(len(occupied), np.nan))


def _numeric_counts(values: np.ndarray, edges: np.ndarray, group: np.ndarray, groups: int) -> _Counted:
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
    bins = np.array([None if c == missing else str(c) for c in cells], dtype=object)
    return _Counted(occupied // (missing + 1), bins, rows[occupied], np.where(cells == missing, np.nan, sums[occupied]))
