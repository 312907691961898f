"""Schemas of the output tables. docs/tables.md documents every column; a test keeps them in step."""

from __future__ import annotations

import re

WINDOW = "struct<start: timestamp, end: timestamp>"
SLICE_COLUMNS = "slice_key string, slice_value string"
# The columns that say which run, slice and period length a result row belongs to.

SCHEMAS: dict[str, str] = {
    "runs": (
        "run_id string, study_name string, status string, started_at timestamp, finished_at timestamp, "
        "error string, source_name string, source_version bigint, source_rows map<string, bigint>, "
        "granularity string, task string, primary_metric string, n_fits int, n_evaluations int, "
        "config_json string, library_versions map<string, string>, positive_label string, "
        "left_out_columns map<string, string>, inputs_key string, period_fingerprints map<string, string>, "
        "reused_from string, reused_fits int, reused_evaluations int"
    ),
    "fits": (
        f"run_id string, {SLICE_COLUMNS}, fit_id string, granularity string, train_window {WINDOW}, "
        f"origin {WINDOW}, lookback_periods int, gap_periods int, half_life_periods double, "
        "train_rows_max bigint, train_rows_available bigint, train_rows_used bigint, "
        "train_class_counts map<string, bigint>, status string, reason string, fit_seconds double, "
        "analyses array<string>, prediction_bins array<double>, model binary, quality_estimator binary"
    ),
    "evaluations": (
        f"run_id string, {SLICE_COLUMNS}, fit_id string, granularity string, train_window {WINDOW}, "
        f"origin {WINDOW}, window {WINDOW}, model_age int, lookback_periods int, gap_periods int, "
        "train_rows_used bigint, fit_status string, fit_seconds double, eval_rows_available bigint, "
        "eval_rows_used bigint, eval_class_counts map<string, bigint>, metrics map<string, double>, "
        "status string, reason string, is_sufficient boolean, score_seconds double, prediction_counts array<bigint>, "
        "estimated_metrics map<string, double>, estimated_metrics_low map<string, double>, "
        "estimated_metrics_high map<string, double>"
    ),
    "decay_curve": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, greater_is_better boolean, "
        "season string, model_age int, n_origins int, n_excluded int, n_straddling int, mean double, q25 double, "
        "median double, q75 double, ci_low double, ci_high double, mean_regret double, regret_q25 double, "
        "regret_q75 double, regret_ci_low double, regret_ci_high double, mean_relative_regret double, "
        "relative_regret_ci_low double, relative_regret_ci_high double, prob_within_tolerance double, "
        "mean_change_since_fresh double, confidence double"
    ),
    "shelf_life": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, season string, fit_id string, "
        f"origin {WINDOW}, shelf_life_periods int, is_censored boolean, breach string, within_tolerance_periods int, "
        "max_age_tested int, fresh_quality double, decay_pattern string, decay_shape string, "
        f"event_window {WINDOW}, tolerance_absolute double, tolerance_relative double, tolerance_floor double, "
        "persistence int, confidence double"
    ),
    "data_arrival": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, window {WINDOW}, rows bigint, labelled_rows bigint, "
        "class_counts map<string, bigint>, positive_rate double, target_mean double, "
        "label_delay_days_p50 double, label_delay_days_p90 double, label_delay_days_max double, "
        "is_empty boolean, is_thin boolean"
    ),
    "learning_curve": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, axis string, train_rows_max bigint, "
        "lookback_periods int, n_origins int, train_rows_used double, train_periods double, mean double, "
        "ci_low double, ci_high double, drop_from_largest double, drop_ci_low double, drop_ci_high double, "
        "prob_within_tolerance double, is_largest boolean, is_within_tolerance boolean, is_minimum boolean, "
        "confidence double"
    ),
    "window_comparison": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, lookback_periods int, "
        "half_life_periods double, is_reference boolean, n_origins int, train_rows_used double, mean double, "
        "ci_low double, ci_high double, mean_diff double, diff_ci_low double, diff_ci_high double, "
        "family_size int, prob_within_tolerance double, tolerance_limit double, confidence double"
    ),
    "schedule_backtest": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, policy string, interval_periods int, "
        "offset_periods int, trigger_drop double, drift_signal string, drift_threshold double, "
        "label_delay_periods int, n_periods int, n_measured int, n_retrains int, "
        f"n_failed_retrains int, mean_quality double, worst_quality double, worst_window {WINDOW}, "
        "mean_diff double, diff_ci_low double, diff_ci_high double, pooled_loss double, pooled_loss_ci_high double, "
        "prob_within_tolerance double, quality_lost double, total_cost double, "
        f"confidence double, served array<struct<window: {WINDOW}, model_age: int, quality: double, "
        "rows: bigint, retrained: boolean>>"
    ),
    "calendar_events": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, window {WINDOW}, drop double, "
        "fresh_drop double, n_periods int, n_models int, retraining_recovers boolean, recovery_periods int, "
        "explains_decay boolean"
    ),
    "feature_drift": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, window {WINDOW}, window_cmp {WINDOW}, drift_type string, "
        "fit_id string, model_age int, column_name string, column_role string, data_type string, count bigint, "
        "count_cmp bigint, count_delta double, null_rate double, null_rate_delta double, "
        "population_stability_index double, ks_test struct<statistic: double, pvalue: double>, "
        "wasserstein_distance double, js_distance double, chi_squared_test struct<statistic: double, pvalue: double>, "
        "tv_distance double, l_infinity_distance double"
    ),
    "estimate_tracking": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, model_age int, n_evaluations bigint, "
        "mean_measured double, mean_estimated double, mean_error double, mean_absolute_error double, "
        "correlation double, change_correlation double, interval_level double, interval_coverage double, "
        "mean_interval_width double"
    ),
    "drift_signals": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, signal string, column_name string, "
        "column_role string, "
        "statistic string, aggregation string, n_evaluations bigint, n_breaches bigint, spearman double, auc double, "
        "auc_within_age double, holdout_auc_within_age double, n_holdout bigint, "
        "alert_threshold double, alert_precision double, alert_recall double, rank int"
    ),
    "recommendations": (
        f"run_id string, {SLICE_COLUMNS}, granularity string, metric string, status string, "
        "missing_evidence string, fresh_quality double, shelf_life_periods int, shelf_life_censored boolean, "
        f"within_tolerance_periods int, decay_pattern string, decay_shape string, event_window {WINDOW}, "
        "batch_cadence_periods int, label_delay_periods int, min_train_rows bigint, min_train_periods int, "
        "more_data_would_help boolean, min_feasible_interval_periods int, feasible_interval_limited_by string, "
        "decays_before_new_data boolean, recommended_interval_periods int, recommended_policy string, "
        "recommended_trigger_drop double, recommended_drift_signal string, recommended_drift_threshold double, "
        "prob_within_tolerance double, expected_loss double, expected_loss_ci_high double, tolerance_limit double, "
        "lookback_verdict string, lookback_reason string, recommended_lookback_periods int, "
        "recommended_half_life_periods double, lookback_diff double, lookback_diff_ci_low double, "
        "lookback_diff_ci_high double, expected_quality double, expected_quality_ci_low double, "
        "expected_quality_ci_high double, quality_every_period double, replayed_lookback_periods int, "
        "replayed_half_life_periods double, expected_cost double, replayed_periods int, "
        "notes array<string>, confidence double, rationale string"
    ),
}


def columns(table: str) -> list[str]:
    """Column names of an output table, in order."""
    return column_names(SCHEMAS[table])


def integer_columns(table: str) -> set[str]:
    """The table's top-level int and bigint columns (pandas holds them as floats when nulls occur)."""
    return {name for name, kind in column_types(SCHEMAS[table]).items() if kind in ("int", "bigint")}


def column_types(ddl: str) -> dict[str, str]:
    """Column name to its type text, for the top-level columns of a DDL schema string."""
    depth, types, current = 0, {}, ""
    for char in ddl + ",":
        depth += char in "<("
        depth -= char in ">)"
        if char == "," and depth == 0:
            name, _, kind = current.strip().partition(" ")
            types[name] = kind.strip()
            current = ""
        else:
            current += char
    return types


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
