"""Question 2, how often new data arrives: the pure rules over the per-period counts.

Every period is completed (empty ones included) and flagged thin or empty; the summary gives
the batch cadence, the label delay and the labelled rows per period. No Spark here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.foundation.config import PeriodUnit, Task
from retrain_advisor.foundation.frames import by_slice

THIN_SHARE = 0.25  # a period with fewer labelled rows than this share of the median is thin


DAYS_PER_PERIOD = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


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
    observed_delay_periods: int | None = None  # the 90th percentile label delay, in whole periods
    positive_rate_range: tuple[float, float] | None = None  # binary: 10th and 90th percentile over periods


def summarize_arrival(table: pd.DataFrame, gap: int, unit: PeriodUnit) -> ArrivalSummary:
    """Batch cadence: the median distance between periods with labelled data. Label delay: the
    90th percentile delay in whole periods (at least windows.gap, which the study was told)."""
    with_data = table.loc[~table["is_empty"], "period_id"].sort_values().to_numpy()
    cadence = round(float(np.median(np.diff(with_data)))) if len(with_data) > 1 else 1
    delays = table["label_delay_days_p90"].dropna()
    observed = math.ceil(float(delays.median()) / DAYS_PER_PERIOD[unit] - 1e-9) if len(delays) else None
    labelled = table.loc[~table["is_empty"], "labelled_rows"]
    rates = table.loc[~table["is_empty"] & ~table["is_thin"], "positive_rate"].dropna().to_numpy(dtype=float)
    return ArrivalSummary(
        batch_cadence_periods=max(cadence, 1),
        label_delay_periods=max(gap, observed or 0),
        median_labelled_rows=float(labelled.median()) if len(labelled) else 0.0,
        observed_delay_periods=observed,
        positive_rate_range=(float(np.quantile(rates, 0.1)), float(np.quantile(rates, 0.9))) if len(rates) else None,
    )
