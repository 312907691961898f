"""Run a plan on Spark: groups of alike fits, one group per task, then blocks of scored periods.

Raw rows reach the Python workers at most twice: once per fit group whose windows hold them
(capped by a seeded sample that every fit shares, so a row that several fits of a group train on
travels once), and once for the period they are scored in, however many fits score that period.
Models travel as pickled bytes.

Tasks are made with `repartition(n, key)` on keys that Spark's hash partitioner sends to
partitions 0..n-1, one unit of work (a fit group, or a block of periods) each (`task_keys`), and each
task streams its rows through `mapInPandas`. On the demo this moved rows in half the time of
`groupBy().applyInPandas`, which sorts every partition and converts every group separately
(docs/benchmarks.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import PeriodUnit
from retrain_advisor.foundation.periods import period_window
from retrain_advisor.foundation.schemas import column_names
from retrain_advisor.foundation.statistics import derive_seed
from retrain_advisor.foundation.vocabulary import FIT_UNAVAILABLE, LABEL_TIME, OK, PERIOD, ROW_HASH
from retrain_advisor.modelling.kernels import Estimating, KernelContext, ScoringRows, fit_model, score_slices
from retrain_advisor.planning.plan import FitSpec, Plan
from retrain_advisor.spark.source import PreparedSource

FIT_RESULT_SCHEMA = (
    "fit_id string, status string, reason string, train_rows_used bigint, "
    "train_class_counts map<string, bigint>, fit_seconds double, prediction_bins array<double>, model binary, "
    "quality_estimator binary"
)
SCORE_RESULT_SCHEMA = (
    "fit_id string, period_id int, slice_value string, status string, reason string, eval_rows_used bigint, "
    "eval_class_counts map<string, bigint>, metrics map<string, double>, score_seconds double, "
    "prediction_counts array<bigint>, estimated_metrics map<string, double>, "
    "estimated_metrics_low map<string, double>, estimated_metrics_high map<string, double>"
)
SCORE_COLUMNS = column_names(SCORE_RESULT_SCHEMA)
SAMPLE_SCALE = float(2**31)
KEY_PROBES_PER_TASK = 64

# Internal columns added on the way to the kernels (source columns may not start with "__").
FIT = "__fit_id"
FIT_GROUP = "__fit_group"
TASK = "__task"
BLOCK = "__block"
FRACTION = "__fraction"
SAMPLE = "__sample"
LABEL_MICROS = "__label_micros"
TRAINED_AT = "__trained_at"
STATUS = "__status"
REASON = "__reason"
MODEL = "__model"
BINS = "__prediction_bins"
QUALITY = "__quality_estimator"


def _sample_key(salt: str) -> F.Column:
    """A uniform number in [0, 1) per row and salt, reproducible from the row's content."""
    return (F.xxhash64(F.col(ROW_HASH), F.lit(salt)).bitwiseAND(F.lit(0x7FFFFFFF))) / SAMPLE_SCALE


def sampling_fraction(available: int, cap: int) -> float:
    return 1.0 if available <= cap else cap / available


def task_keys(spark: SparkSession, n: int) -> list[int]:
    """Keys k_0..k_{n-1} that `repartition(n, key)` places in partitions 0..n-1.

    Spark's hash partitioner is pmod(hash(key), n), with the Murmur3 hash that SQL's `hash`
    function computes, so a small probe finds one key per partition. Should a partition find no
    key, the missing ones reuse other keys: two units then share a task (slower, never wrong).
    """
    probe = spark.range(0, KEY_PROBES_PER_TASK * n).select(
        F.col("id").alias("key"), F.pmod(F.hash("id"), F.lit(n)).alias("partition")
    )
    found = {r["partition"]: r["key"] for r in probe.groupBy("partition").agg(F.min("key").alias("key")).collect()}
    return [found.get(i, i) for i in range(n)]


@dataclass(frozen=True)
class FitSample:
    """The rows a fit trains on: its window's periods, the rows whose sample key is below
    `fraction`, and only labels that had arrived at `trained_at` (epoch microseconds)."""

    fit: FitSpec
    periods: tuple[int, ...]  # the source's periods in the window
    available: int
    fraction: float
    trained_at: int

    def mask(self, rows: pd.DataFrame) -> pd.Series:
        keep = rows[PERIOD].between(self.fit.train_start, self.fit.train_stop - 1) & (rows[SAMPLE] < self.fraction)
        if LABEL_MICROS in rows:
            keep &= rows[LABEL_MICROS].isna() | (rows[LABEL_MICROS] <= self.trained_at)
        return keep


def fit_samples(plan: Plan, source: PreparedSource, unit: PeriodUnit, zone: str) -> list[FitSample]:
    samples = []
    for fit in plan.sorted_fits():
        periods = tuple(p for p in source.period_ids if fit.trains_on(p))
        available = sum(source.labelled_rows(p) for p in periods)
        trained_at = period_window(unit, fit.train_end, fit.train_end + 1, zone)[0]
        micros = int(trained_at.timestamp()) * 1_000_000
        samples.append(FitSample(fit, periods, available, sampling_fraction(available, fit.max_rows), micros))
    return samples


def fit_groups(samples: list[FitSample], fits_per_task: int) -> list[list[FitSample]]:
    """Fits with alike windows (same lookback, cap and weighting; consecutive training ends)
    share a task, which receives each row they need once, however many of them train on it."""
    ordered = sorted(
        samples,
        key=lambda s: (
            (s.fit.lookback is None, s.fit.lookback or 0, s.fit.half_life or 0.0, s.fit.max_rows) + s.fit.sort_key
        ),
    )
    return [ordered[i : i + fits_per_task] for i in range(0, len(ordered), fits_per_task)]


def _sample_columns(source: PreparedSource, seed: int, periods: Iterable[int]) -> DataFrame:
    """The source rows (of files that can hold `periods`) with the training sample key, and the
    label's arrival as epoch microseconds.

    The key is the same for every fit: fits whose windows overlap keep the same rows (a smaller
    cap keeps a subset of a larger one's), so one copy of a row serves every fit of a task.
    """
    rows = source.rows_in(periods).withColumn(SAMPLE, _sample_key(f"train:{seed}"))
    if LABEL_TIME in rows.columns:
        rows = rows.withColumn(LABEL_MICROS, F.unix_micros(F.col(LABEL_TIME))).drop(LABEL_TIME)
    return rows


def _sampled(rows: DataFrame) -> DataFrame:
    """Rows below their window's fraction, whose label had arrived at its training moment."""
    kept = rows.where(F.col(SAMPLE) < F.col(FRACTION))
    if LABEL_MICROS in rows.columns:
        kept = kept.where(F.col(LABEL_MICROS).isNull() | (F.col(LABEL_MICROS) <= F.col(TRAINED_AT)))
    return kept.drop(FRACTION, TRAINED_AT)


def training_rows(
    spark: SparkSession, plan: Plan, source: PreparedSource, unit: PeriodUnit, zone: str, seed: int
) -> DataFrame:
    """Each fit's training rows, tagged with its id: the rows its fit task selects for it."""
    samples = fit_samples(plan, source, unit, zone)
    windows = spark.createDataFrame(
        [(s.fit.fit_id, p, s.fraction, s.trained_at) for s in samples for p in s.periods],
        f"{FIT} string, {PERIOD} int, {FRACTION} double, {TRAINED_AT} bigint",
    )
    periods = {p for s in samples for p in s.periods}
    return _sampled(_sample_columns(source, seed, periods).join(F.broadcast(windows), PERIOD))


def group_windows(groups: list[list[FitSample]]) -> list[tuple[int, int, float, int]]:
    """(group, period, fraction, trained_at): what a group's task must receive of each period, the
    largest fraction and the latest training moment among the group's fits that train on it."""
    windows: dict[tuple[int, int], tuple[float, int]] = {}
    for group, members in enumerate(groups):
        for sample in members:
            for period in sample.periods:
                fraction, trained_at = windows.get((group, period), (0.0, 0))
                windows[(group, period)] = (max(fraction, sample.fraction), max(trained_at, sample.trained_at))
    return [(group, period, *needed) for (group, period), needed in sorted(windows.items())]


def map_in_pandas(
    rows: DataFrame, task: Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]], schema: str
) -> DataFrame:
    """`mapInPandas` for columns of any name. pyspark reads each column name as a path (`x.one`
    is field `one` of `x`), so the columns travel under positional names and get theirs back in
    the task."""
    names = rows.columns

    def renamed(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        return task(batch.set_axis(names, axis=1) for batch in batches)

    return rows.toDF(*[f"c{i}" for i in range(len(names))]).mapInPandas(renamed, schema)


def _in_memory_groups(batches: Iterator[pd.DataFrame], key: str) -> dict[int, pd.DataFrame]:
    """Collect a task's Arrow batches into one frame per (integer) key (a task holds one key, rarely two)."""
    pieces: dict[int, list[pd.DataFrame]] = defaultdict(list)
    for batch in batches:
        for value, part in batch.groupby(key, sort=False):
            pieces[int(value)].append(part)  # type: ignore[arg-type]  # the group key is an int column
    return {value: pd.concat(parts, ignore_index=True) for value, parts in pieces.items()}


def _fit_task(
    groups: list[list[FitSample]], ctx: KernelContext
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def fit_task(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for group, rows in sorted(_in_memory_groups(batches, FIT_GROUP).items()):
            for sample in groups[group]:
                selected = rows[sample.mask(rows)]
                if selected.empty:
                    continue  # reported as a fit with no labelled rows
                outcome = fit_model(selected, sample.fit, ctx)
                yield pd.DataFrame(
                    [
                        {
                            "fit_id": sample.fit.fit_id,
                            "status": outcome.status,
                            "reason": outcome.reason,
                            "train_rows_used": outcome.rows,
                            "train_class_counts": outcome.class_counts,
                            "fit_seconds": outcome.fit_seconds,
                            "prediction_bins": outcome.prediction_bins,
                            "model": outcome.model,
                            "quality_estimator": outcome.quality_estimator,
                        }
                    ]
                )

    return fit_task


def run_fits(
    spark: SparkSession,
    plan: Plan,
    source: PreparedSource,
    ctx: KernelContext,
    unit: PeriodUnit,
    zone: str,
    fits_per_task: int,
) -> DataFrame:
    """Fit every planned model in parallel, a group of alike fits per task; fits whose window is
    empty come back as skipped."""
    samples = fit_samples(plan, source, unit, zone)
    groups = fit_groups(samples, fits_per_task)
    keys = task_keys(spark, len(groups))
    windows = group_windows(groups)
    window_df = spark.createDataFrame(
        [(g, keys[g], p, fraction, trained_at) for g, p, fraction, trained_at in windows],
        f"{FIT_GROUP} int, {TASK} bigint, {PERIOD} int, {FRACTION} double, {TRAINED_AT} bigint",
    )
    periods = {p for _, p, _, _ in windows}
    fitted = (
        _sampled(_sample_columns(source, ctx.seed, periods).join(F.broadcast(window_df), PERIOD))
        .repartition(max(len(groups), 1), TASK)
        .drop(TASK)
        .transform(lambda rows: map_in_pandas(rows, _fit_task(groups, ctx), FIT_RESULT_SCHEMA))
    )
    planned = spark.createDataFrame(
        [(s.fit.fit_id, s.available) for s in samples], "fit_id string, train_rows_available bigint"
    )
    return planned.join(fitted, "fit_id", "left").select(
        "fit_id",
        "train_rows_available",
        F.coalesce("status", F.lit("skipped")).alias("status"),
        F.when(F.col("status").isNull(), F.lit("no labelled rows in the training window"))
        .otherwise(F.col("reason"))
        .alias("reason"),
        F.coalesce("train_rows_used", F.lit(0)).alias("train_rows_used"),
        "train_class_counts",
        F.coalesce("fit_seconds", F.lit(0.0)).alias("fit_seconds"),
        "prediction_bins",
        "model",
        "quality_estimator",
    )


def _score_period(
    period: int, rows: ScoringRows, fit_ids: list[str], models: dict[str, dict], ctx: KernelContext
) -> Iterator[dict]:
    """One result row per fit planned on this period, and per slice when the study is sliced."""
    for fit_id in fit_ids:
        model = models[fit_id]
        if model[STATUS] != OK:
            for slice_value, mask in rows.slice_masks():
                yield {
                    "fit_id": fit_id,
                    "period_id": period,
                    "slice_value": slice_value,
                    "status": FIT_UNAVAILABLE,
                    "reason": f"fit {model[STATUS]}: {model[REASON]}",
                    "eval_rows_used": len(rows) if mask is None else int(mask.sum()),
                    "eval_class_counts": {},
                    "metrics": {},
                    "score_seconds": 0.0,
                    "prediction_counts": None,
                    "estimated_metrics": {},
                    "estimated_metrics_low": {},
                    "estimated_metrics_high": {},
                }
            continue
        estimator = model.get(QUALITY)
        estimating = (
            Estimating(estimator, derive_seed(ctx.seed, f"{fit_id}/{period}")) if isinstance(estimator, bytes) else None
        )
        for outcome in score_slices(rows, model[MODEL], ctx, _bins(model[BINS]), estimating):
            yield {
                "fit_id": fit_id,
                "period_id": period,
                "slice_value": outcome.slice_value,
                "status": outcome.status,
                "reason": outcome.reason,
                "eval_rows_used": outcome.rows,
                "eval_class_counts": outcome.class_counts,
                "metrics": outcome.metrics,
                "score_seconds": outcome.score_seconds,
                "prediction_counts": outcome.prediction_counts,
                "estimated_metrics": {name: value[0] for name, value in outcome.estimates.items()},
                "estimated_metrics_low": {name: value[1] for name, value in outcome.estimates.items()},
                "estimated_metrics_high": {name: value[2] for name, value in outcome.estimates.items()},
            }


def _bins(value: object) -> list[float] | None:
    """A regression fit's prediction bins as pandas hands them over (an array; None or NaN without)."""
    return [float(edge) for edge in value] if isinstance(value, list | tuple | np.ndarray) else None


def _score_task(
    blocks: dict[int, list[int]], planned: dict[int, list[str]], ctx: KernelContext
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Score the periods of the task's block(s): each period's rows are prepared once for all its fits."""

    def score_task(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for block, frame in sorted(_in_memory_groups(batches, BLOCK).items()):
            is_model = frame[FIT].notna()
            models = {m[FIT]: m for m in frame[is_model].to_dict("records")}
            rows_by_period = dict(tuple(frame[~is_model].groupby(PERIOD)))
            empty = frame.iloc[0:0]
            results = [
                result
                for period in blocks[block]
                for result in _score_period(
                    period, ScoringRows.prepare(rows_by_period.get(period, empty), ctx), planned[period], models, ctx
                )
            ]
            yield pd.DataFrame(results, columns=SCORE_COLUMNS)

    return score_task


def scoring_rows(spark: SparkSession, plan: Plan, source: PreparedSource, max_rows: int, seed: int) -> DataFrame:
    """The sampled rows of every scored period: the same rows for every fit scored on it."""
    periods = plan.scored_periods()
    fractions = spark.createDataFrame(
        [(p, sampling_fraction(source.labelled_rows(p), max_rows)) for p in periods],
        f"{PERIOD} int, {FRACTION} double",
    )
    return (
        source.rows_in(periods)
        .join(F.broadcast(fractions), PERIOD)
        .where(_sample_key(str(seed)) < F.col(FRACTION))
        .drop(FRACTION)
    )


def run_scores(
    spark: SparkSession,
    plan: Plan,
    source: PreparedSource,
    fits: DataFrame,
    ctx: KernelContext,
    periods_per_task: int,
) -> DataFrame:
    """Score every planned (fit, period) pair; one task scores a block of consecutive periods.

    A block's rows and the models that score any of its periods travel together (one union,
    models marked by their fit id), so a model is copied once per block, not once per period,
    and the fixed cost of a task is paid once per block.
    """
    periods = plan.scored_periods()
    blocks = {
        i: periods[start : start + periods_per_task] for i, start in enumerate(range(0, len(periods), periods_per_task))
    }
    block_of = {period: block for block, members in blocks.items() for period in members}
    planned = plan.fits_scored_on()
    keys = spark.createDataFrame(
        list(zip(blocks, task_keys(spark, len(blocks)), strict=True)), f"{BLOCK} int, {TASK} bigint"
    )
    period_blocks = spark.createDataFrame(list(block_of.items()), f"{PERIOD} int, {BLOCK} int")
    block_fits = spark.createDataFrame(
        sorted({(fit_id, block_of[period]) for period, fit_ids in planned.items() for fit_id in fit_ids}),
        f"{FIT} string, {BLOCK} int",
    )
    models = block_fits.join(
        fits.select(
            F.col("fit_id").alias(FIT),
            F.col("status").alias(STATUS),
            F.col("reason").alias(REASON),
            F.col("model").alias(MODEL),
            F.col("prediction_bins").alias(BINS),
            F.col("quality_estimator").alias(QUALITY),
        ),
        FIT,
    )
    test_rows = scoring_rows(spark, plan, source, ctx.limits.max_eval_rows, ctx.seed).join(
        F.broadcast(period_blocks), PERIOD
    )
    return (
        test_rows.unionByName(models, allowMissingColumns=True)
        .join(F.broadcast(keys), BLOCK)
        .repartition(max(len(blocks), 1), TASK)
        .drop(TASK)
        .transform(lambda rows: map_in_pandas(rows, _score_task(blocks, planned, ctx), SCORE_RESULT_SCHEMA))
    )
