"""Schemas of the output tables. docs/tables.md documents every column; a test keeps them in step."""

from __future__ import annotations

import re

WINDOW = "struct<start: timestamp, end: timestamp>"
SLICE = "slice_key string, slice_value string"

SCHEMAS: dict[str, str] = {
    "runs": (
        "run_id string, study_name string, status string, started_at timestamp, finished_at timestamp, "
        "error string, source_name string, source_version bigint, source_rows map<string, bigint>, "
        "granularity string, task string, primary_metric string, n_fits int, n_evaluations int, "
        "config_json string, library_versions map<string, string>"
    ),
    "fits": (
        f"run_id string, {SLICE}, fit_id string, granularity string, train_window {WINDOW}, "
        f"origin {WINDOW}, lookback_periods int, gap_periods int, train_rows_available bigint, "
        "train_rows_used bigint, train_class_counts map<string, bigint>, status string, reason string, "
        "fit_seconds double, model binary"
    ),
    "evaluations": (
        f"run_id string, {SLICE}, fit_id string, granularity string, train_window {WINDOW}, "
        f"origin {WINDOW}, window {WINDOW}, model_age int, lookback_periods int, gap_periods int, "
        "train_rows_used bigint, fit_status string, fit_seconds double, eval_rows_available bigint, "
        "eval_rows_used bigint, eval_class_counts map<string, bigint>, metrics map<string, double>, "
        "status string, reason string, is_sufficient boolean, score_seconds double"
    ),
    "decay_curve": (
        f"run_id string, {SLICE}, granularity string, metric string, greater_is_better boolean, "
        "model_age int, n_origins int, n_excluded int, mean double, q25 double, median double, q75 double, "
        "ci_low double, ci_high double, mean_drop double, drop_ci_low double, drop_ci_high double, "
        "mean_relative_drop double, relative_drop_ci_low double, relative_drop_ci_high double, "
        "confidence double"
    ),
    "shelf_life": (
        f"run_id string, {SLICE}, granularity string, metric string, fit_id string, origin {WINDOW}, "
        "shelf_life_periods int, is_censored boolean, breach string, max_age_tested int, "
        "fresh_quality double, decay_pattern string, tolerance_absolute double, tolerance_relative double, "
        "tolerance_floor double, persistence int, confidence double"
    ),
}


def columns(table: str) -> list[str]:
    """Column names of an output table, in order."""
    return column_names(SCHEMAS[table])


def column_names(ddl: str) -> list[str]:
    """Column names of a DDL schema string (top-level commas only: struct and map types hold commas)."""
    depth, names, current = 0, [], ""
    for char in ddl + ",":
        depth += char in "<("
        depth -= char in ">)"
        if char == "," and depth == 0:
            names.append(re.split(r"\s+", current.strip())[0])
            current = ""
        else:
            current += char
    return names
