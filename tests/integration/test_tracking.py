"""Each run is logged to a real MLflow store, from the driver."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from retrain_advisor.outputs.run_tables import ANALYSIS_TABLES, SIGNAL_EVIDENCE

pytestmark = pytest.mark.integration


def test_run_is_logged_with_config_results_and_tables(stable_study, mlflow_store):
    mlflow.set_tracking_uri(mlflow_store)
    runs = mlflow.search_runs(experiment_names=["stable-history"], output_format="list")
    assert [r.data.tags["retrain_advisor.run_id"] for r in runs] == [stable_study.run_id]
    run = runs[0]
    shelf = stable_study.shelf_life().first()
    assert run.data.metrics["shelf_life_periods"] == shelf["shelf_life_periods"]
    assert run.data.metrics["n_fits"] == stable_study.n_fits
    recommendation = stable_study.recommendations().where("slice_value IS NULL").first()
    assert run.data.metrics["recommended_interval_periods"] == recommendation["recommended_interval_periods"]
    assert run.data.tags["recommendation"] == recommendation["rationale"]
    assert run.data.params["windows.max_age"] == "6"
    assert run.data.tags["source.delta_version"] != "None"
    client = MlflowClient(mlflow_store)
    history = client.get_metric_history(run.info.run_id, "decay.mean_regret")
    assert sorted(m.step for m in history) == list(range(7))
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"study.yml", "tables", "figures", "report.html"} <= artifacts
    logged_tables = {a.path for a in client.list_artifacts(run.info.run_id, "tables")}
    assert logged_tables == {f"tables/{name}.json" for name in [*ANALYSIS_TABLES, SIGNAL_EVIDENCE]}
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert {"figures/decay.png", "figures/schedule.png", "figures/learning_curve.png"} <= figures
    assert run.data.tags["mlflow.note.content"] == recommendation["rationale"]
    report = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/report.html")
    assert report.index(recommendation["rationale"].replace("'", "&#x27;")) < report.index("<svg")
    backtest = client.load_table(run.info.experiment_id, "tables/schedule_backtest.json", run_ids=[run.info.run_id])
    assert len(backtest) == stable_study.table("schedule_backtest").count()
