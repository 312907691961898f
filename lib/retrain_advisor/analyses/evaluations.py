"""Read the stored evaluation table once, to the driver: it is small (one row per fit, scored
period and slice), and every analysis of it runs in pandas from this one read."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame

from retrain_advisor.analyses.estimate_tracking import ESTIMATE_COLUMNS
from retrain_advisor.analyses.performance import EVALUATION_COLUMNS


def read_evaluations(evaluations: DataFrame) -> pd.DataFrame:
    """The columns the analyses read (`EVALUATION_COLUMNS`), the prediction counts that
    prediction drift compares, the metrics estimated without labels and the status (for the log)."""
    return evaluations.select(*EVALUATION_COLUMNS, "prediction_counts", *ESTIMATE_COLUMNS, "status").toPandas()
