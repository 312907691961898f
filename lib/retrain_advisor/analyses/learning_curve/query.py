"""Question 3, how much data the model needs: the learning_curve table from the evaluations."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.analyses.comparisons.query import _as_table
from retrain_advisor.analyses.learning_curve.rules import learning_curve_rows
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.schemas import RUN_KEY, SCHEMAS
from retrain_advisor.foundation.vocabulary import LEARNING_CURVE


def learning_curve(
    values: DataFrame, metric: str, greater_is_better: bool, tolerance: ToleranceConfig, samples: int, seed: int
) -> DataFrame:
    """The learning_curve table: quality by training rows and by training periods."""

    def compute(frame: pd.DataFrame) -> pd.DataFrame:
        return learning_curve_rows(frame, greater_is_better, tolerance, samples, seed)

    return (
        values.where(F.col("analysis") == LEARNING_CURVE)
        .groupBy(*RUN_KEY)
        .applyInPandas(_as_table("learning_curve", metric, tolerance.confidence, compute), SCHEMAS["learning_curve"])
    )
