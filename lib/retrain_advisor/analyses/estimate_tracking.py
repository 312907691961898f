"""How well quality estimated without labels tracked the measured quality, on this model's own
history: per metric and model age, and pooled over ages. No Spark here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.analyses.performance import metric_value
from retrain_advisor.foundation.frames import by_slice
from retrain_advisor.modelling.estimation import ESTIMATE_LEVEL
from retrain_advisor.modelling.metrics import Metric

# What this analysis reads of each evaluation, besides EVALUATION_COLUMNS.
ESTIMATE_COLUMNS = ["estimated_metrics", "estimated_metrics_low", "estimated_metrics_high"]
TRACKING_COLUMNS = [
    "slice_value",
    "metric",
    "model_age",
    "n_evaluations",
    "mean_measured",
    "mean_estimated",
    "mean_error",
    "mean_absolute_error",
    "correlation",
    "change_correlation",
    "interval_level",
    "interval_coverage",
    "mean_interval_width",
]
MIN_CORRELATED = 3


def estimate_pairs(evaluated: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Sufficient evaluations with both a measured and an estimated value of `metric`: fit_id,
    model_age, measured, estimated, low, high, and the change of each since the fit's youngest
    such evaluation (`is_fresh`: its fresh quality)."""
    columns = [
        "fit_id",
        "model_age",
        "measured",
        "estimated",
        "low",
        "high",
        "is_fresh",
        "measured_change",
        "estimated_change",
    ]
    if evaluated.empty or "estimated_metrics" not in evaluated:
        return pd.DataFrame(columns=columns)
    usable = evaluated[evaluated["is_sufficient"].fillna(False).astype(bool)]
    pairs = pd.DataFrame(
        {
            "fit_id": usable["fit_id"],
            "model_age": usable["model_age"].astype(int),
            "measured": [metric_value(m, metric) for m in usable["metrics"]],
            "estimated": [metric_value(m, metric) for m in usable["estimated_metrics"]],
            "low": [metric_value(m, metric) for m in usable["estimated_metrics_low"]],
            "high": [metric_value(m, metric) for m in usable["estimated_metrics_high"]],
        }
    ).dropna(subset=["measured", "estimated"])
    pairs = pairs.sort_values(["fit_id", "model_age"], kind="stable")
    fresh = pairs.groupby("fit_id")[["measured", "estimated"]].transform("first")
    return pairs.assign(
        is_fresh=pairs.groupby("fit_id").cumcount() == 0,
        measured_change=pairs["measured"] - fresh["measured"],
        estimated_change=pairs["estimated"] - fresh["estimated"],
    )[columns]


def estimate_tracking(evaluated: pd.DataFrame, metrics: Sequence[Metric]) -> pd.DataFrame:
    """TRACKING_COLUMNS: for each slice and metric, one row per model age and one pooled over
    ages (model_age null). `change_correlation` correlates the estimated with the measured change
    since the fit was fresh: whether the estimate sees the decay, not only the level."""
    rows = []
    for key, part in by_slice(evaluated):
        for metric in metrics:
            pairs = estimate_pairs(part, metric.name)
            if pairs.empty:
                continue
            rows.append({"slice_value": key, "metric": metric.name, "model_age": None, **_agreement(pairs)})
            for age in sorted(pairs["model_age"].unique()):
                at_age = pairs[pairs["model_age"] == age]
                rows.append({"slice_value": key, "metric": metric.name, "model_age": int(age), **_agreement(at_age)})
    return pd.DataFrame(rows, columns=TRACKING_COLUMNS)


def _agreement(pairs: pd.DataFrame) -> dict[str, Any]:
    error = pairs["estimated"] - pairs["measured"]
    has_interval = pairs["low"].notna() & pairs["high"].notna()
    bounded = pairs[has_interval]
    covered = (bounded["low"] <= bounded["measured"]) & (bounded["measured"] <= bounded["high"])
    aged = pairs[~pairs["is_fresh"]]
    return {
        "n_evaluations": len(pairs),
        "mean_measured": float(pairs["measured"].mean()),
        "mean_estimated": float(pairs["estimated"].mean()),
        "mean_error": float(error.mean()),
        "mean_absolute_error": float(error.abs().mean()),
        "correlation": _correlation(pairs["estimated"], pairs["measured"]),
        "change_correlation": _correlation(aged["estimated_change"], aged["measured_change"]),
        "interval_level": ESTIMATE_LEVEL,
        "interval_coverage": float(covered.mean()) if len(bounded) else None,
        "mean_interval_width": float((bounded["high"] - bounded["low"]).mean()) if len(bounded) else None,
    }


def _correlation(a: pd.Series, b: pd.Series) -> float | None:
    if len(a) < MIN_CORRELATED or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a.to_numpy(dtype=float), b.to_numpy(dtype=float))[0, 1])
