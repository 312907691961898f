"""Run a plan on Spark: fits in parallel (one group per fit), then scoring grouped by period.

Raw rows reach the Python workers twice at most: once per fit whose window holds them (capped
by a seeded sample), and once for the period they are scored in, however many fits score that
period. Models travel as pickled bytes.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.kernels import (
    FIT_UNAVAILABLE,
    OK,
    PERIOD,
    ROW_HASH,
    KernelContext,
    ScoringRows,
    fit_model,
    score_model,
)
from retrain_advisor.plan import FitSpec, Plan
from retrain_advisor.source import PreparedSource

FIT_RESULT_SCHEMA = (
    "fit_id string, status string, reason string, train_rows_used bigint, "
    "train_class_counts map<string, bigint>, fit_seconds double, model binary"
)
SCORE_RESULT_SCHEMA = (
    "fit_id string, period_id int, status string, reason string, eval_rows_used bigint, "
    "eval_class_counts map<string, bigint>, metrics map<string, double>, score_seconds double"
)
SAMPLE_SCALE = float(2**31)


def _sample_key(*salt: str) -> F.Column:
    """A uniform number in [0, 1) per row and salt, reproducible from the row's content."""
    return (F.xxhash64(F.col(ROW_HASH), *[F.col(s) for s in salt]).bitwiseAND(F.lit(0x7FFFFFFF))) / SAMPLE_SCALE


def sampling_fraction(available: int, cap: int) -> float:
    return 1.0 if available <= cap else cap / available


def fit_windows(plan: Plan, source: PreparedSource) -> pd.DataFrame:
    """One row per (fit, training period): the rows to sample from and the fraction to keep."""
    records = []
    for fit in plan.sorted_fits():
        periods = [p for p in source.period_ids if fit.trains_on(p)]
        available = sum(source.labelled_rows(p) for p in periods)
        fraction = sampling_fraction(available, fit.max_rows)
        records += [(fit.fit_id, p, available, fraction) for p in periods]
    return pd.DataFrame.from_records(records, columns=["fit_id", PERIOD, "train_rows_available", "fraction"])


def _fit_groups(fits: dict[str, FitSpec], ctx: KernelContext) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def fit_group(rows: pd.DataFrame) -> pd.DataFrame:
        fit = fits[rows["fit_id"].iloc[0]]
        outcome = fit_model(rows, fit, ctx)
        return pd.DataFrame(
            [
                {
                    "fit_id": fit.fit_id,
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "train_rows_used": outcome.rows,
                    "train_class_counts": outcome.class_counts,
                    "fit_seconds": outcome.fit_seconds,
                    "model": outcome.model,
                }
            ]
        )

    return fit_group


def training_rows(spark: SparkSession, plan: Plan, source: PreparedSource) -> tuple[DataFrame, pd.DataFrame]:
    """Each fit's sampled training rows, tagged with `fit_id`, and the window table they came from."""
    windows = fit_windows(plan, source)
    window_df = spark.createDataFrame(
        windows, "fit_id string, period_id int, train_rows_available bigint, fraction double"
    )
    rows = (
        source.rows.join(F.broadcast(window_df.drop("train_rows_available")), PERIOD)
        .where(_sample_key("fit_id") < F.col("fraction"))
        .drop("fraction")
    )
    return rows, windows


def run_fits(spark: SparkSession, plan: Plan, source: PreparedSource, ctx: KernelContext) -> DataFrame:
    """Fit every planned model in parallel; fits whose window is empty come back as skipped."""
    rows, windows = training_rows(spark, plan, source)
    # One partition per fit, so fits spread over all task slots instead of being coalesced.
    by_fit = rows.repartition(max(len(plan.fits), 1), "fit_id")
    fitted = by_fit.groupBy("fit_id").applyInPandas(_fit_groups(plan.fits, ctx), FIT_RESULT_SCHEMA)
    available = windows.groupby("fit_id")["train_rows_available"].max()
    planned = spark.createDataFrame(
        [(fit_id, int(available.get(fit_id, 0))) for fit_id in sorted(plan.fits)],
        "fit_id string, train_rows_available bigint",
    )
    return planned.join(fitted, "fit_id", "left").select(
        "fit_id",
        "train_rows_available",
        F.coalesce("status", F.lit("skipped")).alias("status"),
        F.coalesce("reason", F.lit("no labelled rows in the training window")).alias("reason"),
        F.coalesce("train_rows_used", F.lit(0)).alias("train_rows_used"),
        "train_class_counts",
        F.coalesce("fit_seconds", F.lit(0.0)).alias("fit_seconds"),
        "model",
    )


def _score_groups(ctx: KernelContext) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    def score_group(rows: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
        prepared = ScoringRows.prepare(rows, ctx)
        results = []
        for model in models.sort_values("fit_id").itertuples(index=False):
            if model.status != OK:
                outcome_fields = {
                    "status": FIT_UNAVAILABLE,
                    "reason": f"fit {model.status}: {model.reason}",
                    "eval_rows_used": len(prepared),
                    "eval_class_counts": {},
                    "metrics": {},
                    "score_seconds": 0.0,
                }
            else:
                outcome = score_model(prepared, model.model, ctx)
                outcome_fields = {
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "eval_rows_used": outcome.rows,
                    "eval_class_counts": outcome.class_counts,
                    "metrics": outcome.metrics,
                    "score_seconds": outcome.score_seconds,
                }
            results.append({"fit_id": model.fit_id, "period_id": int(model.period_id), **outcome_fields})
        return pd.DataFrame(
            results,
            columns=[
                "fit_id",
                "period_id",
                "status",
                "reason",
                "eval_rows_used",
                "eval_class_counts",
                "metrics",
                "score_seconds",
            ],
        )

    return score_group


def scoring_rows(spark: SparkSession, plan: Plan, source: PreparedSource, max_rows: int, seed: int) -> DataFrame:
    """The sampled rows of every scored period: the same rows for every fit scored on it."""
    fractions = spark.createDataFrame(
        [(p, sampling_fraction(source.labelled_rows(p), max_rows), str(seed)) for p in plan.scored_periods()],
        "period_id int, fraction double, eval_salt string",
    )
    return (
        source.rows.join(F.broadcast(fractions), PERIOD)
        .where(_sample_key("eval_salt") < F.col("fraction"))
        .drop("fraction", "eval_salt")
    )


def run_scores(
    spark: SparkSession, plan: Plan, source: PreparedSource, fits: DataFrame, ctx: KernelContext, seed: int
) -> DataFrame:
    """Score every planned (fit, period) pair; each period's rows are grouped once with its models."""
    partitions = max(len(plan.scored_periods()), 1)
    test_rows = scoring_rows(spark, plan, source, ctx.limits.max_eval_rows, seed).repartition(partitions, PERIOD)
    pairs = spark.createDataFrame(
        [(e.fit_id, e.period_id) for e in plan.sorted_evaluations()], "fit_id string, period_id int"
    )
    models = pairs.join(fits.select("fit_id", "status", "reason", "model"), "fit_id").repartition(partitions, PERIOD)
    return (
        test_rows.groupBy(PERIOD).cogroup(models.groupBy(PERIOD)).applyInPandas(_score_groups(ctx), SCORE_RESULT_SCHEMA)
    )
