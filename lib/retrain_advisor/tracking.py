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

import yaml
from pyspark.sql import functions as F

from retrain_advisor.config import StudyConfig, config_as_dict

if TYPE_CHECKING:
    from retrain_advisor.study import StudyResult

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000
HEADLINE = [
    "shelf_life_periods",
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
        return f"/Shared/retrain-advisor/{config.name}"
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


def log_study(result: StudyResult, config: StudyConfig) -> str:
    """Log a finished run; returns the MLflow run id."""
    import mlflow

    store, run_id = result.store, result.run_id
    runs = store.read("runs", run_id).first()
    curve = store.read("decay_curve", run_id).orderBy("metric", "model_age").toPandas()
    shelf = store.read("shelf_life", run_id).where(F.col("fit_id").isNull()).drop("origin").toPandas()
    recommended = store.read("recommendations", run_id).toPandas()
    overall = recommended[recommended["slice_value"].isna()]

    mlflow.set_experiment(experiment_name(config))
    with mlflow.start_run(run_name=run_id) as active, tempfile.TemporaryDirectory() as folder:
        mlflow.set_tags(
            {
                "retrain_advisor.run_id": run_id,
                "retrain_advisor.study": config.name,
                "source.name": runs["source_name"],
                "source.delta_version": str(runs["source_version"]),
                "task": runs["task"],
                "primary_metric": result.primary_metric,
            }
        )
        mlflow.log_params(flatten(config_as_dict(config)))
        metrics = {"n_fits": result.n_fits, "n_evaluations": result.n_evaluations, "run_seconds": result.seconds}
        metrics |= {f"stage_seconds.{name}": seconds for name, seconds in result.stage_seconds.items()}
        if len(overall):
            metrics |= {name: float(overall.iloc[0][name]) for name in HEADLINE if overall.iloc[0][name] is not None}
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN: not measured
        if len(overall):
            mlflow.set_tag("recommendation", str(overall.iloc[0]["rationale"])[:MAX_PARAM_LENGTH])
            mlflow.set_tag("lookback_verdict", str(overall.iloc[0]["lookback_verdict"]))
        primary = curve[(curve["metric"] == result.primary_metric) & curve["slice_value"].isna()]
        for row in primary.itertuples():
            mlflow.log_metrics({"decay.mean": row.mean, "decay.mean_drop": row.mean_drop}, step=int(row.model_age))
        mlflow.log_table(curve, "tables/decay_curve.json")
        mlflow.log_table(shelf, "tables/shelf_life.json")
        mlflow.log_table(recommended, "tables/recommendations.json")
        config_file = Path(folder) / "study.yml"
        config_file.write_text(yaml.safe_dump(config_as_dict(config), sort_keys=False))
        mlflow.log_artifact(str(config_file))
        log.info("logged to MLflow experiment %r, run %s", experiment_name(config), active.info.run_id)
        return active.info.run_id
