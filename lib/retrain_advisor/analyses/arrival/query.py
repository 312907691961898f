"""Question 2, how often new data arrives: rows, labels and label delay per period.

Spark aggregates the source per period (and slice); the result is one small row per period,
completed on the driver with the class counts of the source's profile, the empty periods and
the thin-period flags.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from retrain_advisor.foundation.vocabulary import DELAY_DAYS, LABELLED, PERIOD, SLICE, TARGET
from retrain_advisor.spark.source import PreparedSource

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
    return counts.assign(class_counts=pd.Series(_class_counts(source, counts), index=counts.index, dtype=object))


def _class_counts(source: PreparedSource, counts: pd.DataFrame) -> list[dict[str, int] | None]:
    """Labelled rows per class for each row of `counts` (None for regression), from the source's
    profile: its labelled rows are the usable rows."""
    if source.task == "regression":
        return [None] * len(counts)
    profile = source.periods
    table = {
        (int(p), _slice(s)): dict(c or {})
        for p, s, c in zip(profile["period_id"], profile["slice_value"], profile["class_counts"], strict=True)
    }
    return [table.get((int(p), _slice(s)), {}) for p, s in zip(counts["period_id"], counts["slice_value"], strict=True)]


def _slice(value: object) -> str | None:
    """A slice value as text; all rows (None or NaN in a frame) as None."""
    return value if isinstance(value, str) else None
