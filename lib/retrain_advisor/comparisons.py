"""Questions 3 and 4, how much data and which data: paired comparisons of fits that share a
training end and are scored on the same test periods.

Each arm (a training size, a lookback, a recency weighting) gets one value per origin: the
primary metric averaged over the test periods. Arms are compared with a reference arm origin
by origin (paired), with a seeded bootstrap over origins.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.config import ToleranceConfig
from retrain_advisor.decay import GROUP, usable
from retrain_advisor.designs import LEARNING_CURVE, ROWS, WINDOW_COMPARISON
from retrain_advisor.plan import Plan
from retrain_advisor.shelf_life import acceptable_drop, bootstrap_mean_interval, group_seed
from retrain_advisor.tables import SCHEMAS, column_names

ARMS_SCHEMA = (
    "fit_id string, analysis string, axis string, train_end int, train_rows bigint, lookback int, "
    "half_life double, train_periods int"
)
ARM_KEY = ["analysis", "axis", "train_rows", "lookback", "half_life"]


def arms_frame(spark: SparkSession, plan: Plan) -> DataFrame:
    """The arms of the comparisons, one row per (arm, origin), with the fit that serves each."""
    rows = [
        (
            a.fit_id,
            a.analysis,
            a.axis,
            a.train_end,
            a.train_rows,
            a.lookback,
            a.half_life,
            plan.fits[a.fit_id].train_stop - plan.fits[a.fit_id].train_start,
        )
        for a in plan.sorted_arms()
        if a.analysis in (LEARNING_CURVE, WINDOW_COMPARISON)
    ]
    return spark.createDataFrame(rows, ARMS_SCHEMA)


def arm_values(evaluations: DataFrame, arms: DataFrame, metric: str, test_periods: int) -> DataFrame:
    """Per slice, arm and origin: the metric averaged over the usable test periods.

    A fit other analyses share is scored at more ages; only the test periods count, so every arm
    is measured on the same periods.
    """
    tested = evaluations.where((F.col("model_age") < test_periods) & usable(metric)).select(
        *GROUP, "fit_id", F.col("metrics")[metric].alias("value"), "train_rows_used"
    )
    return (
        tested.join(arms, "fit_id")
        .groupBy(*GROUP, *ARM_KEY, "train_end")
        .agg(
            F.avg("value").alias("value"),
            F.first("train_rows_used").alias("train_rows_used"),
            F.first("train_periods").alias("train_periods"),
        )
    )


def _arm_label(frame: pd.DataFrame) -> pd.Series:
    return frame[["train_rows", "lookback", "half_life"]].astype(str).agg("|".join, axis=1)


def compare_arms(
    per_origin: pd.DataFrame,
    reference: pd.Series,
    greater_is_better: bool,
    confidence: float,
    samples: int,
    seed: int,
) -> pd.DataFrame:
    """One row per arm: spread across origins, and the paired difference arm - reference.

    `reference` marks the reference arm's rows. Differences are in the better direction:
    positive means the arm beats the reference. Only origins measured in both arms pair up.
    """
    sign = 1.0 if greater_is_better else -1.0
    per_origin = per_origin.assign(arm=_arm_label(per_origin))
    base = per_origin[reference].set_index("train_end")["value"]
    rows = []
    for arm, group in per_origin.groupby("arm", sort=False):
        group = group.sort_values("train_end")
        first = group.iloc[0]
        arm_seed = group_seed(seed, first["slice_value"], first["analysis"], first["axis"], arm)
        values = group["value"].to_numpy(float)
        low, high = bootstrap_mean_interval(values, confidence, samples, arm_seed)
        paired = group.set_index("train_end")["value"].align(base, join="inner")
        diffs = sign * (paired[0] - paired[1]).to_numpy(float)
        diff_low, diff_high = bootstrap_mean_interval(diffs, confidence, samples, arm_seed + 1)
        rows.append(
            {
                **{k: first[k] for k in [*GROUP, *ARM_KEY]},
                "n_origins": len(group),
                "train_rows_used": float(group["train_rows_used"].mean()),
                "train_periods": float(group["train_periods"].mean()),
                "mean": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "mean_diff": float(diffs.mean()) if len(diffs) else np.nan,
                "diff_ci_low": diff_low,
                "diff_ci_high": diff_high,
                "is_reference": bool(reference[group.index].all()),
            }
        )
    return pd.DataFrame(rows)


def learning_curve_rows(
    per_origin: pd.DataFrame, greater_is_better: bool, tolerance: ToleranceConfig, samples: int, seed: int
) -> pd.DataFrame:
    """Both axes of one slice's learning curve, each against its largest arm.

    The minimum is the smallest arm whose mean drop from the largest is within tolerance.
    """
    parts = []
    for axis, frame in per_origin.groupby("axis"):
        size = frame["train_rows"] if axis == ROWS else frame["lookback"].fillna(np.inf)
        compared = compare_arms(
            frame, size == size.max(), greater_is_better, tolerance.confidence, samples, seed
        ).rename(columns={"is_reference": "is_largest"})
        compared["drop_from_largest"] = -compared["mean_diff"]
        compared["drop_ci_low"] = -compared["diff_ci_high"]
        compared["drop_ci_high"] = -compared["diff_ci_low"]
        largest = compared.loc[compared["is_largest"], "mean"]
        limit = acceptable_drop(tolerance, float(largest.iloc[0]) if len(largest) else np.nan, greater_is_better)
        compared["is_within_tolerance"] = compared["drop_from_largest"] <= limit
        order = compared["train_rows"] if axis == ROWS else compared["lookback"].fillna(np.inf)
        smallest = order[compared["is_within_tolerance"]].min()
        compared["is_minimum"] = compared["is_within_tolerance"] & (order == smallest)
        parts.append(compared)
    return pd.concat(parts, ignore_index=True)


RENAMED = {"train_rows": "train_rows_max", "lookback": "lookback_periods", "half_life": "half_life_periods"}


def _as_table(
    table: str, metric: str, confidence: float, compute: Callable[[pd.DataFrame], pd.DataFrame]
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Wrap a per-slice computation so its result has the output table's columns."""
    names = column_names(SCHEMAS[table])

    def apply(per_origin: pd.DataFrame) -> pd.DataFrame:
        result = compute(per_origin).rename(columns=RENAMED).assign(metric=metric, confidence=confidence)
        return result.reindex(columns=names)

    return apply


def learning_curve(
    values: DataFrame, metric: str, greater_is_better: bool, tolerance: ToleranceConfig, samples: int, seed: int
) -> DataFrame:
    """The learning_curve table: quality by training rows and by training periods."""

    def compute(frame: pd.DataFrame) -> pd.DataFrame:
        return learning_curve_rows(frame, greater_is_better, tolerance, samples, seed)

    return (
        values.where(F.col("analysis") == LEARNING_CURVE)
        .groupBy(*GROUP)
        .applyInPandas(_as_table("learning_curve", metric, tolerance.confidence, compute), SCHEMAS["learning_curve"])
    )


def window_comparison(
    values: DataFrame, metric: str, greater_is_better: bool, confidence: float, samples: int, seed: int
) -> DataFrame:
    """The window_comparison table: every lookback and weighting against all history, unweighted."""

    def compute(frame: pd.DataFrame) -> pd.DataFrame:
        reference = frame["lookback"].isna() & frame["half_life"].isna()
        return compare_arms(frame, reference, greater_is_better, confidence, samples, seed)

    schema = SCHEMAS["window_comparison"]
    return (
        values.where(F.col("analysis") == WINDOW_COMPARISON)
        .groupBy(*GROUP)
        .applyInPandas(_as_table("window_comparison", metric, confidence, compute), schema)
    )
