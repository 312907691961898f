"""The performance matrix: the quality of the model trained at i measured on period j.

Every analysis of the evaluation table reads it as one long frame, one row per (slice, fit,
scored period, metric), read from the table once (`analyses/evaluations.py`) or simulated by
the calibration harness. No Spark here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retrain_advisor.foundation.vocabulary import OK
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.planning.plan import Plan

# What the analyses read of each evaluation (the evaluation table's columns).
EVALUATION_COLUMNS = [
    "slice_value",
    "fit_id",
    "model_age",
    "metrics",
    "is_sufficient",
    "eval_rows_available",
    "eval_rows_used",
    "train_rows_used",
    "fit_status",
]
# One row per (slice, fit, period, metric). `usable`: the evaluation is sufficient and the value
# measured; `rows`: the scored period's labelled rows (its weight); `fit_ok`: the fit trained;
# `estimate`: the value estimated without labels (NaN without estimation).
PERFORMANCE_COLUMNS = [
    "slice_value",
    "fit_id",
    "train_end",
    "period_id",
    "model_age",
    "metric",
    "greater_is_better",
    "value",
    "usable",
    "rows",
    "train_rows_used",
    "fit_ok",
    "estimate",
]


def performance_frame(evaluations: pd.DataFrame, plan: Plan, metrics: Sequence[Metric]) -> pd.DataFrame:
    """The long frame of every evaluation in `evaluations` (EVALUATION_COLUMNS) and metric."""
    if evaluations.empty:
        return pd.DataFrame(columns=PERFORMANCE_COLUMNS)
    train_end = evaluations["fit_id"].map({fit_id: fit.train_end for fit_id, fit in plan.fits.items()})
    rows = evaluations["eval_rows_available"].astype("Float64").fillna(evaluations["eval_rows_used"])
    base = pd.DataFrame(
        {
            "slice_value": [None if pd.isna(v) else str(v) for v in evaluations["slice_value"]],
            "fit_id": evaluations["fit_id"],
            "train_end": train_end.astype(int),
            "period_id": (train_end + evaluations["model_age"]).astype(int),
            "model_age": evaluations["model_age"].astype(int),
            "sufficient": evaluations["is_sufficient"].fillna(False).astype(bool),
            "rows": rows.fillna(0).astype(float),
            "train_rows_used": evaluations["train_rows_used"].fillna(0).astype(float),
            "fit_ok": (evaluations["fit_status"] == OK).to_numpy(),
            "metrics": evaluations["metrics"],
            "estimated": evaluations["estimated_metrics"] if "estimated_metrics" in evaluations else None,
        }
    )
    parts = []
    for metric in metrics:
        values = pd.Series([metric_value(m, metric.name) for m in base["metrics"]], index=base.index, dtype=float)
        estimates = pd.Series([metric_value(m, metric.name) for m in base["estimated"]], index=base.index, dtype=float)
        parts.append(
            base.drop(columns=["metrics", "estimated"]).assign(
                metric=metric.name, greater_is_better=metric.greater_is_better, value=values, estimate=estimates
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["usable"] = frame["sufficient"] & np.isfinite(frame["value"].to_numpy(dtype=float))
    return frame[PERFORMANCE_COLUMNS]


def metric_value(metrics: object, name: str) -> float:
    """One metric's value from the evaluation's map (a dict, or a list of pairs from Arrow)."""
    if metrics is None:
        return np.nan
    found = dict(metrics).get(name) if not isinstance(metrics, dict) else metrics.get(name)  # type: ignore[call-overload]
    return np.nan if found is None else float(found)


def of_metric(frame: pd.DataFrame, metric: str, slice_value: str | None = None) -> pd.DataFrame:
    """The rows of one metric, for all rows (slice None) or one slice."""
    rows = frame[frame["metric"] == metric]
    same_slice = rows["slice_value"].isna() if slice_value is None else rows["slice_value"] == slice_value
    return rows[same_slice]


def slice_values(frame: pd.DataFrame) -> list[str | None]:
    """None (all rows) first, then every slice value present."""
    present = sorted({str(v) for v in frame["slice_value"].dropna().unique()})
    return [None, *present]
