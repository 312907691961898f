"""The HTML report of a run: one self-contained file (inline SVG figures, inline CSS) that puts
the recommendation first, then the figures, then the tables they were drawn from."""

from __future__ import annotations

import html
import io
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from retrain_advisor.foundation.config import URI_SCHEME, OutputConfig
from retrain_advisor.outputs.figures import FIGURES, draw_figures, styled
from retrain_advisor.outputs.run_tables import RunTables

log = logging.getLogger(__name__)

CSS = """
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #e4e7eb; }
.meta { color: #52606d; font-size: 0.9rem; }
.recommendation { background: #eef6fa; border-left: 4px solid #0b6e99; padding: 0.8rem 1.2rem; margin: 1rem 0; }
.recommendation p { font-size: 1.05rem; margin: 0.4rem 0 0.8rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th { background: #f5f7fa; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
details { margin: 0.5rem 0; } summary { cursor: pointer; color: #0b6e99; }
"""

KEY_FACTS: list[tuple[str, str]] = [
    ("status", "status"),
    ("missing_evidence", "what is missing"),
    ("recommended_interval_periods", "retrain every ({unit}s)"),
    ("recommended_policy", "policy"),
    ("recommended_trigger_drop", "trigger: retrain when the drop exceeds"),
    ("recommended_drift_signal", "trigger: retrain when this drift signal"),
    ("recommended_drift_threshold", "... reaches"),
    ("prob_within_tolerance", "probability of staying within tolerance"),
    ("expected_loss", "loss against retraining every {unit}"),
    ("expected_loss_ci_high", "... its upper bound"),
    ("tolerance_limit", "tolerance (as one loss)"),
    ("within_tolerance_periods", "ages surely within tolerance ({unit}s)"),
    ("shelf_life_periods", "shelf life: surely beyond from age ({unit}s)"),
    ("decay_pattern", "decay pattern"),
    ("decay_shape", "shape"),
    ("fresh_quality", "quality when fresh"),
    ("expected_quality", "expected quality under the recommendation"),
    ("quality_every_period", "quality when retraining every {unit}"),
    ("min_feasible_interval_periods", "shortest feasible interval ({unit}s)"),
    ("feasible_interval_limited_by", "set by"),
    ("min_train_rows", "minimum training size (rows)"),
    ("min_train_periods", "minimum training size ({unit}s)"),
    ("lookback_verdict", "old data"),
    ("lookback_reason", "because"),
    ("recommended_lookback_periods", "keep the last ({unit}s)"),
    ("recommended_half_life_periods", "recency half-life ({unit}s)"),
    ("expected_cost", "expected cost"),
]
SLICE_COLUMNS = [
    "slice_key",
    "slice_value",
    "status",
    "recommended_interval_periods",
    "recommended_policy",
    "prob_within_tolerance",
    "within_tolerance_periods",
    "shelf_life_periods",
    "lookback_verdict",
    "expected_quality",
    "quality_every_period",
]
TABLES: dict[str, tuple[str, list[str]]] = {
    "decay_curve": (
        "Decay curve (regret: a fresh model on the same period minus this one)",
        [
            "season",
            "model_age",
            "n_origins",
            "n_straddling",
            "mean",
            "mean_regret",
            "regret_ci_low",
            "regret_ci_high",
            "prob_within_tolerance",
            "mean_change_since_fresh",
        ],
    ),
    "calendar_events": (
        "Calendar events",
        ["drop", "fresh_drop", "n_models", "retraining_recovers", "recovery_periods", "explains_decay"],
    ),
    "schedule_backtest": (
        "Schedule backtest",
        [
            "policy",
            "interval_periods",
            "offset_periods",
            "trigger_drop",
            "drift_signal",
            "drift_threshold",
            "n_retrains",
            "mean_quality",
            "worst_quality",
            "mean_diff",
            "pooled_loss",
            "pooled_loss_ci_high",
            "prob_within_tolerance",
            "total_cost",
        ],
    ),
    "learning_curve": (
        "Learning curve",
        [
            "axis",
            "train_rows_used",
            "train_periods",
            "n_origins",
            "mean",
            "drop_from_largest",
            "drop_ci_high",
            "prob_within_tolerance",
            "is_minimum",
        ],
    ),
    "window_comparison": (
        "Lookback comparison (simultaneous intervals)",
        ["lookback_periods", "half_life_periods", "is_reference", "mean", "mean_diff", "diff_ci_low", "diff_ci_high"],
    ),
    "drift_signals": (
        "Drift signals, best predictors of a loss beyond tolerance at the same model age first",
        [
            "rank",
            "signal",
            "auc_within_age",
            "holdout_auc_within_age",
            "auc",
            "n_breaches",
            "alert_threshold",
            "alert_precision",
            "alert_recall",
        ],
    ),
    "estimate_tracking": (
        "Quality estimated without labels, against the measured quality (model_age empty: all ages)",
        [
            "model_age",
            "n_evaluations",
            "mean_measured",
            "mean_estimated",
            "mean_error",
            "mean_absolute_error",
            "correlation",
            "change_correlation",
            "interval_coverage",
            "mean_interval_width",
        ],
    ),
    "data_arrival": (
        "Data arrival",
        ["rows", "labelled_rows", "positive_rate", "target_mean", "label_delay_days_p50", "label_delay_days_p90"],
    ),
}
# Rows in a fixed order, whatever order the tables were written in.
ORDER = [
    "season",
    "period_start",
    "model_age",
    "policy",
    "interval_periods",
    "offset_periods",
    "trigger_drop",
    "drift_signal",
    "axis",
    "train_rows_used",
    "train_periods",
    "lookback_periods",
    "half_life_periods",
    "rank",
]


def svg_of(figure: Figure) -> str:
    """The figure as inline SVG markup (no XML prolog)."""
    buffer = io.StringIO()
    with styled():  # the style's fixed hash salt
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _value(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return html.escape(str(value))


def _facts(recommendation: dict[str, Any], unit: str) -> str:
    rows = [
        f"<tr><th>{html.escape(label.format(unit=unit))}</th><td>{_value(recommendation.get(key))}</td></tr>"
        for key, label in KEY_FACTS
        if recommendation.get(key) is not None and not pd.isna(recommendation.get(key))
    ]
    return f"<table>{''.join(rows)}</table>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}")


def _table_section(tables: RunTables, name: str) -> str:
    title, columns = TABLES[name]
    frame = tables.overall(name)
    if frame.empty:
        return ""
    if "window" in frame.columns:
        frame = frame.assign(period_start=frame["window"].map(lambda w: pd.Timestamp(w["start"]).date()))
        columns = ["period_start", *columns]
    frame = frame[[c for c in columns if c in frame.columns]]
    keys = [c for c in ORDER if c in frame.columns]
    if keys:
        frame = frame.sort_values(keys, na_position="first", kind="stable")
    return f"<details><summary>{html.escape(title)} ({len(frame)} rows)</summary>{_table(frame)}</details>"


def render_report(tables: RunTables, figures: dict[str, Figure] | None = None) -> str:
    """The report as one HTML document."""
    figures = draw_figures(tables) if figures is None else figures
    run, unit = tables.run, tables.unit
    recommendation = tables.recommendation()
    finished = run.get("finished_at")
    meta = (
        f"run {html.escape(tables.run_id)} · finished {html.escape(str(finished)[:19])} UTC · source "
        f"{html.escape(str(run['source_name']))} (Delta version {_value(run.get('source_version'))}) · "
        f"{html.escape(str(run['task']))}, {html.escape(tables.metric)} · {run['n_fits']} fits, "
        f"{run['n_evaluations']} evaluations"
    )
    parts = [
        f"<h1>{html.escape(tables.config.name)}: when to retrain</h1>",
        f"<div class='meta'>{meta}</div>",
    ]
    if recommendation is None:
        parts.append("<div class='recommendation'><p>This run has no recommendation.</p></div>")
    else:
        parts.append(
            f"<div class='recommendation'><p>{html.escape(str(recommendation['rationale']))}</p>"
            f"{_facts(recommendation, unit)}</div>"
        )
    sliced = tables.frames["recommendations"]
    sliced = sliced[sliced["slice_value"].notna()]
    if len(sliced):
        parts += ["<h2>Per slice</h2>", _table(sliced[SLICE_COLUMNS].sort_values("slice_value"))]
    for name, (title, _) in FIGURES.items():
        if name in figures:
            parts.append(f"<h2>{html.escape(title)}</h2><figure>{svg_of(figures[name])}</figure>")
    parts.append("<h2>Tables</h2>")
    parts += [_table_section(tables, name) for name in TABLES]
    body = "\n".join(parts)
    title = html.escape(f"{tables.config.name} · {tables.run_id}")
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{CSS}</style></head><body><main>\n{body}\n</main></body></html>\n"
    )


def report_folder(output: OutputConfig) -> Path | None:
    """Where each run's report is written: `output.report_dir`, else `<output.path>/reports`
    for a local output folder; None when neither is a local folder (MLflow still gets it)."""
    if output.report_dir:
        return Path(output.report_dir)
    if output.path and not URI_SCHEME.match(output.path):
        return Path(output.path) / "reports"
    return None


def write_report(report: str, path: Path) -> Path:
    """Write a rendered report to `path` (its folder is created); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report, encoding="utf-8")
    log.info("report: %s", path)
    return path
