"""One pass over the source's rows for everything counted per period: profile, arrival and labels.

A single aggregation counts the rows and labelled rows per period, slice and label value, and,
per period and slice, the sum of the labelled rows' fingerprint hashes, the labels' sum and the
label delay's quantiles. The driver then derives, without reading the source again:

- the label's distinct values (when it has few: one group per class), which settle the task;
- the profile: labelled rows, class counts and fingerprint of each period (and slice);
- the arrival counts: rows, labelled rows, target average and label delay of each period (and slice);
- a sample of each numeric column's labelled values (NaN where missing), chosen by row hash (the
  same rows however the source is partitioned), from which drift places its cells.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import StudyConfig, Task
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.vocabulary import DELAY_DAYS, MAX_CLASSES, PERIOD, SLICE

# A 64-bit hash is summed in three parts of at most 22 bits, as longs (a decimal sum of the whole
# hash costs twice as much): no part's sum overflows below 2^41 rows per period.
HASH_SHIFTS = (42, 21, 0)
# About this many labelled rows are sampled for the numeric columns' value samples.
VALUE_SAMPLE_ROWS = 200_000
# The levels of the counts: per label value, per period and slice, per period.
BY_LABEL, BY_SLICE, BY_PERIOD = 0, 1, 2
DELAY_QUANTILES = {"label_delay_days_p50": 0.5, "label_delay_days_p90": 0.9}
# Internal columns of the pass (source columns may not start with "__").
FINGERPRINT_HASH = "__fingerprint_hash"
SAMPLED = "__sampled"
LEVEL = "__level"
# The picked row's sampled values, one array per row, in the aggregation's output.
SAMPLE = "sample"

# What a group's label value counts as: the class (as text) of a labelled group, given the value
# and its text as Spark casts it. None: the task has no classes.
ClassOf = Callable[[Any, str], str]


@dataclass(frozen=True)
class PeriodCounts:
    """The groups of the rollup: per period, slice (None: all rows) and label value (None:
    unlabelled rows, or all labels when `all_labels`)."""

    groups: pd.DataFrame
    by_label: bool
    value_samples: dict[str, np.ndarray]

    def label_values(self) -> list[Any] | None:
        """The label's distinct values, sorted; None when they were not counted or exceed MAX_CLASSES."""
        if not self.by_label:
            return None
        overall = self._level(all_labels=False)
        values = {v for v in overall["label_value"] if v is not None}
        return sorted(values) if len(values) <= MAX_CLASSES else None

    def profile(self, class_of: ClassOf | None, config: StudyConfig) -> pd.DataFrame:
        """Labelled rows per period with a label, for all rows (with the period's fingerprint) and
        per slice, with the rows of each class for classification."""
        totals = self._totals()
        labelled = totals[totals["labelled_rows"] > 0]
        if config.slice.key:
            values = labelled["slice_value"].dropna().unique()
            if len(values) > config.slice.max_values:
                raise SourceError(
                    f"slice {config.slice.key!r} has {len(values)} distinct values, more than "
                    f"slice.max_values={config.slice.max_values} (e.g. {sorted(values)[:5]}); slice on a coarser "
                    "column or raise slice.max_values"
                )
        classes = self._class_counts(class_of)
        overall = labelled["slice_value"].isna()
        profile = pd.DataFrame(
            {
                "period_id": labelled["period_id"].astype("int64"),
                "slice_value": labelled["slice_value"],
                "rows": labelled["labelled_rows"].astype("int64"),
                "class_counts": [
                    classes.get((p, s), {}) if class_of else None
                    for p, s in zip(labelled["period_id"], labelled["slice_value"], strict=True)
                ],
                "fingerprint": [
                    _fingerprint(n, h) if is_overall else None
                    for n, h, is_overall in zip(labelled["labelled_rows"], labelled["hash_sum"], overall, strict=True)
                ],
            }
        )
        return profile.sort_values(["period_id", "slice_value"], na_position="first").reset_index(drop=True)

    def arrival(self, task: Task, class_of: ClassOf | None) -> pd.DataFrame:
        """Per period (and per period and slice): rows, labelled rows, target average (binary:
        positive rate; regression: mean), label delay quantiles and class counts."""
        totals = self._totals()
        classes = self._class_counts(class_of)
        keys = list(zip(totals["period_id"], totals["slice_value"], strict=True))
        labelled = totals["labelled_rows"].to_numpy()
        if task == "binary":
            positives = [classes.get(k, {}).get("1", 0) for k in keys]
            average = [p / n if n else None for p, n in zip(positives, labelled, strict=True)]
        elif task == "regression":
            average = [s / n if n else None for s, n in zip(totals["label_sum"], labelled, strict=True)]
        else:
            average = [None] * len(totals)
        return pd.DataFrame(
            {
                "period_id": totals["period_id"].astype("int64"),
                "slice_value": totals["slice_value"],
                "rows": totals["rows"].astype("int64"),
                "labelled_rows": totals["labelled_rows"].astype("int64"),
                "target_average": pd.array(average, dtype="Float64").astype(float),
                **{name: totals[name].astype(float) for name in [*DELAY_QUANTILES, "label_delay_days_max"]},
                "class_counts": [dict(classes.get(k, {})) if class_of else None for k in keys],
            }
        )

    def _level(self, all_labels: bool) -> pd.DataFrame:
        groups = self.groups
        return groups[groups["all_labels"] == all_labels]

    def _totals(self) -> pd.DataFrame:
        """One group per period and slice (None: all rows), all labels together."""
        return self._level(all_labels=True).reset_index(drop=True)

    def _class_counts(self, class_of: ClassOf | None) -> dict[tuple[int, str | None], dict[str, int]]:
        if class_of is None or not self.by_label:
            return {}
        counted: dict[tuple[int, str | None], dict[str, int]] = {}
        per_label = self._level(all_labels=False)
        for period, slice_value, value, text, n in zip(
            per_label["period_id"],
            per_label["slice_value"],
            per_label["label_value"],
            per_label["label_text"],
            per_label["labelled_rows"],
            strict=True,
        ):
            if value is None:
                continue
            name = class_of(value, text)
            # a rollup has no (period, label) level across slices: the slices' counts add up to it
            for key in {(int(period), slice_value), (int(period), None)}:
                classes = counted.setdefault(key, {})
                classes[name] = classes.get(name, 0) + int(n)
        return counted


@dataclass(frozen=True, eq=False)  # Columns compare to a Column, not to a bool
class ValueSample:
    """Which labelled rows give their values (`picked`), and the values taken, by name."""

    picked: Column
    values: dict[str, Column]


def value_sample(row_hash: Column, labelled_rows: int, values: dict[str, Column]) -> ValueSample:
    """About VALUE_SAMPLE_ROWS of `labelled_rows` rows, picked by their hash."""
    keep = min(1.0, VALUE_SAMPLE_ROWS / max(labelled_rows, 1))
    return ValueSample((row_hash.bitwiseAND(F.lit(0xFFFFFF)) / F.lit(0x1000000)) < F.lit(keep), values)


@dataclass(frozen=True, eq=False)  # Columns compare to a Column, not to a bool
class CountingPass:
    """One aggregation over `frame`'s rows with a period. `labelled` picks the rows with a label;
    `label_number` (a numeric label as double) is summed, and `fingerprint_hash`, over them; the
    labelled rows `sample` picks give their values. `by_label` groups by the label's value too
    (for a label with few values); `sliced` counts per slice as well as per period."""

    frame: DataFrame
    labelled: Column
    label: Column
    label_number: Column | None
    fingerprint_hash: Column
    sample: ValueSample
    by_label: bool
    sliced: bool

    def count(self) -> PeriodCounts:
        """The aggregation's groups and value samples, kept on the driver."""
        collected = self.query().collect()
        picked = [values for row in collected for values in row[SAMPLE]]
        matrix = np.array(picked, dtype=float).reshape(len(picked), len(self.sample.values))  # a null is NaN
        value_samples = {name: matrix[:, i] for i, name in enumerate(self.sample.values)}
        records = [_record(row) for row in collected]
        groups = pd.DataFrame.from_records(records, columns=GROUP_COLUMNS)
        # the values as the source holds them (ints stay ints; pandas would make them floats beside a null)
        groups["label_value"] = pd.Series([r["label_value"] for r in records], index=groups.index, dtype=object)
        groups["slice_value"] = pd.Series([r["slice_value"] for r in records], index=groups.index, dtype=object)
        return PeriodCounts(groups, self.by_label, value_samples)

    def query(self) -> DataFrame:
        """The aggregation, one row per group and level, with the picked rows' values."""
        labelled, label, label_number = self.labelled, self.label, self.label_number
        has_delay = DELAY_DAYS in self.frame.columns
        # The levels counted, as a rollup would, but only those used: 0 per label value (when the
        # label has few values), 1 per period and slice, 2 per period (when sliced). Each row is
        # repeated once per level; the sums and quantiles are only taken at the levels that use them.
        levels = [*([BY_LABEL] if self.by_label else []), BY_SLICE, *([BY_PERIOD] if self.sliced else [])]
        level = F.col(LEVEL)
        totals = level != BY_LABEL
        # Each row's hashes are taken once, before the levels, and named: every sampled column and
        # hash part refers to them. Written into each, the hash of every column would be repeated per
        # column, a plan growing with the square of the columns (32 MiB of task for 200 features).
        hash_value = F.when(totals, F.col(FINGERPRINT_HASH))
        sampled = F.col(SAMPLED) & (level == BY_SLICE)
        columns = (
            self.frame.where(F.col(PERIOD).isNotNull())
            .select(
                "*",
                F.when(labelled, self.fingerprint_hash).alias(FINGERPRINT_HASH),
                (labelled & self.sample.picked).alias(SAMPLED),
            )
            .select("*", F.explode(F.array(*[F.lit(n) for n in levels])).alias(LEVEL))
            .select(
                F.col(PERIOD).alias("period_id"),
                (F.when(level != BY_PERIOD, F.col(SLICE)) if self.sliced else F.lit(None).cast("string")).alias(
                    "slice_value"
                ),
                F.when(labelled & (level == BY_LABEL), label).alias("label_value"),
                level.alias("level"),
                labelled.alias("labelled"),
                *_hash_parts(hash_value),
                (
                    F.when(labelled & totals, label_number) if label_number is not None else F.lit(None).cast("double")
                ).alias("label_double"),
                (F.when(labelled & totals, F.col(DELAY_DAYS)) if has_delay else F.lit(None).cast("double")).alias(
                    "delay"
                ),
                # the sampled values travel as one array per row: an aggregate per column costs
                # seconds per hundred columns however few the rows
                F.when(sampled, _as_array([value.cast("double") for value in self.sample.values.values()])).alias(
                    SAMPLE
                ),
            )
        )
        delay = F.col("delay")
        return columns.groupBy("period_id", "slice_value", "label_value", "level").agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_if("labelled").alias("labelled_rows"),
            *[F.sum(f"hash_{shift}").alias(f"hash_{shift}") for shift in HASH_SHIFTS],
            F.sum("label_double").alias("label_sum"),
            F.min(F.col("label_value").cast("string")).alias("label_text"),
            # one summary gives both quantiles (one call per quantile would keep a summary each)
            F.percentile_approx(delay, list(DELAY_QUANTILES.values())).alias("delay_quantiles"),
            F.max(delay).alias("label_delay_days_max"),
            F.collect_list(SAMPLE).alias(SAMPLE),
        )


GROUP_COLUMNS = [
    "period_id",
    "slice_value",
    "label_value",
    "all_slices",
    "all_labels",
    "rows",
    "labelled_rows",
    "hash_sum",
    "label_sum",
    "label_text",
    *DELAY_QUANTILES,
    "label_delay_days_max",
]


def _hash_parts(hash_value: Column) -> list[Column]:
    """The hash's parts, highest (signed) first: the hash is the sum of each part << its shift."""
    parts = []
    for high, shift in zip((64, *HASH_SHIFTS), HASH_SHIFTS, strict=False):
        part = F.shiftright(hash_value, shift)
        parts.append((part if high == 64 else part.bitwiseAND(F.lit((1 << (high - shift)) - 1))).alias(f"hash_{shift}"))
    return parts


def _as_array(values: list[Column]) -> Column:
    """The values as one array; null when there are none, which `collect_list` skips rather than
    keeping an empty array per picked row."""
    return F.array(*values) if values else F.lit(None).cast("array<double>")


def _record(row: Row) -> dict[str, Any]:
    """One group as the driver keeps it: its level as flags, the hash parts added up and the
    delay quantiles under their own names (null: no labelled row with a delay); no samples."""
    record = row.asDict()
    del record[SAMPLE]
    level = record.pop("level")
    quantiles = record.pop("delay_quantiles") or [None] * len(DELAY_QUANTILES)
    hash_sum = sum(int(record.pop(f"hash_{shift}") or 0) << shift for shift in HASH_SHIFTS)
    return record | {
        "all_slices": level == BY_PERIOD,
        "all_labels": level != BY_LABEL,
        "hash_sum": hash_sum,
        **dict(zip(DELAY_QUANTILES, quantiles, strict=True)),
    }


def _fingerprint(rows: int, hash_sum: Any) -> str:
    """A period's rows and the sum of their hashes: any added, removed or changed row changes it."""
    return hashlib.sha1(f"{int(rows)}:{int(hash_sum)}".encode()).hexdigest()[:16]
