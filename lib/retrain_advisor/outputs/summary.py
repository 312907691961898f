"""A short, readable account of a finished run, for the terminal: the recommendation first."""

from __future__ import annotations

import textwrap

from pyspark.sql import functions as F

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.schemas import SCHEMAS
from retrain_advisor.outputs.result import StudyResult


def _tolerance_text(config: StudyConfig) -> str:
    tol = config.tolerance
    parts = []
    if tol.absolute is not None:
        parts.append(f"dropped by more than {tol.absolute:g}")
    if tol.relative is not None:
        parts.append(f"dropped by more than {tol.relative:.0%}")
    if tol.floor is not None:
        parts.append(f"crossed the floor {tol.floor:g}")
    return " or ".join(parts)


def recommendation_lines(result: StudyResult, config: StudyConfig) -> list[str]:
    """The recommendation for all rows, then one short line per slice."""
    unit = config.period.unit
    rows = result.recommendations().orderBy(F.col("slice_value").asc_nulls_first()).collect()
    lines = []
    for row in rows:
        if row["slice_value"] is None:
            lines.append("recommendation:")
            lines += textwrap.wrap(row["rationale"], width=100, initial_indent="  ", subsequent_indent="  ")
        else:
            policy = {"trigger": "on a quality trigger", "drift": "on a drift trigger"}.get(
                row["recommended_policy"], "periodically"
            )
            lines.append(
                f"  {row['slice_key']} = {row['slice_value']}: retrain {policy} every "
                f"{row['recommended_interval_periods']} {unit}(s), shelf life {row['shelf_life_periods']}, "
                f"old data: {row['lookback_verdict']}"
            )
    return lines


def summary_lines(result: StudyResult, config: StudyConfig) -> list[str]:
    unit = config.period.unit
    metric = result.primary_metric
    shelf = result.shelf_life().where((F.col("metric") == metric) & F.col("slice_value").isNull()).first()
    curve = (
        result.store.read("decay_curve", result.run_id)
        .where((F.col("metric") == metric) & F.col("slice_value").isNull())
        .orderBy("model_age")
        .collect()
    )
    lines = [
        f"run {result.run_id} of study {config.name!r}: {result.n_fits} fits, "
        f"{result.n_evaluations} evaluations in {result.seconds:.0f} s",
        *recommendation_lines(result, config),
    ]
    if shelf is None:
        return lines + ["no shelf life: no evaluation was sufficient (see the evaluations table)"]
    fresh = curve[0]
    lines.append(f"{metric} when fresh: {fresh['mean']:.3f} (mean over {fresh['n_origins']} origins)")
    rule = (
        f"{_tolerance_text(config)} with {shelf['confidence']:.0%} confidence, {shelf['persistence']} {unit}s in a row"
    )
    if shelf["is_censored"]:
        lines.append(
            f"shelf life: at least {shelf['shelf_life_periods']} {unit}s: up to age {shelf['max_age_tested']}, "
            f"the {metric} never {rule}"
        )
    else:
        lines.append(
            f"shelf life: {shelf['shelf_life_periods']} {unit}s: from age {shelf['shelf_life_periods']}, "
            f"the {metric} has {rule}"
        )
    lines.append(f"decay pattern: {shelf['decay_pattern']}")
    lines.append(f"  {'age':>4} {'origins':>7} {'mean':>7} {'drop':>7}  interval of drop")
    for row in curve:
        lines.append(
            f"  {row['model_age']:>4} {row['n_origins']:>7} {row['mean']:>7.3f} {row['mean_drop']:>7.3f}  "
            f"[{row['drop_ci_low']:.3f}, {row['drop_ci_high']:.3f}]"
        )
    lines.append("tables: " + ", ".join(result.store.reference(t) for t in SCHEMAS))
    if result.report_path is not None:
        lines.append(f"report: {result.report_path}")
    return lines


def print_summary(result: StudyResult, config: StudyConfig) -> None:
    print("\n".join(summary_lines(result, config)))
