"""The five questions and the recommendation, on histories whose truth is known. Real Spark, real Delta."""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import functions as F

from retrain_advisor.run.study import run_study
from tests.configs import study_config

from .conftest import ABRUPT, ABRUPT_TOLERANCE, DRIFT_WEEK, FAST_DRIFT, WIDE_SCHEDULE

pytestmark = pytest.mark.integration


def overall(result) -> dict:
    return result.recommendations().where(F.col("slice_value").isNull()).first().asDict()


def interval_losses(result) -> pd.Series:
    """Mean difference to retraining every period, per interval, averaged over offsets."""
    backtest = result.table("schedule_backtest").where("slice_value IS NULL AND policy = 'periodic'").toPandas()
    return backtest.groupby("interval_periods")["mean_diff"].mean()


def test_a_full_run_trains_each_shared_fit_once(stable_study):
    fits = stable_study.table("fits").toPandas()
    assert len(fits) == fits["fit_id"].nunique() == stable_study.n_fits
    assert fits.loc[fits["status"] == "ok", "reason"].isna().all(), "a trained fit carries no failure reason"
    per_analysis = fits.explode("analyses")["analyses"].value_counts()
    analyses = {"decay", "learning_curve", "window_comparison", "schedule"}
    assert analyses <= set(per_analysis.index) <= analyses | {"joint_replay"}
    assert per_analysis.sum() > len(fits), "fits that several analyses need are trained once"
    assert (fits["analyses"].map(len) > 1).sum() > 0


def test_stable_concept_recommends_the_longest_interval(stable_study):
    recommendation = overall(stable_study)
    losses = interval_losses(stable_study)
    assert (losses >= -0.02).all(), losses
    assert recommendation["recommended_interval_periods"] == losses.index.max() == 4
    assert recommendation["shelf_life_censored"] and not recommendation["decays_before_new_data"]
    assert recommendation["expected_quality_ci_low"] <= recommendation["expected_quality"]
    assert recommendation["expected_quality"] <= recommendation["expected_quality_ci_high"]
    assert "Retrain every 4 weeks" in recommendation["rationale"]


def test_arrival_counts_every_period(stable_study):
    arrival = stable_study.table("data_arrival").orderBy("window.start").toPandas()
    source_rows = stable_study.table("runs").first()["source_rows"]
    assert len(arrival) == 24 and arrival["rows"].sum() == source_rows["total_rows"]
    assert (arrival["labelled_rows"] == arrival["rows"]).all() and not arrival["is_empty"].any()
    assert arrival["positive_rate"].between(0.05, 0.2).all()
    assert arrival["class_counts"].map(lambda c: sum(c.values())).tolist() == arrival["labelled_rows"].tolist()


def test_learning_curve_reaches_a_plateau_on_stable_data(stable_study):
    curve = stable_study.table("learning_curve").toPandas()
    rows = curve[curve["axis"] == "rows"].sort_values("train_rows_max")
    assert rows["train_rows_max"].tolist() == [5000, 20000]
    assert rows["is_largest"].tolist() == [False, True] and rows["is_minimum"].sum() == 1
    periods = curve[curve["axis"] == "periods"]
    assert sorted(periods["lookback_periods"].dropna()) == [2, 4] and periods["lookback_periods"].isna().sum() == 1
    # the largest arm is a fit the schedule shares (scored at more ages): only its test period counts
    fits = stable_study.table("fits").toPandas()
    full_size = (fits["lookback_periods"] == 6) & (fits["train_rows_max"] == 20000)
    shared = fits[full_size & fits["analyses"].map(lambda a: "learning_curve" in a)]
    assert len(shared) == 3 and shared["analyses"].map(lambda a: "schedule" in a).all()
    evaluations = stable_study.table("evaluations").where("slice_value IS NULL").toPandas()
    fresh = evaluations[evaluations["fit_id"].isin(shared["fit_id"]) & (evaluations["model_age"] == 0)]
    assert rows.loc[rows["is_largest"], "mean"].iloc[0] == pytest.approx(
        fresh["metrics"].map(lambda m: m["roc_auc"]).mean()
    )
    recommendation = overall(stable_study)
    assert recommendation["min_train_rows"] == round(rows.loc[rows["is_minimum"], "train_rows_used"].iloc[0])
    per_period = stable_study.table("data_arrival").toPandas()["labelled_rows"].median()
    assert recommendation["min_train_periods"] == max(1, -(-recommendation["min_train_rows"] // per_period))


@pytest.fixture(scope="module")
def abrupt(studied):
    return studied("abrupt", ABRUPT, tolerance=ABRUPT_TOLERANCE)


def test_abrupt_drift_says_drop_the_data_before_it(abrupt):
    windows = abrupt.table("window_comparison").where("slice_value IS NULL").toPandas()
    short = windows[windows["lookback_periods"].notna()]
    # the comparisons train at weeks 21..23; lookbacks of 2 and 4 weeks see only the new concept
    assert (short["diff_ci_low"] > 0).all(), "recent data alone must beat all history after an abrupt change"
    recommendation = overall(abrupt)
    assert recommendation["lookback_verdict"] == "drop_older"
    assert recommendation["recommended_lookback_periods"] <= 21 - DRIFT_WEEK
    assert "drop data older than" in recommendation["rationale"]


def test_faster_drift_needs_retraining_no_less_often(studied):
    fast = studied("gradual", {"drift_strength": FAST_DRIFT}, schedule=WIDE_SCHEDULE)
    slow = studied("gradual", {"drift_strength": 0.3}, schedule=WIDE_SCHEDULE)
    assert overall(fast)["recommended_interval_periods"] <= overall(slow)["recommended_interval_periods"]
    assert interval_losses(fast)[6] < interval_losses(slow)[6], "waiting costs more when the concept moves faster"


def test_label_delay_bounds_the_interval_and_what_models_see(spark, history, tmp_path):
    source = history("none", label_delay_days=14.0)
    config = study_config(
        source,
        tmp_path,
        columns={"event_time": "event_time", "label": "label", "label_time": "label_time"},
        windows={"lookback": 6, "gap": 0, "max_age": 4, "origin_every": 2},
        limits={"max_train_rows": 200_000, "max_eval_rows": 5000},
    )
    result = run_study(spark, config)
    recommendation = overall(result)
    arrival = result.table("data_arrival").toPandas()
    delay = -(-arrival["label_delay_days_p90"].median() // 7)  # whole weeks
    assert delay >= 3
    assert recommendation["label_delay_periods"] == delay
    # the delay is in every fit (label_time) and in the quality triggers, not counted again as a floor
    assert recommendation["min_feasible_interval_periods"] == 1
    triggers = result.table("schedule_backtest").where("policy = 'trigger' AND slice_value IS NULL").toPandas()
    assert len(triggers) and (triggers["label_delay_periods"] == delay).all()
    assert any("Labels take about" in note for note in recommendation["notes"])

    # No sampling (the cap is above every window): each fit used exactly the rows whose label had arrived.
    fits = (
        result.table("fits")
        .where(F.array_contains("analyses", "schedule"))
        .select("fit_id", "train_window", "origin", "train_rows_used")
    )
    rows = spark.read.format("delta").load(source)
    eligible = (
        fits.join(
            rows,
            (rows.event_time >= F.col("train_window.start"))
            & (rows.event_time < F.col("train_window.end"))
            & (rows.label_time <= F.col("origin.start")),
        )
        .groupBy("fit_id", "train_rows_used")
        .count()
        .toPandas()
    )
    assert len(eligible) == fits.count() > 5
    assert (eligible["count"] == eligible["train_rows_used"]).all()


def test_a_drifting_slice_and_a_steady_one_get_different_advice(spark, history, tmp_path):
    def segment(drift: str, name: str, **spec):
        return spark.read.format("delta").load(history(drift, **spec)).withColumn("segment", F.lit(name))

    source = str(tmp_path / "segments")
    segment("abrupt", "drifting", **ABRUPT).unionByName(segment("none", "steady")).write.format("delta").save(source)
    result = run_study(spark, study_config(source, tmp_path / "out", slice={"column": "segment"}))

    for table in ["data_arrival", "decay_curve", "learning_curve", "window_comparison", "schedule_backtest"]:
        values = {r[0] for r in result.table(table).select("slice_value").distinct().collect()}
        assert values == {None, "drifting", "steady"}, table
    recommendations = {r["slice_value"]: r.asDict() for r in result.recommendations().collect()}
    assert set(recommendations) == {None, "drifting", "steady"}
    drifting, steady = recommendations["drifting"], recommendations["steady"]
    assert drifting["slice_key"] == steady["slice_key"] == "segment"
    assert drifting["decay_pattern"] == "abrupt" and drifting["event_window"] is not None
    assert steady["decay_pattern"] == "stable" and steady["event_window"] is None
    assert drifting["recommended_interval_periods"] <= steady["recommended_interval_periods"]
    events = result.table("calendar_events").toPandas()
    assert set(events["slice_value"].dropna()) == {"drifting"}

    # drift for all rows and each slice: the slices' rows add up to all rows in every period
    drift = result.table("feature_drift").where("drift_type = 'CONSECUTIVE'").toPandas()
    assert set(drift["slice_value"]) == {None, "drifting", "steady"}
    drift["start"] = drift["window"].map(lambda w: w["start"])
    drift["part"] = drift["slice_value"].notna()
    counted = drift.pivot_table(index=["column_name", "start"], columns="part", values="count", aggfunc="sum")
    assert (counted[True] == counted[False]).all()
    predictions = result.table("feature_drift").where("column_role = 'prediction'").toPandas()
    assert set(predictions["slice_value"]) == {None, "drifting", "steady"}

    # each slice's labelled rows per class, as the source holds them
    arrival = result.table("data_arrival").toPandas()
    arrival["start"] = arrival["window"].map(lambda w: w["start"])
    source_counts = (
        spark.read.format("delta")
        .load(source)
        .groupBy("segment", F.date_trunc("week", "event_time").alias("start"), F.col("label").cast("string"))
        .count()
        .toPandas()
    )
    for part in ["drifting", "steady"]:
        ours = arrival[arrival["slice_value"] == part].set_index("start")["class_counts"].map(dict).sort_index()
        theirs = {
            start: dict(zip(group["label"], group["count"], strict=True))
            for start, group in source_counts[source_counts["segment"] == part].groupby("start")
        }
        assert ours.tolist() == [theirs[start] for start in sorted(theirs)], part

    # the slices partition each scored period's rows
    evaluations = result.table("evaluations").select("fit_id", "window", "slice_value", "eval_rows_used").toPandas()
    evaluations["start"] = evaluations["window"].map(lambda w: w["start"])
    evaluations["part"] = evaluations["slice_value"].notna()
    totals = evaluations.pivot_table(index=["fit_id", "start"], columns="part", values="eval_rows_used", aggfunc="sum")
    assert (totals[True] == totals[False]).all()
