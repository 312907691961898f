"""Drift with known truth: a feature the model relies on shifts twice (once before the replayed
periods, once within them), an irrelevant one shifts all the time. The drift tables must show
every shift, rank only the first feature as costly, and a drift trigger whose threshold was
learnt on the first shift must catch the second."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from tests.configs import study_config

from .conftest import START

pytestmark = pytest.mark.integration

WEEKS = 30
ROWS_PER_WEEK = 3000
FIRST_SHIFT = 10  # x_rel moves from N(0, 1) to N(3, 1) here, before the replayed weeks 18..29 ...
SHIFT_WEEK = 20  # ... and back to N(0, 1) here, within them
IRRELEVANT_SHIFT = 3.0  # x_irr's mean alternates between 0 and this, week by week


def covariate_history(seed: int = 5) -> pd.DataFrame:
    """label ~ Bernoulli(sigmoid(3 sin(x_rel))): a linear model fit on x_rel near 0 learns
    "higher is riskier", which is wrong once x_rel lives near 3, and one fit near 3 learns the
    opposite. x_irr never enters the label."""
    rng = np.random.default_rng(seed)
    weeks = np.repeat(np.arange(WEEKS), ROWS_PER_WEEK)
    seconds = rng.uniform(0, 7 * 86400, len(weeks))
    x_rel = rng.normal(np.where((weeks >= FIRST_SHIFT) & (weeks < SHIFT_WEEK), 3.0, 0.0), 1.0)
    x_irr = rng.normal(np.where(weeks % 2 == 1, IRRELEVANT_SHIFT, 0.0), 1.0)
    noise = rng.normal(0, 1, len(weeks))
    label = rng.random(len(weeks)) < 1 / (1 + np.exp(-3 * np.sin(x_rel)))
    start = pd.Timestamp(START)
    return pd.DataFrame(
        {
            "event_time": (start + pd.to_timedelta(weeks * 7 * 86400 + seconds, unit="s")).floor("us"),
            "x_rel": x_rel,
            "x_irr": x_irr,
            "noise": noise,
            "label": label.astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def drift_study(spark, tmp_path_factory):
    from retrain_advisor.run.study import run_study

    source = str(tmp_path_factory.mktemp("covariate") / "history")
    spark.createDataFrame(covariate_history()).write.format("delta").save(source)
    config = study_config(
        source,
        tmp_path_factory.mktemp("drift-out"),
        columns={"event_time": "event_time", "label": "label"},
        tolerance={"absolute": 0.05, "persistence": 1},
        schedule={"intervals": [1, 2, 4], "replay_periods": 12},  # weeks 18..29: the second shift is replayed
    )
    result = run_study(spark, config)
    return result, result.table("feature_drift").toPandas(), result.table("drift_signals").toPandas()


def week_of(window, edge: str = "start") -> int:
    return (pd.Timestamp(window[edge]).date() - START).days // 7


def test_consecutive_drift_shows_both_shifts(drift_study):
    _, drift, _ = drift_study
    consecutive = drift[drift["drift_type"] == "CONSECUTIVE"].assign(week=lambda d: d["window"].map(week_of))
    psi = consecutive.pivot_table(index="week", columns="column_name", values="population_stability_index")
    assert psi.loc[[FIRST_SHIFT, SHIFT_WEEK], "x_rel"].min() > 1.0, "the relevant feature's shift weeks"
    assert psi["x_rel"].drop([FIRST_SHIFT, SHIFT_WEEK]).max() < 0.1, "x_rel is steady between its shifts"
    assert psi["x_irr"].min() > 1.0, "x_irr moves every week"
    assert psi["noise"].max() < 0.1
    counts = consecutive[consecutive["column_name"] == "noise"].set_index("week")["count"]
    assert (counts == ROWS_PER_WEEK).all(), "every labelled row of each week is counted"
    ks = consecutive[consecutive["column_name"] == "x_rel"].set_index("week")["ks_test"]
    assert ks[SHIFT_WEEK]["statistic"] > 0.8 and ks[SHIFT_WEEK]["pvalue"] < 1e-6
    label = consecutive[consecutive["column_role"] == "label"]
    assert label["chi_squared_test"].notna().all() and label["ks_test"].isna().all()


def test_baseline_drift_compares_each_scored_period_with_the_training_window(drift_study):
    result, drift, _ = drift_study
    baseline = drift[(drift["drift_type"] == "BASELINE") & (drift["column_role"] != "prediction")]
    columns = baseline["column_name"].nunique()
    assert columns == 4, "x_rel, x_irr, noise and the label"
    per_evaluation = baseline.assign(start=baseline["window"].map(lambda w: pd.Timestamp(w["start"]))).groupby(
        ["fit_id", "start"]
    )
    assert (per_evaluation.size() == columns).all()
    # every evaluation of the plan has its baseline; the joint replay's, scored after drift is measured, may not
    planned = result.table("fits").where(~F.array_contains("analyses", "joint_replay")).select("fit_id")
    evaluations = result.table("evaluations").where(F.col("slice_value").isNull()).join(planned, "fit_id")
    keys = {(r["fit_id"], pd.Timestamp(r["window"]["start"])) for r in evaluations.select("fit_id", "window").collect()}
    assert keys and keys <= set(per_evaluation.groups)
    fits = result.table("fits").select("fit_id", "train_window").toPandas().set_index("fit_id")["train_window"]
    for row in baseline.head(50).itertuples():
        assert row.window_cmp == fits[row.fit_id], "the baseline is the fit's own training window"


def test_prediction_drift_follows_the_shift(drift_study):
    """Fits trained before the first shift see their predictions move once x_rel moves, and not before."""
    _, drift, _ = drift_study
    predictions = drift[drift["column_role"] == "prediction"].assign(
        week=lambda d: d["window"].map(week_of),
        trained_until=lambda d: d["window_cmp"].map(lambda w: week_of(w, "end")),
    )
    before = predictions[predictions["trained_until"] <= FIRST_SHIFT]
    assert before.loc[before["week"] < FIRST_SHIFT, "js_distance"].max() < 0.1
    moved = before.loc[before["week"].between(FIRST_SHIFT, SHIFT_WEEK - 1), "js_distance"]
    assert len(moved) and moved.min() > 0.3


def test_only_the_feature_the_model_relies_on_ranks_as_costly(drift_study):
    result, drift, signals = drift_study
    per_feature = signals[signals["aggregation"].isna() & signals["column_name"].isin(["x_rel", "x_irr", "noise"])]
    best = per_feature.sort_values("rank").iloc[0]
    assert best["column_name"] == "x_rel", per_feature.sort_values("rank").head()
    assert best["auc_within_age"] > 0.9 and best["n_breaches"] > 0
    irrelevant = per_feature[per_feature["column_name"] == "x_irr"]
    assert irrelevant["auc_within_age"].max() < 0.7, irrelevant
    assert irrelevant["rank"].min() > per_feature[per_feature["column_name"] == "x_rel"]["rank"].min()
    # the threshold learnt on the first shift holds on the replayed weeks, which hold the second
    assert best["n_holdout"] > 0 and best["alert_precision"] >= 0.7 and best["alert_recall"] >= 0.7, best
    # Large drift of x_irr before the shift came with no quality drop at all: the drift is real, the cost is not.
    baseline = drift[(drift["drift_type"] == "BASELINE") & (drift["column_name"] == "x_irr")]
    before_shift = baseline[baseline["window"].map(week_of) < FIRST_SHIFT]
    assert before_shift["population_stability_index"].max() > 1.0
    quality = result.table("evaluations").where("slice_value IS NULL AND is_sufficient").toPandas()
    quality = quality.assign(auc=quality["metrics"].map(lambda m: m["roc_auc"]), week=quality["window"].map(week_of))
    fresh = quality[quality["model_age"] == 0].set_index("fit_id")["auc"]
    drops = fresh.reindex(quality["fit_id"]).to_numpy() - quality["auc"].to_numpy()
    before = drops[(quality["week"] < FIRST_SHIFT).to_numpy() & np.isfinite(drops)]  # fits scored at age 0
    assert len(before) >= 10 and before.max() < 0.05, "no quality lost while only x_irr moved"


def test_a_drift_trigger_on_the_costly_feature_retrains_right_after_the_shift(drift_study):
    result, _, signals = drift_study
    backtest = result.table("schedule_backtest").where("slice_value IS NULL").toPandas()
    drift = backtest[backtest["policy"] == "drift"]
    # the triggers watch what the shift moved: x_rel, or the predictions it drives; never x_irr
    assert len(drift) >= 1 and drift["drift_signal"].str.contains(r":(?:x_rel|\(prediction\))$").all(), drift
    best = next(name for name in signals.sort_values("rank")["signal"] if name in set(drift["drift_signal"]))
    watched = drift[drift["drift_signal"] == best].iloc[0]
    assert watched["drift_threshold"] == signals.set_index("signal").loc[watched["drift_signal"], "alert_threshold"]
    retrained = [week_of(p["window"]) for p in watched["served"] if p["retrained"]]
    assert SHIFT_WEEK + 1 in retrained, retrained
    assert SHIFT_WEEK not in retrained, "the shift week's drift is known only once that week is over"
    every_fourth = backtest[(backtest["policy"] == "periodic") & (backtest["interval_periods"] == 4)]
    assert watched["mean_quality"] > every_fourth["mean_quality"].mean()
    assert watched["n_retrains"] < backtest.loc[backtest["interval_periods"].eq(1), "n_retrains"].max()


def test_a_study_with_drift_off_measures_none_and_its_report_reads_no_evaluations(
    spark, history, tmp_path, monkeypatch
):
    """drift.enabled: false (and no estimation) leaves the drift tables empty and the recommendation
    without a drift policy, and the report, which then shows no evidence drawn from the decay
    fits' evaluations, does not read them."""
    from retrain_advisor.outputs import run_tables
    from retrain_advisor.run.study import run_study

    def not_needed(*args, **kwargs):
        raise AssertionError("the report read the decay evaluations with drift and estimation off")

    monkeypatch.setattr(run_tables, "decay_evaluations", not_needed)
    config = study_config(
        history("gradual"),
        tmp_path,
        windows={"lookback": 6, "gap": 0, "max_age": 2, "origin_every": 6},
        comparisons={"origins": 2, "train_sizes": [5000], "lookbacks": [2]},
        schedule={"intervals": [1, 2]},
        drift={"enabled": False},
    )
    result = run_study(spark, config)
    assert result.store.read("feature_drift", result.run_id).count() == 0
    assert result.store.read("drift_signals", result.run_id).count() == 0
    policies = {r["recommended_policy"] for r in result.store.read("recommendations", result.run_id).collect()}
    assert "drift" not in policies
    assert result.report_path is not None and result.report_path.exists()


def test_a_far_future_leaves_the_drift_of_an_earlier_fit_as_it_was(spark):
    """No statistic reads the future. A fit trains on weeks 0-7 and is scored on weeks 8-10, where
    the feature's spread narrows; 30 more weeks, in which it lives near 6, must not change that
    fit's drift. With deciles of all history those weeks squeezed the training window into three
    bins and hid most of the narrowing."""
    from retrain_advisor.analyses.drift.histograms import column_histograms, drift_rows
    from retrain_advisor.analyses.drift.query import drift_columns, period_histograms
    from retrain_advisor.foundation.vocabulary import BASELINE, PERIOD, ROW_HASH, TARGET
    from retrain_advisor.planning.plan import FitSpec, Plan
    from retrain_advisor.spark.source import PreparedSource

    rng = np.random.default_rng(11)
    weeks = np.repeat(np.arange(41), 2000)
    spread = np.where(weeks < 8, 1.0, np.where(weeks < 11, 0.6, 1.0))
    x = rng.normal(np.where(weeks < 11, 0.0, 6.0), spread)
    frame = pd.DataFrame({PERIOD: weeks, "x": x, TARGET: np.where(rng.random(len(weeks)) < 0.3, "1", "0")})
    fit = FitSpec(train_end=8, train_start=0, train_stop=8, lookback=8, max_rows=16_000, seed=1)
    plan = Plan()
    for week in (8, 9, 10):
        plan.add_evaluation(fit, week)

    def drift_of_the_fit(last_week: int) -> dict[int, dict]:
        part = frame[frame[PERIOD] <= last_week]
        rows = spark.createDataFrame(part).withColumn(ROW_HASH, F.xxhash64("x", PERIOD))
        counts = part.groupby(PERIOD).size()
        profile = pd.DataFrame({"period_id": counts.index, "slice_value": None, "rows": counts.to_numpy()})
        sample = {"x": part["x"].to_numpy()}  # every row: fewer than VALUE_SAMPLE_ROWS
        source = PreparedSource(rows, "binary", ["x"], [], ["0", "1"], "1", profile, None, pd.DataFrame(), sample)  # type: ignore[arg-type]
        measured = drift_columns(source, "label")
        histograms = column_histograms(period_histograms(rows, measured), [m.column for m in measured])
        return {
            r["period_id"]: r
            for r in drift_rows(histograms, plan)
            if r["drift_type"] == BASELINE and r["column_name"] == "x"
        }

    alone, followed = drift_of_the_fit(10), drift_of_the_fit(40)
    window = x[weeks < 8]
    deciles = np.quantile(window, np.arange(1, 10) / 10)
    for week in (8, 9, 10):
        before, after = alone[week], followed[week]
        assert after["population_stability_index"] == pytest.approx(before["population_stability_index"], rel=0.15)
        assert after["js_distance"] == pytest.approx(before["js_distance"], rel=0.15)
        assert after["ks_test"]["statistic"] == pytest.approx(before["ks_test"]["statistic"], abs=0.03)
        assert after["wasserstein_distance"] == pytest.approx(before["wasserstein_distance"], rel=0.1)
        # and both are the PSI on the training window's own deciles, from the rows
        p = np.bincount(np.searchsorted(deciles, x[weeks == week]), minlength=10) / 2000
        q = np.bincount(np.searchsorted(deciles, window), minlength=10) / len(window)
        exact = float(np.sum((p - q) * np.log(p / q)))
        assert after["population_stability_index"] == pytest.approx(exact, rel=0.15), week


def test_each_value_is_counted_in_its_cell_per_period_and_slice(spark):
    """The tasks' counts, added up by Spark, are numpy's: a numeric value is in the cell
    searchsorted (right) gives it, on an edge, between edges and beyond both ends; NaN, infinite
    and null values are the null bin; a category is a bin of its own; every count is per period
    and slice, with the value sums of numeric cells."""
    from retrain_advisor.analyses.drift.histograms import DriftColumn
    from retrain_advisor.analyses.drift.query import MeasuredColumn, period_histograms
    from retrain_advisor.foundation.vocabulary import PERIOD, SLICE

    rng = np.random.default_rng(2)
    edges = (-1.0, 0.0, 0.0 + 1e-9, 2.5)
    n = 400
    x = rng.normal(0, 2, n)
    x[:8] = [-1.0, 0.0, 2.5, np.nan, np.inf, -np.inf, 1e300, -1e300]
    frame = pd.DataFrame(
        {
            PERIOD: rng.integers(3, 6, n),
            SLICE: rng.choice(["a", "b"], n),
            "x": x,
            "color": rng.choice(["red", "blue", None], n),
        }
    )
    blue = F.col("color") == "blue"
    rows = spark.createDataFrame(frame).withColumn("x", F.when(blue, F.lit(None)).otherwise(F.col("x")))
    frame.loc[frame["color"] == "blue", "x"] = None  # and nulls the way Spark holds them
    columns = [
        MeasuredColumn(DriftColumn("x", "feature", True, edges), F.col("x")),
        MeasuredColumn(DriftColumn("color", "feature", False), F.col("color")),
    ]
    counted = period_histograms(rows.repartition(3), columns)
    keys = ["period_id", "slice_value", "column_name", "bin"]
    finite = np.isfinite(frame["x"].to_numpy(dtype=float))
    cells = np.searchsorted(np.asarray(edges), frame["x"].to_numpy(dtype=float), side="right")
    expected_x = pd.DataFrame(
        {
            "period_id": frame[PERIOD],
            "slice_value": frame[SLICE],
            "column_name": "x",
            "bin": [str(c) if f else None for c, f in zip(cells, finite, strict=True)],
            "value": np.where(finite, frame["x"], np.nan),
        }
    )
    expected_color = pd.DataFrame(
        {"period_id": frame[PERIOD], "slice_value": frame[SLICE], "column_name": "color", "bin": frame["color"]}
    ).assign(value=np.nan)
    expected = (
        pd.concat([expected_x, expected_color])
        .groupby(keys, dropna=False)
        .agg(rows=("value", "size"), value_sum=("value", lambda v: v.sum(min_count=1)))
        .sort_index()
    )

    def tidy(table: pd.DataFrame) -> pd.DataFrame:
        table = table.reset_index() if "bin" not in table.columns else table
        table = table.assign(bin=table["bin"].fillna("(null)"), period_id=table["period_id"].astype("int64"))
        return table.sort_values(keys).reset_index(drop=True)[[*keys, "rows", "value_sum"]]

    pd.testing.assert_frame_equal(tidy(counted), tidy(expected), check_dtype=False, rtol=1e-12)
