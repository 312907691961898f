"""A short, readable account of a finished run, for the terminal: the recommendation first."""

from __future__ import annotations

import math
import textwrap
from typing import Any

from pyspark.sql import Row
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.schemas import SCHEMAS
from retrain_advisor.foundation.vocabulary import INSUFFICIENT_EVIDENCE
from retrain_advisor.outputs.result import StudyResult


def number(value: Any, digits: int = 3) -> str:
    """A figure for the terminal; '-' when not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _tolerance_text(shelf: Row) -> str:
    parts = []
    if shelf["tolerance_absolute"] is not None:
        parts.append(f"{shelf['tolerance_absolute']:g}")
    if shelf["tolerance_relative"] is not None:
        parts.append(f"{shelf['tolerance_relative']:.0%} of fresh quality")
    if shelf["tolerance_floor"] is not None:
        parts.append(f"the floor {shelf['tolerance_floor']:g}")
    return " or ".join(parts) or "the tolerance"


def recommendation_lines(result: StudyResult, config: StudyConfig) -> list[str]:
    """The recommendation for all rows, then one short line per slice."""
    unit = config.period.unit
    rows = result.recommendations().orderBy(F.col("slice_value").asc_nulls_first()).collect()
    lines = []
    for row in rows:
        if row["slice_value"] is None:
            lines.append("recommendation:" if row["status"] != INSUFFICIENT_EVIDENCE else "insufficient evidence:")
            lines += textwrap.wrap(row["rationale"], width=100, initial_indent="  ", subsequent_indent="  ")
        elif row["status"] == INSUFFICIENT_EVIDENCE:
            lines.append(f"  {row['slice_key']} = {row['slice_value']}: insufficient evidence")
        else:
            policy = {
                "trigger": "on a quality trigger",
                "estimate": "on an estimated-quality trigger",
                "drift": "on a drift trigger",
            }.get(row["recommended_policy"], "periodically")
            lines.append(
                f"  {row['slice_key']} = {row['slice_value']}: retrain {policy} every "
                f"{row['recommended_interval_periods']} {unit}(s) (within tolerance with probability "
                f"{number(row['prob_within_tolerance'], 2)}), surely within tolerance for "
                f"{row['within_tolerance_periods']} {unit}(s), old data: {row['lookback_verdict']}"
            )
    return lines


def _source_lines(result: StudyResult) -> list[str]:
    """What was read: rows used, the task and positive class, and the columns left out."""
    run = result.store.read("runs", result.run_id).first()
    if run is None or run["source_rows"] is None:
        return []
    counts = run["source_rows"]
    read = f"source: {counts['used_rows']} of {counts['total_rows']} rows used; task {run['task']}"
    if run["positive_label"] is not None:
        read += f", positive class {run['positive_label']!r}"
    lines = [read]
    if run["left_out_columns"]:
        lines.append("  not features: " + "; ".join(f"{k} ({v})" for k, v in sorted(run["left_out_columns"].items())))
    return lines


def _estimate_lines(result: StudyResult) -> list[str]:
    """How well the primary metric estimated without labels tracked the measured one."""
    pooled = (
        result.store.read("estimate_tracking", result.run_id)
        .where((F.col("metric") == result.primary_metric) & F.col("slice_value").isNull() & F.col("model_age").isNull())
        .first()
    )
    if pooled is None:
        return []
    return [
        f"{result.primary_metric} estimated without labels: off by {number(pooled['mean_absolute_error'])} on "
        f"average ({pooled['n_evaluations']} evaluations); its change since age 0 correlates "
        f"{number(pooled['change_correlation'], 2)} with the measured one; its {pooled['interval_level']:.0%} "
        f"interval held the measured value {number(pooled['interval_coverage'], 2)} of the time"
    ]


def summary_lines(result: StudyResult, config: StudyConfig) -> list[str]:
    unit = config.period.unit
    metric = result.primary_metric
    shelf = result.shelf_life().where((F.col("metric") == metric) & F.col("slice_value").isNull()).first()
    curve = (
        result.store.read("decay_curve", result.run_id)
        .where((F.col("metric") == metric) & F.col("slice_value").isNull() & F.col("season").isNull())
        .orderBy("model_age")
        .collect()
    )
    lines = [
        f"run {result.run_id} of study {config.name!r}: {result.n_fits} fits, "
        f"{result.n_evaluations} evaluations in {result.seconds:.0f} s",
        *_source_lines(result),
        *recommendation_lines(result, config),
    ]
    if shelf is None or not curve:
        return lines + ["no decay curve: no evaluation was sufficient (see the evaluations table)"]
    fresh = curve[0]
    lines.append(f"{metric} when fresh: {number(fresh['mean'])} (mean over {fresh['n_origins']} origins)")
    tolerance = _tolerance_text(shelf)
    lines.append(
        f"ages surely within tolerance ({tolerance}, {shelf['confidence']:.0%} confidence): "
        f"0 to {shelf['within_tolerance_periods'] - 1}"
    )
    if shelf["is_censored"]:
        lines.append(f"shelf life: no age up to {shelf['max_age_tested']} is surely beyond the tolerance")
    else:
        lines.append(
            f"shelf life: {shelf['shelf_life_periods']} {unit}s: from age {shelf['shelf_life_periods']} the loss is "
            f"surely beyond the tolerance, {shelf['persistence']} {unit}s in a row"
        )
    shape = f" ({shelf['decay_shape']})" if shelf["decay_shape"] else ""
    lines.append(f"decay pattern: {shelf['decay_pattern']}{shape}")
    lines.append(f"  {'age':>4} {'origins':>7} {'mean':>7} {'loss':>7}  interval of the loss against a fresh model")
    for row in curve:
        lines.append(
            f"  {row['model_age']:>4} {row['n_origins']:>7} {number(row['mean']):>7} {number(row['mean_regret']):>7}  "
            f"[{number(row['regret_ci_low'])}, {number(row['regret_ci_high'])}]"
        )
    lines += _estimate_lines(result)
    lines.append("tables: " + ", ".join(result.store.reference(t) for t in SCHEMAS))
    if result.report_path is not None:
        lines.append(f"report: {result.report_path}")
    return lines


def print_summary(result: StudyResult, config: StudyConfig) -> None:
    print("\n".join(summary_lines(result, config)))
