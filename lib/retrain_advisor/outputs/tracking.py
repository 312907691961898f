"""MLflow: one MLflow run per study run, logged from the driver.

Executors never log (they do not inherit the tracking URI). The tracking server is MLflow's
own default: the workspace on Databricks, `MLFLOW_TRACKING_URI` when set, else a local store.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from retrain_advisor.foundation.config import StudyConfig, config_as_dict
from retrain_advisor.outputs.run_tables import RunTables

if TYPE_CHECKING:
    from retrain_advisor.outputs.result import StudyResult

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000
# How well the primary metric estimated without labels tracked the measured one, all ages pooled.
ESTIMATE_HEADLINE = ["mean_error", "mean_absolute_error", "change_correlation", "interval_coverage"]
HEADLINE = [
    "shelf_life_periods",
    "within_tolerance_periods",
    "prob_within_tolerance",
    "expected_loss",
    "fresh_quality",
    "min_feasible_interval_periods",
    "recommended_interval_periods",
    "expected_quality",
    "quality_every_period",
    "min_train_rows",
]


def experiment_name(config: StudyConfig) -> str:
    """The configured experiment, or one per study (a workspace path on Databricks)."""
    if config.tracking.experiment:
        return config.tracking.experiment
    if "DATABRICKS_RUNTIME_VERSION" in os.environ:
        return f"/Shared/retrain-advisor-{config.name}"
    return f"retrain-advisor/{config.name}"


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as dotted MLflow parameters; lists and mappings at the leaves as JSON."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and prefix.count(".") < 1:
            flat |= flatten(value, f"{name}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            flat[name] = text[:MAX_PARAM_LENGTH]
    return flat


def loggable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table MLflow can store as JSON: nested values (windows, maps, arrays) as JSON text."""
    nested = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, dict | list | np.ndarray)).any()]
    return frame.assign(**{c: frame[c].map(lambda v: json.dumps(v, default=str, sort_keys=True)) for c in nested})


def log_study(
    result: StudyResult, config: StudyConfig, tables: RunTables, figures: dict[str, Figure], report: str
) -> str:
    """Log a finished run (its parameters, headline results, tables, figures, report and
    config); returns the MLflow run id."""
    import mlflow

    run_id, run = result.run_id, tables.run
    overall = tables.recommendation() or {}
    mlflow.set_experiment(experiment_name(config))
    with mlflow.start_run(run_name=run_id) as active, tempfile.TemporaryDirectory() as folder:
        mlflow.set_tags(
            {
                "retrain_advisor.run_id": run_id,
                "retrain_advisor.study": config.name,
                "source.name": run["source_name"],
                "source.delta_version": str(run["source_version"]),
                "task": run["task"],
                "primary_metric": result.primary_metric,
            }
        )
        mlflow.log_params(flatten(config_as_dict(config)))
        metrics = {"n_fits": result.n_fits, "n_evaluations": result.n_evaluations, "run_seconds": result.seconds}
        metrics |= {f"stage_seconds.{name}": seconds for name, seconds in result.stage_seconds.items()}
        metrics |= {name: float(overall[name]) for name in HEADLINE if overall.get(name) is not None}
        tracked = tables.pooled_estimate_tracking() or {}
        metrics |= {
            f"estimate.{name}": float(tracked[name]) for name in ESTIMATE_HEADLINE if tracked.get(name) is not None
        }
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN: not measured
        if overall:
            rationale = str(overall["rationale"])[:MAX_PARAM_LENGTH]
            mlflow.set_tags(
                {
                    "recommendation": rationale,
                    "mlflow.note.content": rationale,  # the run's description in the MLflow UI
                    "status": str(overall["status"]),
                    "lookback_verdict": str(overall["lookback_verdict"]),
                    "recommended_policy": str(overall["recommended_policy"]),
                }
            )
        curve = tables.overall("decay_curve")
        for row in curve[curve["season"].isna()].sort_values("model_age").to_dict("records"):
            decay = {"decay.mean": float(row["mean"]), "decay.mean_regret": float(row["mean_regret"])}
            mlflow.log_metrics(decay, step=int(row["model_age"]))
        for name, frame in tables.frames.items():
            mlflow.log_table(loggable(frame), f"tables/{name}.json")
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"figures/{name}.png")
        mlflow.log_text(report, "report.html")
        config_file = Path(folder) / "study.yml"
        config_file.write_text(yaml.safe_dump(config_as_dict(config), sort_keys=False))
        mlflow.log_artifact(str(config_file))
        log.info("logged to MLflow experiment %r, run %s", experiment_name(config), active.info.run_id)
        return active.info.run_id
