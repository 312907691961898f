"""Question 1, how quickly quality goes down: queries over the evaluation table.

`decay_curve` summarises every metric by model age across origins; `shelf_life` applies the
tolerance rule to the primary metric, pooled over origins and for each origin alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.analyses.decay.rules import shelf_life, summarize_age
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.schemas import RUN_KEY, SCHEMAS, WINDOW
from retrain_advisor.foundation.statistics import group_seed
from retrain_advisor.modelling.metrics import Metric

# shelf_life without `origin`: structs are added in Spark, not passed through pandas.
RULE_SCHEMA = SCHEMAS["shelf_life"].replace(f"origin {WINDOW}, ", "")


def aged_metrics(evaluations: DataFrame, metrics: list[Metric]) -> DataFrame:
    """One row per (evaluation, metric): the value, the fit's fresh value (age 0) and the drop.

    `usable` is false when the evaluation or its fit's age-0 evaluation is too small, or a value
    is missing; such rows are counted but left out of every aggregate.
    """
    directions = F.create_map(*[x for m in metrics for x in (F.lit(m.name), F.lit(m.greater_is_better))])
    # One row per metric name, not per map entry: an evaluation without values (failed, or no
    # rows) must still be counted as excluded.
    names = F.array(*[F.lit(m.name) for m in metrics])
    long = evaluations.select(
        *RUN_KEY, "fit_id", "origin", "model_age", "is_sufficient", "metrics", F.explode(names).alias("metric")
    ).select(
        *RUN_KEY,
        "fit_id",
        "origin",
        "model_age",
        "is_sufficient",
        "metric",
        F.col("metrics")[F.col("metric")].alias("value"),
    )
    fresh = long.where((F.col("model_age") == 0) & F.col("is_sufficient") & F.col("value").isNotNull()).select(
        F.col("fit_id").alias("_fit_id"),
        F.col("metric").alias("_metric"),
        F.col("slice_value").alias("_slice_value"),
        F.col("value").alias("fresh_value"),
    )
    same_fit = (
        (F.col("fit_id") == F.col("_fit_id"))
        & (F.col("metric") == F.col("_metric"))
        & F.col("slice_value").eqNullSafe(F.col("_slice_value"))
    )
    greater_is_better = directions[F.col("metric")]
    drop = F.when(greater_is_better, F.col("fresh_value") - F.col("value")).otherwise(
        F.col("value") - F.col("fresh_value")
    )
    return (
        long.join(fresh, same_fit, "left")
        .drop("_fit_id", "_metric", "_slice_value")
        .withColumn("greater_is_better", greater_is_better)
        .withColumn("drop", drop)
        .withColumn("relative_drop", F.try_divide(F.col("drop"), F.abs(F.col("fresh_value"))))
        .withColumn(
            "usable",
            F.col("is_sufficient") & F.col("value").isNotNull() & F.col("fresh_value").isNotNull() & ~F.isnan("value"),
        )
    )


def summarize_group(confidence: float, samples: int, seed: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def summarize(group: pd.DataFrame) -> pd.DataFrame:
        # Spark delivers a group's rows in no fixed order; the bootstrap must not depend on it.
        group = group.sort_values("fit_id", kind="stable")
        usable = group[group["usable"].fillna(False)]
        first = group.iloc[0]
        stats = summarize_age(
            usable["value"].to_numpy(float),
            usable["drop"].to_numpy(float),
            usable["relative_drop"].to_numpy(float),
            confidence,
            samples,
            group_seed(seed, first["slice_value"], first["metric"], first["model_age"]),
        )
        return pd.DataFrame(
            [
                {
                    **{k: first[k] for k in [*RUN_KEY, "metric", "greater_is_better", "model_age"]},
                    **stats,
                    "n_excluded": int(len(group) - len(usable)),
                    "confidence": confidence,
                }
            ]
        )

    return summarize


def decay_curve(aged: DataFrame, confidence: float, samples: int, seed: int) -> DataFrame:
    """Per (slice, metric, age): origins, mean, quartiles, bootstrap interval, drop from fresh quality."""
    columns = [
        *RUN_KEY,
        "metric",
        "greater_is_better",
        "model_age",
        "fit_id",
        "value",
        "drop",
        "relative_drop",
        "usable",
    ]
    return (
        aged.select(*columns)
        .groupBy(*RUN_KEY, "metric", "model_age")
        .applyInPandas(summarize_group(confidence, samples, seed), SCHEMAS["decay_curve"])
    )


def _apply_rule(
    tolerance: ToleranceConfig, min_origins: int, confidence: float
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def apply(curve: pd.DataFrame) -> pd.DataFrame:
        first = curve.iloc[0]
        greater = bool(first["greater_is_better"])
        result = shelf_life(curve, tolerance, greater, min_origins)
        fresh = curve.loc[curve["model_age"] == 0, "mean"]
        return pd.DataFrame(
            [
                {
                    **{k: first[k] for k in [*RUN_KEY, "metric", "fit_id"]},
                    "shelf_life_periods": result.periods,
                    "is_censored": result.censored,
                    "breach": result.breach,
                    "max_age_tested": result.max_age_tested,
                    "fresh_quality": float(fresh.iloc[0]) if len(fresh) else np.nan,
                    "decay_pattern": result.pattern,
                    "tolerance_absolute": tolerance.absolute,
                    "tolerance_relative": tolerance.relative,
                    "tolerance_floor": tolerance.floor,
                    "persistence": tolerance.persistence,
                    "confidence": confidence,
                }
            ]
        )

    return apply


def pooled_shelf_life(curve: DataFrame, metric: str, tolerance: ToleranceConfig) -> DataFrame:
    """The shelf life over all origins (fit_id and origin null), from the decay curve."""
    return (
        curve.where(F.col("metric") == metric)
        .withColumn("fit_id", F.lit(None).cast("string"))
        .groupBy(*RUN_KEY, "metric")
        .applyInPandas(_apply_rule(tolerance, tolerance.min_origins, tolerance.confidence), RULE_SCHEMA)
        .withColumn("origin", F.lit(None).cast(WINDOW))
    )


def origin_shelf_life(aged: DataFrame, metric: str, tolerance: ToleranceConfig) -> DataFrame:
    """The shelf life of each fit on its own: its values are their own interval (no resampling)."""
    value = F.col("value")
    per_origin = aged.where((F.col("metric") == metric) & F.col("usable")).select(
        *RUN_KEY,
        "metric",
        "greater_is_better",
        "fit_id",
        "model_age",
        F.lit(1).alias("n_origins"),
        value.alias("mean"),
        value.alias("q25"),
        value.alias("q75"),
        value.alias("ci_low"),
        value.alias("ci_high"),
        F.col("drop").alias("mean_drop"),
        F.col("drop").alias("drop_ci_low"),
        F.col("relative_drop").alias("relative_drop_ci_low"),
    )
    origins = aged.select("fit_id", "origin").distinct()
    return (
        per_origin.groupBy(*RUN_KEY, "metric", "fit_id")
        .applyInPandas(_apply_rule(tolerance, 1, tolerance.confidence), RULE_SCHEMA)
        .join(origins, "fit_id")
    )
