"""Questions 3 and 4, how much data and which data: paired comparisons of fits that share a
training end and are scored on the same test periods.

Each arm (a training size, a lookback, a recency weighting) gets one value per origin: the
primary metric averaged over the test periods. Arms are compared with a reference arm origin
by origin (paired), with a seeded bootstrap over origins.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.analyses.comparisons.rules import ARM_KEY
from retrain_advisor.analyses.evaluations import usable
from retrain_advisor.foundation.schemas import RUN_KEY, SCHEMAS, column_names
from retrain_advisor.foundation.vocabulary import LEARNING_CURVE, WINDOW_COMPARISON
from retrain_advisor.planning.plan import Plan

ARMS_SCHEMA = (
    "fit_id string, analysis string, axis string, train_end int, train_rows bigint, lookback int, "
    "half_life double, train_periods int"
)


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
        *RUN_KEY, "fit_id", F.col("metrics")[metric].alias("value"), "train_rows_used"
    )
    return (
        tested.join(arms, "fit_id")
        .groupBy(*RUN_KEY, *ARM_KEY, "train_end")
        .agg(
            F.avg("value").alias("value"),
            F.first("train_rows_used").alias("train_rows_used"),
            F.first("train_periods").alias("train_periods"),
        )
    )


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
