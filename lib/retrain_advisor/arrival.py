"""Question 2, how often new data arrives: rows, labels and label delay per period.

Spark aggregates the source per period (and slice); the result is one small row per period,
completed on the driver with the empty periods and the thin-period flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.config import PeriodUnit, Task
from retrain_advisor.kernels import PERIOD, SLICE, TARGET
from retrain_advisor.source import DELAY_DAYS, LABELLED, PreparedSource
from retrain_advisor.tables import by_slice

THIN_SHARE = 0.25  # a period with fewer labelled rows than this share of the median is thin
DAYS_PER_PERIOD = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
QUANTILES = {"label_delay_days_p50": 0.5, "label_delay_days_p90": 0.9}


def arrival_counts(source: PreparedSource) -> pd.DataFrame:
    """Per period (and per period and slice): rows, labelled rows, target summary, label delay quantiles."""
    rows = source.arrival_rows
    sliced = source.slice_key is not None
    grouped = rows.rollup(PERIOD, SLICE) if sliced else rows.groupBy(PERIOD)
    labelled = F.col(LABELLED)
    has_delay = DELAY_DAYS in rows.columns
    delay = F.when(labelled, F.col(DELAY_DAYS))
    aggregates = [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(labelled).alias("labelled_rows"),
        (F.avg(F.col(TARGET).cast("double")) if source.task != "multiclass" else F.lit(None).cast("double")).alias(
            "target_average"
        ),
        *[
            (F.percentile_approx(delay, q) if has_delay else F.lit(None).cast("double")).alias(name)
            for name, q in QUANTILES.items()
        ],
        (F.max(delay) if has_delay else F.lit(None).cast("double")).alias("label_delay_days_max"),
    ]
    counts = grouped.agg(*aggregates).where(F.col(PERIOD).isNotNull()).toPandas()
    counts = counts.rename(columns={PERIOD: "period_id", SLICE: "slice_value"})
    if "slice_value" not in counts:
        counts["slice_value"] = None
    counts["class_counts"] = _class_counts(rows, source, counts)
    return counts


def _class_counts(rows: DataFrame, source: PreparedSource, counts: pd.DataFrame) -> list[dict[str, int] | None]:
    """Labelled rows per class for each row of `counts` (None for regression)."""
    if source.task == "regression":
        return [None] * len(counts)
    keys = [PERIOD, SLICE] if source.slice_key else [PERIOD]
    per_class = rows.where(F.col(LABELLED)).groupBy(*keys, TARGET).count().toPandas()
    per_class = per_class.rename(columns={PERIOD: "period_id", SLICE: "slice_value", TARGET: "target"})
    if source.slice_key:
        overall = per_class.groupby(["period_id", "target"], as_index=False)["count"].sum().assign(slice_value=None)
        per_class = pd.concat([overall, per_class], ignore_index=True)
    else:
        per_class["slice_value"] = None
    table: dict[tuple, dict[str, int]] = {}
    for row in per_class.itertuples(index=False):
        table.setdefault((int(row.period_id), row.slice_value), {})[str(row.target)] = int(row.count)
    return [table.get((int(p), s), {}) for p, s in zip(counts["period_id"], counts["slice_value"], strict=True)]


def complete_periods(counts: pd.DataFrame, first: int, last: int, min_rows: int, task: Task) -> pd.DataFrame:
    """Every period first..last for every slice, empty ones included, with the empty and thin flags.

    A period is thin when its labelled rows fall below limits.min_eval_rows or a quarter of the
    median labelled rows of the non-empty periods of its slice.
    """
    frames = []
    for slice_value, group in by_slice(counts):
        full = group.set_index("period_id").reindex(range(first, last + 1))
        full.index.name = "period_id"
        full["slice_value"] = slice_value
        full[["rows", "labelled_rows"]] = full[["rows", "labelled_rows"]].fillna(0).astype("int64")
        median = float(np.median(full.loc[full["labelled_rows"] > 0, "labelled_rows"])) if len(group) else 0.0
        full["is_empty"] = full["labelled_rows"] == 0
        full["is_thin"] = ~full["is_empty"] & (full["labelled_rows"] < max(min_rows, THIN_SHARE * median))
        full["positive_rate"] = full["target_average"] if task == "binary" else np.nan
        full["target_mean"] = full["target_average"] if task == "regression" else np.nan
        frames.append(full.reset_index())
    return pd.concat(frames, ignore_index=True).drop(columns="target_average")


@dataclass(frozen=True)
class ArrivalSummary:
    """What the recommendation needs from one slice's arrival table."""

    batch_cadence_periods: int
    label_delay_periods: int  # the longer of the observed delay and windows.gap
    median_labelled_rows: float


def summarize_arrival(table: pd.DataFrame, gap: int, unit: PeriodUnit) -> ArrivalSummary:
    """Batch cadence: the median distance between periods with labelled data. Label delay: the
    90th percentile delay in whole periods (at least windows.gap, which the study was told)."""
    with_data = table.loc[~table["is_empty"], "period_id"].sort_values().to_numpy()
    cadence = round(float(np.median(np.diff(with_data)))) if len(with_data) > 1 else 1
    delays = table["label_delay_days_p90"].dropna()
    observed = math.ceil(float(delays.median()) / DAYS_PER_PERIOD[unit] - 1e-9) if len(delays) else None
    labelled = table.loc[~table["is_empty"], "labelled_rows"]
    return ArrivalSummary(
        batch_cadence_periods=max(cadence, 1),
        label_delay_periods=max(gap, observed or 0),
        median_labelled_rows=float(labelled.median()) if len(labelled) else 0.0,
    )
