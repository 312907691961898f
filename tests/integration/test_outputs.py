"""The results as others read them: the Spark UI, SQL views, the documented queries and the
bundle's dashboard and alert over a schema of catalog tables, the HTML report and its rebuild, and
an independent Delta reader."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from retrain_advisor.cli import main as cli
from retrain_advisor.foundation.schemas import SCHEMAS, columns
from retrain_advisor.outputs.figures import FIGURES
from retrain_advisor.outputs.report import report_folder
from retrain_advisor.outputs.store import ResultStore
from tests.configs import study_config
from tests.unit.test_bundle import alert_query, dashboard_datasets, dashboard_fields

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# A name SQL reads only in backticks (Unity Catalog also allows hyphens, which the local catalog refuses)
SCHEMA = "2024"
QUOTED = f"`{SCHEMA}`"
# the stages that run Spark jobs (arrival and the analyses compute on the driver), and the
# run's row in `runs`
STAGES = ["record", "prepare", "fit", "score", "evaluations", "drift", "write", "publish"]


@pytest.fixture(scope="module")
def schema_study(spark, history, tmp_path_factory):
    """A study writing catalog tables into a schema, its report into a folder of its own."""
    from retrain_advisor.run.study import run_study

    config = study_config(history("none"), tmp_path_factory.mktemp("unused"), output={"schema": SCHEMA, "path": None})
    reports = tmp_path_factory.mktemp("reports")
    config = config.model_copy(update={"output": config.output.model_copy(update={"report_dir": str(reports)})})
    return run_study(spark, config), config


def test_spark_ui_names_the_jobs_of_every_stage(spark, schema_study):
    """Runs first in this module, so the UI still holds the study's jobs."""
    result, _ = schema_study
    context = spark.sparkContext
    context._jsc.sc().listenerBus().waitUntilEmpty(30_000)  # the UI has every job's end
    with urllib.request.urlopen(
        f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/jobs", timeout=30
    ) as response:
        jobs = json.load(response)
    label = f"retrain-advisor {result.run_id}: "
    labels = [job.get("description") or "" for job in sorted(jobs, key=lambda job: job["jobId"])]
    ran = [i for i, description in enumerate(labels) if label in description]
    assert ran, "the Spark UI holds no job of the run"
    # Delta prefixes its own jobs' descriptions ("Delta: <the stage's>: <its step>")
    unlabelled = [description for description in labels[ran[0] : ran[-1]] if label not in description]
    assert not unlabelled, unlabelled
    ours = [description for description in labels if description.startswith(label)]
    stages = {description.split(": ", 1)[1].split(" ")[0] for description in ours}
    assert set(STAGES) <= stages, stages
    fits = result.table("fits").toPandas()
    planned_first = int(fits["analyses"].map(lambda a: list(a) != ["joint_replay"]).sum())  # joint replay's: later
    assert any(re.search(rf": fit {planned_first} models", description) for description in ours), ours
    # the analysis tables the joint replay leaves as they are are written while it runs, not after
    joint = [i for i, description in enumerate(labels) if f"{label}joint " in description]
    standing = [i for i, description in enumerate(labels) if f"{label}write (the analyses the joint" in description]
    assert joint, "the study no longer runs a joint replay: choose one that does"
    assert standing and standing[0] < joint[-1], (standing, joint)


def test_a_label_inside_a_stage_gives_the_stage_its_label_back(spark):
    from retrain_advisor.spark.session import JOB_DESCRIPTION, JobLabels

    context, jobs = spark.sparkContext, JobLabels(spark, "nested")
    with jobs.label("score", "(12 periods)"):
        with jobs.label("record", "(the run in runs)"):
            assert context.getLocalProperty(JOB_DESCRIPTION) == "retrain-advisor nested: record (the run in runs)"
        assert context.getLocalProperty(JOB_DESCRIPTION) == "retrain-advisor nested: score (12 periods)"
    assert context.getLocalProperty(JOB_DESCRIPTION) is None


def test_stopping_background_work_cancels_it_and_logs_only_the_failures_not_yet_raised(spark, caplog):
    """A failed run stops its background work: work still running is cancelled (one work's jobs
    only), and work that had failed on its own is logged, unless its error is the run's."""
    from retrain_advisor.spark.session import JobLabels

    def broken(what: str) -> Callable[[], None]:
        def work() -> None:
            raise RuntimeError(f"the {what} write broke")

        return work

    jobs = JobLabels(spark, "stopping")
    raised = jobs.in_background("write", "(the arrival table)", broken("arrival"))
    jobs.in_background("write", "(the decay table)", broken("decay"))
    long = jobs.in_background("write", "(a long one)", lambda: spark.range(0, 10**13, numPartitions=2).count())
    while sum(t.name.startswith("retrain-advisor-write") for t in threading.enumerate()) > 1:
        time.sleep(0.05)  # both broken writes have ended, the long one runs
    with pytest.raises(RuntimeError) as run_error:
        raised.result()  # the run fails with this one's error
    with caplog.at_level("WARNING", logger="retrain_advisor"):
        jobs.stop_background(reported=run_error.value)
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("retrain_advisor")]
    assert len(warned) == 1 and "the decay write broke" in warned[0], warned  # not the cancelled one
    with pytest.raises(Exception, match="cancel"):
        long.result()


def test_a_cancelled_record_of_the_run_is_not_called_an_unwritable_output(spark, tmp_path, monkeypatch):
    """A cancel (a failed run stopping its work, Ctrl-C, the Spark UI) says nothing of the output:
    the run's first write raises Spark's cancel as it is, not "check that the location is writable"."""
    from retrain_advisor.foundation.errors import OutputError
    from retrain_advisor.run.context import StudyRun

    def endless_write(store: ResultStore, table: str, rows: object, run_id: str) -> None:
        spark.range(0, 10**13, numPartitions=2).count()

    monkeypatch.setattr(ResultStore, "replace_run", endless_write)
    run = StudyRun(spark, study_config(str(tmp_path / "history"), tmp_path / "results"))
    recorded = run.jobs.in_background("record", "(the run as running in runs)", run.record_start)
    while not spark.sparkContext.statusTracker().getActiveJobsIds():
        time.sleep(0.05)
    spark.sparkContext.cancelAllJobs()  # what Ctrl-C does
    with pytest.raises(Exception, match="cancel") as cancelled:
        recorded.result()
    assert not isinstance(cancelled.value, OutputError)


def test_views_answer_the_common_questions(spark, schema_study):
    result, config = schema_study
    tables = {row["viewName"] for row in spark.sql(f"SHOW VIEWS IN {QUOTED}").collect()}
    assert {
        "latest_runs",
        "latest_recommendations",
        "latest_decay_curve",
        "latest_shelf_life",
        "latest_calendar_events",
    } <= tables
    latest = spark.table(f"{QUOTED}.latest_recommendations").where("slice_value IS NULL").collect()
    assert [r["run_id"] for r in latest] == [result.run_id]
    expected = result.recommendations().where("slice_value IS NULL").first()
    assert latest[0]["rationale"] == expected["rationale"]
    assert latest[0]["study_name"] == config.name
    curve = (
        spark.table(f"{QUOTED}.latest_decay_curve")
        .where((F.col("metric") == "roc_auc") & F.col("season").isNull())
        .orderBy("model_age")
    )
    assert [r["model_age"] for r in curve.collect()] == list(range(config.windows.max_age + 1))
    assert spark.table(f"{QUOTED}.latest_shelf_life").where("fit_id IS NOT NULL").count() == 0


def test_views_follow_the_latest_succeeded_run(spark, schema_study):
    """A later succeeded run replaces the earlier one in the views; a later failed run does not."""
    result, _ = schema_study
    store = result.store
    run = store.read("runs", result.run_id).first().asDict()
    for run_id, hours, status in [("later-succeeded", 1, "succeeded"), ("latest-failed", 2, "failed")]:
        later = {**run, "run_id": run_id, "status": status, "started_at": run["started_at"] + dt.timedelta(hours=hours)}
        store.replace_run("runs", spark.createDataFrame([later], SCHEMAS["runs"]), run_id)
        rows = result.recommendations().withColumn("run_id", F.lit(run_id))
        store.replace_run("recommendations", rows, run_id)
    try:
        latest = spark.table(f"{QUOTED}.latest_recommendations").select("run_id").distinct().collect()
        assert [r["run_id"] for r in latest] == ["later-succeeded"]
    finally:
        for run_id in ("later-succeeded", "latest-failed"):
            store.discard_run(run_id)
            spark.sql(f"DELETE FROM {store.reference('runs')} WHERE run_id = '{run_id}'")


def test_dashboard_datasets_run_on_the_result_schema(spark, schema_study):
    """Each dataset of the bundle's dashboard, run where dataset_catalog and dataset_schema point,
    returns every column its widgets read, and rows."""
    previous = spark.catalog.currentDatabase()
    spark.sql(f"USE {QUOTED}")
    try:
        needed = dashboard_fields()
        for name, sql in dashboard_datasets().items():
            rows = spark.sql(sql)
            assert needed[name] <= set(rows.columns), (name, needed[name] - set(rows.columns))
            # the schema's study estimates nothing: test_estimation runs that dataset on a study that does
            assert name == "estimate_tracking" or rows.count() > 0, name
    finally:
        spark.sql(f"USE `{previous}`")


def _alert_rows(spark) -> dict[str, dict]:
    query = re.sub(r"`[^`]+`\.`[^`]+`\.(\w+)", rf"{QUOTED}.\1", alert_query())
    return {row["run_id"]: row.asDict() for row in spark.sql(query).collect()}


def test_alert_fires_when_the_recommendation_changes_or_the_drift_signal_crosses(spark, schema_study):
    result, _ = schema_study
    store = result.store
    run = store.read("runs", result.run_id).first().asDict()
    drift = result.table("feature_drift")
    feature = drift.where("column_role = 'feature'").first()["column_name"]
    added: list[str] = []

    def later_run(run_id: str, **recommendation) -> None:
        started = run["started_at"] + dt.timedelta(hours=len(added) + 1)
        added.append(run_id)
        store.replace_run(
            "runs", spark.createDataFrame([{**run, "run_id": run_id, "started_at": started}], SCHEMAS["runs"]), run_id
        )
        rows = result.recommendations().withColumn("run_id", F.lit(run_id))
        for column, value in recommendation.items():
            rows = rows.withColumn(column, F.lit(value).cast(rows.schema[column].dataType))
        store.replace_run("recommendations", rows, run_id)
        store.replace_run("feature_drift", drift.withColumn("run_id", F.lit(run_id)), run_id)

    try:
        (only,) = _alert_rows(spark).values()
        assert (only["verdict_changed"], only["drift_crossed"], only["needs_attention"]) == (0, 0, 0)

        later_run("same-again")
        assert _alert_rows(spark)["same-again"]["needs_attention"] == 0

        interval = result.recommendations().where("slice_value IS NULL").first()["recommended_interval_periods"]
        later_run("longer-interval", recommended_interval_periods=(interval or 1) + 1)
        flagged = _alert_rows(spark)["longer-interval"]
        assert (flagged["verdict_changed"], flagged["needs_attention"]) == (1, 1)

        # a drift policy whose signal is far below its threshold, then the same policy crossed
        policy = {"recommended_policy": "drift", "recommended_drift_signal": f"js_distance:{feature}"}
        later_run("drift-quiet", **policy, recommended_drift_threshold=1e9)
        later_run("drift-still-quiet", **policy, recommended_drift_threshold=1e9)
        quiet = _alert_rows(spark)["drift-still-quiet"]
        assert (quiet["verdict_changed"], quiet["drift_crossed"], quiet["needs_attention"]) == (0, 0, 0)
        later_run("drift-crossed", **policy, recommended_drift_threshold=0.0)
        crossed = _alert_rows(spark)["drift-crossed"]
        assert (crossed["verdict_changed"], crossed["drift_crossed"], crossed["needs_attention"]) == (0, 1, 1)
        aggregate = {**policy, "recommended_drift_signal": "population_stability_index:max(all features)"}
        later_run("drift-aggregate", **aggregate, recommended_drift_threshold=0.0)
        assert _alert_rows(spark)["drift-aggregate"]["drift_crossed"] == 1
    finally:
        for run_id in added:
            store.discard_run(run_id)
            spark.sql(f"DELETE FROM {store.reference('runs')} WHERE run_id = '{run_id}'")


def sql_examples(path: Path) -> list[str]:
    """The statements of every ```sql block in a document."""
    blocks = re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.S)
    statements = [s.strip() for block in blocks for s in block.split(";")]
    return [s for s in statements if s and not all(line.startswith("--") for line in s.splitlines())]


@pytest.mark.parametrize("document", ["docs/tables.md", "README.md"])
def test_documented_queries_run_and_return_rows(spark, schema_study, document):
    """Every example query, pointed at this schema, runs and finds the run."""
    result, _ = schema_study
    statements = sql_examples(ROOT / document)
    assert statements
    for statement in statements:
        query = re.sub(r"delta\.`retrain_advisor_demo/results/(\w+)`", rf"{QUOTED}.\1", statement)
        query = query.replace("main.retrain_advisor.", f"{QUOTED}.")
        query = query.replace(":run_id", f"'{result.run_id}'")
        assert spark.sql(query).count() > 0, query


def test_report_leads_with_the_recommendation_and_the_rebuild_is_identical(schema_study, tmp_path, capsys):
    result, config = schema_study
    assert result.report_path == report_folder(config.output) / f"{result.run_id}.html"
    written = result.report_path.read_text()
    recommendation = result.recommendations().where("slice_value IS NULL").first()
    rationale = written.index(recommendation["rationale"].replace("'", "&#x27;"))
    assert rationale < written.index("<svg"), "the recommendation comes before the figures"
    titles = [title for title, _ in FIGURES.values()]
    drawn = [title for title in titles if f"<h2>{title}</h2><figure><svg" in written]
    assert set(drawn) >= {
        FIGURES[n][0] for n in ("decay", "schedule", "learning_curve", "lookbacks", "arrival", "drift")
    }
    assert written.count("<svg") == len(drawn), "every figure in its own section"
    assert not re.search(r"<script|<link|<img|src=|href=\"http", written), "self-contained: nothing to fetch"

    rebuilt = tmp_path / "rebuilt.html"
    assert cli(["report", "--output-schema", SCHEMA, "--run-id", result.run_id, "--out", str(rebuilt)]) == 0
    assert rebuilt.read_text() == written
    assert str(rebuilt) in capsys.readouterr().out


def test_report_refuses_an_unknown_run(schema_study, capsys):
    assert cli(["report", "--output-schema", SCHEMA, "--run-id", "no-such-run"]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_delta_rs_reads_every_table_as_spark_wrote_it(spark, stable_study):
    """An independent reader (delta-rs, no JVM) sees the same tables: standard Delta."""
    store: ResultStore = stable_study.store
    for table in SCHEMAS:
        delta = DeltaTable(store.location(table))
        assert delta.metadata().partition_columns == ["run_id"], table
        frame = delta.to_pandas()
        assert list(frame.columns) == columns(table), table
        # this history has no calendar event, and this study estimates no quality without labels
        may_be_empty = table in ("calendar_events", "estimate_tracking")
        assert len(frame) == store.read(table).count() > (-1 if may_be_empty else 0), table
    ours = DeltaTable(store.location("decay_curve")).to_pandas()
    theirs = store.read("decay_curve").toPandas()
    key = ["slice_value", "metric", "season", "model_age"]
    numbers = ["model_age", "n_origins", "mean", "mean_regret", "regret_ci_low", "regret_ci_high"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key)[numbers].reset_index(drop=True).astype(float),
        theirs.sort_values(key)[numbers].reset_index(drop=True).astype(float),
    )


def test_the_study_config_round_trips_through_the_runs_table(schema_study):
    """The report rebuilds the config from runs.config_json: it must equal the run's config."""
    from retrain_advisor.outputs.run_tables import load_run_tables

    result, config = schema_study
    tables = load_run_tables(result.store, result.run_id)
    assert tables.config == config
