"""Question 4, whether to drop old data: the window_comparison table from the evaluations."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.analyses.comparisons.query import _as_table
from retrain_advisor.analyses.comparisons.rules import compare_arms
from retrain_advisor.foundation.schemas import RUN_KEY, SCHEMAS
from retrain_advisor.foundation.vocabulary import WINDOW_COMPARISON


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
        .groupBy(*RUN_KEY)
        .applyInPandas(_as_table("window_comparison", metric, confidence, compute), schema)
    )
