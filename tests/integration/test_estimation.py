"""Quality estimated without labels, on real Spark and Delta: a history whose label depends on x
the same way throughout while x crowds, week by week, where the label is least certain. The
measured AUC decays; the estimates must see that decay, and say how well they tracked it."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pyspark.sql import functions as F

from retrain_advisor.outputs.summary import summary_lines
from retrain_advisor.outputs.views import create_views
from tests.configs import study_config
from tests.unit.test_bundle import dashboard_datasets, dashboard_fields

from .conftest import START

pytestmark = pytest.mark.integration

WEEKS = 20
ROWS_PER_WEEK = 1500


def crowding_history(seed: int = 3) -> pd.DataFrame:
    """label ~ Bernoulli(sigmoid(3 x)); x ~ N(0, s) with s falling from 1.5 to 0.2 over the weeks."""
    rng = np.random.default_rng(seed)
    weeks = np.repeat(np.arange(WEEKS), ROWS_PER_WEEK)
    spread = np.linspace(1.5, 0.2, WEEKS)[weeks]
    x = rng.normal(0, 1, len(weeks)) * spread
    label = rng.random(len(weeks)) < 1 / (1 + np.exp(-3 * x))
    seconds = rng.uniform(0, 7 * 86400, len(weeks))
    return pd.DataFrame(
        {
            "event_time": (pd.Timestamp(START) + pd.to_timedelta(weeks * 7 * 86400 + seconds, unit="s")).floor("us"),
            "x": x,
            "noise": rng.normal(0, 1, len(weeks)),
            "label": label.astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def estimated(spark, tmp_path_factory):
    from retrain_advisor.run.study import run_study

    source = str(tmp_path_factory.mktemp("crowding") / "history")
    spark.createDataFrame(crowding_history()).write.format("delta").save(source)
    config = study_config(
        source,
        tmp_path_factory.mktemp("estimation-out"),
        columns={"event_time": "event_time", "label": "label"},
        windows={"lookback": 4, "max_age": 8},
        schedule={"intervals": [1, 4]},
        estimation={"enabled": True},
        tracking={"mlflow": True, "experiment": "estimation-history"},
    )
    return run_study(spark, config), config


def test_every_evaluation_carries_its_estimates_within_their_interval(estimated):
    estimated, _ = estimated
    fits = estimated.table("fits").where(F.col("status") == "ok")
    assert fits.where(F.col("quality_estimator").isNull()).count() == 0
    rows = estimated.table("evaluations").where(F.col("is_sufficient")).toPandas()
    assert len(rows) > 50
    for metric in ("roc_auc", "log_loss"):
        value = np.array([m[metric] for m in rows["estimated_metrics"]])
        low = np.array([m[metric] for m in rows["estimated_metrics_low"]])
        high = np.array([m[metric] for m in rows["estimated_metrics_high"]])
        assert np.all((low <= value) & (value <= high))


def test_the_estimate_sees_the_decay_it_was_not_told_about(estimated):
    estimated, _ = estimated
    tracking = estimated.table("estimate_tracking").where(F.col("slice_value").isNull()).toPandas()
    pooled = tracking[tracking["model_age"].isna()].set_index("metric")
    auc = pooled.loc["roc_auc"]
    measured = estimated.table("decay_curve").where("metric = 'roc_auc' AND season IS NULL").toPandas()
    assert measured.sort_values("model_age")["mean_change_since_fresh"].iloc[-1] > 0.03  # fresh minus aged: it decays
    assert auc["change_correlation"] > 0.8
    assert auc["mean_absolute_error"] < 0.02
    assert auc["interval_coverage"] >= 0.7
    assert auc["n_evaluations"] == tracking[tracking["metric"] == "roc_auc"]["n_evaluations"].sum() / 2
    assert set(tracking.dropna(subset=["model_age"])["model_age"]) == set(range(0, 9))


def test_the_report_shows_estimated_against_measured_quality(estimated):
    estimated, _ = estimated
    report = estimated.report_path.read_text()
    assert "Quality estimated before the labels arrive" in report
    assert "Quality estimated without labels, against the measured quality" in report


def test_without_estimation_nothing_is_estimated(stable_study):
    assert stable_study.table("estimate_tracking").count() == 0
    evaluations = stable_study.table("evaluations")
    assert evaluations.where(F.size("estimated_metrics") > 0).count() == 0
    assert stable_study.table("fits").where(F.col("quality_estimator").isNotNull()).count() == 0


def test_estimated_quality_triggers_compete_in_the_schedule_backtest(estimated):
    estimated, _ = estimated
    backtest = estimated.table("schedule_backtest").where(F.col("slice_value").isNull()).toPandas()
    triggers = backtest[backtest["policy"] == "estimate"]
    quality = backtest[backtest["policy"] == "trigger"]
    assert len(triggers) == len(quality) > 0
    assert sorted(triggers["trigger_drop"]) == sorted(quality["trigger_drop"])
    assert triggers["label_delay_periods"].isna().all() and (triggers["n_retrains"] >= 1).all()


def test_the_summary_and_mlflow_say_how_well_the_estimate_tracked(estimated, mlflow_store):
    result, config = estimated
    pooled = (
        result.table("estimate_tracking")
        .where("metric = 'roc_auc' AND slice_value IS NULL AND model_age IS NULL")
        .first()
    )
    line = next(line for line in summary_lines(result, config) if "estimated without labels" in line)
    assert f"off by {pooled['mean_absolute_error']:.3f}" in line and f"{pooled['change_correlation']:.2f}" in line
    mlflow.set_tracking_uri(mlflow_store)
    run = mlflow.search_runs(experiment_names=["estimation-history"], output_format="list")[0]
    assert run.data.metrics["estimate.change_correlation"] == pytest.approx(pooled["change_correlation"])
    assert run.data.metrics["estimate.interval_coverage"] == pytest.approx(pooled["interval_coverage"])
    client = MlflowClient(mlflow_store)
    assert "tables/estimate_evidence.json" in {a.path for a in client.list_artifacts(run.info.run_id, "tables")}
    assert "figures/estimates.png" in {a.path for a in client.list_artifacts(run.info.run_id, "figures")}


def test_the_dashboards_estimates_page_shows_the_primary_metric_of_the_latest_run(spark, estimated):
    """The bundle's dashboard dataset, run over this study's tables (as temporary views, since they
    live at a path), returns the pooled row and one per age of the primary metric."""
    result, _ = estimated
    names = [*create_views(spark, result.store, temporary=True), "estimate_tracking"]
    result.table("estimate_tracking").createOrReplaceTempView("estimate_tracking")
    try:
        rows = spark.sql(dashboard_datasets()["estimate_tracking"])
        assert dashboard_fields()["estimate_tracking"] <= set(rows.columns)
        shown = rows.toPandas()
    finally:
        for name in names:
            spark.catalog.dropTempView(name)
    assert set(shown["metric"]) == {result.primary_metric}
    assert shown["model_age"].isna().sum() == 1 and shown["model_age"].notna().sum() > 1
