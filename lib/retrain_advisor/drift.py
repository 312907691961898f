"""Drift of every feature and of the label, per period, from one Spark aggregation; and of the
model's predictions, from the counts the scoring kept.

Spark counts each column's values per period in shared bins (numeric columns: deciles of all
history; categorical columns and classification labels: one bin per value), with nulls apart.
That table is small (periods x columns x bins) and every comparison is made from it on the
driver: a training window's histogram is the sum of its periods' histograms, so the drift of a
scored period against any fit's training window costs no further pass over the rows.

Drift is measured on the labelled rows, the rows every quality figure is measured on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retrain_advisor.drift_stats import DriftStatistics, Histogram, add, compare
from retrain_advisor.kernels import PERIOD, ROW_HASH, TARGET
from retrain_advisor.plan import Plan
from retrain_advisor.source import PreparedSource

QUANTILES = [i / 10 for i in range(1, 10)]
# Bin edges come from a seeded sample of about this many rows, taken by row hash: the same rows
# however the data is partitioned, so the same edges on a laptop and on a cluster.
EDGE_SAMPLE_ROWS = 200_000
CONSECUTIVE = "CONSECUTIVE"
BASELINE = "BASELINE"
FEATURE = "feature"
LABEL = "label"
PREDICTION = "prediction"
PREDICTION_COLUMN = "(prediction)"  # in parentheses: no feature can be named so


@dataclass(frozen=True)
class DriftColumn:
    """A column whose drift is measured: its output name, the expression it is read from, and
    its bins (numeric: ascending inner edges; categorical: none, one bin per value)."""

    name: str
    role: str
    numeric: bool
    value: Column
    edges: tuple[float, ...] = ()

    def bin(self) -> Column:
        """The bin of each row as text (the decile index, or the value); null for a null value."""
        if not self.numeric:
            return self.value.cast("string")
        index = F.lit(len(self.edges))
        for position, edge in reversed(list(enumerate(self.edges))):
            index = F.when(self.value < F.lit(edge), F.lit(position)).otherwise(index)
        return F.when(self.value.isNotNull(), index.cast("string"))


def drift_columns(source: PreparedSource, label: str) -> list[DriftColumn]:
    """The features and the label, numeric ones with decile edges of all labelled history."""
    numeric = [(name, F.col(name), FEATURE) for name in source.numeric]
    if source.task == "regression":
        numeric.append((label, F.col(TARGET).cast("double"), LABEL))
    edges = _decile_edges(source, [value for _, value, _ in numeric])
    columns = [
        DriftColumn(name, role, True, value, column_edges)
        for (name, value, role), column_edges in zip(numeric, edges, strict=True)
    ]
    columns += [DriftColumn(name, FEATURE, False, F.col(name)) for name in source.categorical]
    if source.task != "regression":
        columns.append(DriftColumn(label, LABEL, False, F.col(TARGET)))
    return columns


def _decile_edges(source: PreparedSource, values: list[Column]) -> list[tuple[float, ...]]:
    """Distinct inner decile edges of each value over a row-hash sample of the labelled rows."""
    if not values:
        return []
    total = int(source.periods.loc[source.periods["slice_value"].isna(), "rows"].sum())
    keep = min(1.0, EDGE_SAMPLE_ROWS / max(total, 1))
    sampled = source.rows.where((F.col(ROW_HASH).bitwiseAND(F.lit(0xFFFFFF)) / F.lit(0x1000000)) < F.lit(keep))
    sample = sampled.select(*[v.cast("double").alias(f"_{i}") for i, v in enumerate(values)]).toPandas()
    edges = []
    for i in range(len(values)):
        known = sample[f"_{i}"].to_numpy(dtype=float)
        known = known[np.isfinite(known)]
        edges.append(tuple(np.unique(np.quantile(known, QUANTILES))) if len(known) else ())
    return edges


def period_histograms(rows: DataFrame, columns: list[DriftColumn]) -> pd.DataFrame:
    """(period_id, column_name, bin, rows, value_sum): one pass over the rows, counted in Spark."""
    cells = F.array(
        *[
            F.struct(
                F.lit(c.name).alias("column_name"),
                c.bin().alias("bin"),
                (c.value.cast("double") if c.numeric else F.lit(None).cast("double")).alias("value"),
            )
            for c in columns
        ]
    )
    return (
        rows.select(F.col(PERIOD).alias("period_id"), F.explode(cells).alias("cell"))
        .groupBy("period_id", "cell.column_name", "cell.bin")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("cell.value").alias("value_sum"))
        .toPandas()
    )


@dataclass(frozen=True)
class ColumnHistograms:
    """One column's histogram per period, on bins shared by every period."""

    column: DriftColumn
    by_period: dict[int, Histogram]

    def window(self, start: int, stop: int) -> Histogram | None:
        """The histogram of periods [start, stop), or None when none of them has rows."""
        parts = [self.by_period[p] for p in range(start, stop) if p in self.by_period]
        return add(parts) if parts else None


def column_histograms(counts: pd.DataFrame, columns: list[DriftColumn]) -> list[ColumnHistograms]:
    result = []
    for column in columns:
        rows = counts[counts["column_name"] == column.name]
        binned = rows[rows["bin"].notna()]
        if column.numeric:
            bins = [str(i) for i in range(len(column.edges) + 1)]
            totals = binned.groupby("bin")[["rows", "value_sum"]].sum().reindex(bins)
            # the mean value of each bin over all history; NaN for a bin no row fell in, which
            # every comparison drops as empty on both sides
            centers = (totals["value_sum"] / totals["rows"]).to_numpy(dtype=float)
        else:
            bins = sorted(binned["bin"].unique())
            centers = None
        table = binned.pivot_table(index="period_id", columns="bin", values="rows", aggfunc="sum", fill_value=0)
        table = table.reindex(columns=bins, fill_value=0)
        nulls = rows[rows["bin"].isna()].groupby("period_id")["rows"].sum()
        periods = sorted(set(table.index) | set(nulls.index))
        by_period = {
            int(p): Histogram(
                counts=table.loc[p].to_numpy(dtype=float) if p in table.index else np.zeros(len(bins)),
                nulls=int(nulls.get(p, 0)),
                centers=centers,
            )
            for p in periods
        }
        result.append(ColumnHistograms(column, by_period))
    return result


def _statistics_row(stats: DriftStatistics) -> dict[str, object]:
    def test(statistic: float | None, pvalue: float | None) -> dict[str, float | None] | None:
        return None if statistic is None else {"statistic": statistic, "pvalue": pvalue}

    return {
        "count": stats.count,
        "count_cmp": stats.count_cmp,
        "count_delta": stats.count_delta,
        "null_rate": stats.null_rate,
        "null_rate_delta": stats.null_rate_delta,
        "population_stability_index": stats.population_stability_index,
        "js_distance": stats.js_distance,
        "ks_test": test(stats.ks_statistic, stats.ks_pvalue),
        "wasserstein_distance": stats.wasserstein_distance,
        "chi_squared_test": test(stats.chi_squared_statistic, stats.chi_squared_pvalue),
        "tv_distance": stats.tv_distance,
        "l_infinity_distance": stats.l_infinity_distance,
    }


def drift_rows(histograms: list[ColumnHistograms], plan: Plan) -> Iterator[dict[str, object]]:
    """feature_drift rows (period ids in place of windows): each period against the previous one
    (CONSECUTIVE), and each scored period of each fit against that fit's training window
    (BASELINE)."""
    windows = {f.fit_id: (f.train_start, f.train_stop) for f in plan.fits.values()}
    for column in histograms:
        baselines: dict[tuple[int, int], Histogram | None] = {}
        described = {"column_name": column.column.name, "column_role": column.column.role}
        described["data_type"] = "numeric" if column.column.numeric else "categorical"
        periods = sorted(column.by_period)
        for previous, current in zip(periods, periods[1:], strict=False):
            stats = compare(column.by_period[current], column.by_period[previous], column.column.numeric)
            yield {
                **described,
                "drift_type": CONSECUTIVE,
                "period_id": current,
                "cmp_start": previous,
                "cmp_stop": previous + 1,
                **_statistics_row(stats),
            }
        for evaluation in plan.sorted_evaluations():
            start, stop = windows[evaluation.fit_id]
            if (start, stop) not in baselines:
                baselines[(start, stop)] = column.window(start, stop)
            baseline = baselines[(start, stop)]
            current = column.by_period.get(evaluation.period_id)
            if baseline is None or current is None:
                continue
            yield {
                **described,
                "drift_type": BASELINE,
                "fit_id": evaluation.fit_id,
                "model_age": evaluation.model_age,
                "period_id": evaluation.period_id,
                "cmp_start": start,
                "cmp_stop": stop,
                **_statistics_row(compare(current, baseline, column.column.numeric)),
            }


def prediction_drift_rows(scored: pd.DataFrame, task: str) -> Iterator[dict[str, object]]:
    """BASELINE rows of the column `prediction`: each evaluation's distribution of predictions
    (`evaluations.prediction_counts`) against the same fit's at age 0, the first period it served
    (the training rows themselves are never scored). Binary predictions are numeric, in equal
    probability bins; multiclass ones categorical, one bin per class."""
    numeric = task == "binary"
    if scored.empty or task == "regression":
        return
    for fit_id, evaluations in scored.groupby("fit_id", sort=True):
        fresh = evaluations[evaluations["model_age"] == 0]
        if fresh.empty or fresh["prediction_counts"].iloc[0] is None:
            continue
        baseline = _prediction_histogram(fresh.iloc[0]["prediction_counts"], numeric)
        for row in evaluations[evaluations["model_age"] > 0].itertuples():
            if row.prediction_counts is None:
                continue
            current = _prediction_histogram(row.prediction_counts, numeric)
            yield {
                "column_name": PREDICTION_COLUMN,
                "column_role": PREDICTION,
                "data_type": "numeric" if numeric else "categorical",
                "drift_type": BASELINE,
                "fit_id": fit_id,
                "model_age": int(row.model_age),
                "period_id": int(row.period_id),
                "cmp_start": int(fresh.iloc[0]["period_id"]),
                "cmp_stop": int(fresh.iloc[0]["period_id"]) + 1,
                **_statistics_row(compare(current, baseline, numeric)),
            }


def _prediction_histogram(counts: object, numeric: bool) -> Histogram:
    values = np.asarray(counts, dtype=float)
    centers = (np.arange(len(values)) + 0.5) / len(values) if numeric else None
    return Histogram(counts=values, nulls=0, centers=centers)
