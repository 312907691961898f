"""Bad input, failures part-way, concurrent runs, a worker lost mid-run, and determinism."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from pyspark.sql import functions as F

from localspark import StandaloneCluster, package_zip, submit_command
from retrain_advisor.foundation.config import OutputConfig, config_as_dict
from retrain_advisor.foundation.errors import ConfigError, OutputError, PlanError, RecipeError, SourceError
from retrain_advisor.foundation.schemas import SCHEMAS
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.run import analyze
from retrain_advisor.run.prepare import prepare_study
from retrain_advisor.run.study import run_study
from retrain_advisor.spark.source import prepare_source
from tests.configs import study_config

pytestmark = pytest.mark.integration

SMALL = {
    "windows": {"lookback": 6, "gap": 1, "max_age": 3, "origin_every": 2},
    "comparisons": {"origins": 2, "test_periods": 1, "train_sizes": [20000], "lookbacks": [2]},
    "schedule": {"intervals": [1, 2, 4]},
}
# Tables these studies leave empty: the history has no calendar event, and no quality is estimated
# without labels (tests/integration/test_estimation.py covers that table).
MAY_BE_EMPTY = {"calendar_events", "estimate_tracking"}
# Columns that differ between two runs of the same config by design.
VOLATILE = {"run_id", "started_at", "finished_at", "fit_seconds", "score_seconds", "model", "config_json"}


def small_config(source_path: str, output: Path, **overrides: Any):
    return study_config(source_path, output, **{**SMALL, **overrides})


def query_config(source_path: str, output: Path, query: str, **overrides: Any):
    """A study of a SQL query over the generated history, named `{h}` in the query."""
    sql = query.replace("{h}", f"delta.`{source_path}`")
    return small_config(source_path, output, source={"query": sql, "path": None}, **overrides)


BAD_INPUTS = [
    pytest.param(
        {"columns": {"event_time": "event_time", "label": "lable"}},
        "",
        SourceError,
        ["'lable'", "did you mean label"],
        id="misspelt-column",
    ),
    pytest.param(
        {"columns": {"event_time": "tenure_months", "label": "label", "exclude": ["label_time"]}},
        "",
        SourceError,
        ["'tenure_months'", "not times since 1970 in any one unit", "columns.event_time_unit"],
        id="time-column-not-a-time",
    ),
    pytest.param({}, "SELECT * FROM {h} WHERE label = 0", SourceError, ["single class"], id="one-class"),
    pytest.param({}, "SELECT * FROM {h} WHERE false", SourceError, ["is empty"], id="empty-source"),
    pytest.param(
        {"task": "regression"},
        "SELECT event_time, plan AS label, monthly_spend FROM {h}",
        SourceError,
        ["'label'", "must be numeric"],
        id="regression-label-not-numeric",
    ),
    pytest.param(
        {},
        "SELECT *, md5(CAST(event_time AS STRING)) AS customer_ref FROM {h}",
        SourceError,
        ["'customer_ref'", "limits.max_categories=1000", "columns.exclude"],
        id="high-cardinality-category",
    ),
    pytest.param(
        {},
        "SELECT * FROM {h} WHERE event_time < '2024-01-08'",
        PlanError,
        ["only 1 of 1 weeks can give a usable evaluation", "more history"],
        id="one-period",
    ),
    pytest.param(
        {"windows": {"lookback": 20, "gap": 1, "max_age": 6}},
        "",
        PlanError,
        ["too short", "windows.lookback=20"],
        id="history-shorter-than-the-windows",
    ),
    pytest.param(
        {"model": {"estimator": "sklearn.no_such_module.Model"}},
        "",
        RecipeError,
        ["sklearn.no_such_module"],
        id="estimator-does-not-import",
    ),
    pytest.param({"metrics": {"names": ["roc_auc", "r2"]}}, "", ConfigError, ["metrics.names", "r2"], id="metric"),
]


@pytest.mark.parametrize(("overrides", "query", "error", "fragments"), BAD_INPUTS)
def test_bad_input_stops_before_any_fit_with_a_clear_error(
    spark, history, tmp_path, overrides, query, error, fragments
):
    source = history("none")
    if query:
        config = query_config(source, tmp_path, query, **overrides)
    else:
        config = small_config(source, tmp_path, **overrides)
    # prepare_study is everything before the first fit; run_study records its error as a failed run
    # (tests/integration/test_source.py::test_a_run_that_fails_is_recorded_as_failed)
    with pytest.raises(error) as raised:
        prepare_study(spark, config)
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))


def test_infinite_and_missing_numbers_become_missing_values(spark, history, tmp_path):
    source = history("none")
    query = (
        "SELECT *, CASE WHEN tenure_months < 3 THEN double('inf') WHEN tenure_months < 6 THEN double('NaN') "
        "ELSE monthly_spend END AS odd_spend FROM {h}"
    )
    prepared = prepare_source(spark, query_config(source, tmp_path, query))
    counts = prepared.rows.agg(
        F.count_if(F.col("odd_spend").isNull()).alias("missing"),
        F.count_if(F.abs("odd_spend") == float("inf")).alias("infinite"),
    ).first()
    assert counts["infinite"] == 0 and counts["missing"] > 0
    assert "odd_spend" in prepared.numeric


def test_an_output_that_cannot_be_written_is_named(spark, history, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = small_config(history("none"), blocker / "results")
    with pytest.raises(OutputError, match=f"output.path {blocker / 'results'}"):
        run_study(spark, config)


def test_an_output_that_exists_but_cannot_be_written_is_named(spark, history, tmp_path, monkeypatch, caplog):
    """Creating the tables only checks that they exist: an output that can be read but not written
    shows at the run's first write, which names the table and the location, not Delta's traceback."""
    output = tmp_path / "results"
    config = small_config(history("none"), output)
    ResultStore(spark, config.output).ensure_tables()
    write = ResultStore.replace_run

    def refuse_runs(store: ResultStore, table: str, rows: Any, run_id: str) -> None:
        if table == "runs":
            raise PermissionError(f"Permission denied: {store.location(table)}/_delta_log")
        write(store, table, rows, run_id)

    monkeypatch.setattr(ResultStore, "replace_run", refuse_runs)
    with pytest.raises(
        OutputError, match=re.escape(f"cannot record the run in the runs table in output.path {output}: Perm")
    ):
        run_study(spark, config)
    assert "could not mark run" in caplog.text  # the failed row cannot be written either: said, not hidden
    assert ResultStore(spark, config.output).read("runs").count() == 0


def test_two_runs_creating_the_tables_at_once_both_succeed(spark, tmp_path):
    """The second writer into a table folder the first has just made, before its first commit,
    waits for that commit instead of failing."""
    failures: list[Exception] = []

    def create(output: Path) -> None:
        try:
            ResultStore(spark, OutputConfig(path=str(output))).ensure_tables()
        except Exception as error:  # reported below
            failures.append(error)

    for attempt in range(3):
        output = tmp_path / f"output-{attempt}"
        threads = [threading.Thread(target=create, args=(output,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(p.name for p in output.iterdir()) == sorted(SCHEMAS)
    assert not failures, failures


def comparable(store: ResultStore, run_id: str, table: str) -> pd.DataFrame:
    """A table's rows of one run without the columns that differ between runs by design, in a fixed order."""
    df = store.read(table, run_id)
    pdf = df.select([_canonical(df, c) for c in df.columns if c not in VOLATILE]).toPandas()
    return pdf.sort_values(list(pdf.columns)).reset_index(drop=True)


def _canonical(df, name: str):
    """Nested values as JSON text; maps with their keys sorted (a map has no order)."""
    kind = df.schema[name].dataType.typeName()
    if kind == "map":
        return F.to_json(F.array_sort(F.map_entries(name))).alias(name)
    if kind in ("struct", "array"):
        return F.to_json(name).alias(name)
    return F.col(name)


def assert_same_results(first: tuple[ResultStore, str], second: tuple[ResultStore, str]) -> None:
    for table in SCHEMAS:
        left, right = comparable(*first, table), comparable(*second, table)
        assert len(left) == len(right) > (-1 if table in MAY_BE_EMPTY else 0), table
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, obj=table)


def source_state(spark, source: str) -> tuple[int, list]:
    """The Delta version and every file's modification time."""
    version = spark.sql(f"DESCRIBE HISTORY delta.`{source}`").select(F.max("version")).first()[0]
    files = sorted((p.relative_to(source), p.stat().st_mtime_ns) for p in Path(source).rglob("*") if p.is_file())
    return version, files


@pytest.fixture(scope="module")
def concurrent_runs(spark, history, tmp_path_factory):
    """Two runs of one config into one output folder, started at the same time."""
    output = tmp_path_factory.mktemp("shared-output")
    source = history("gradual", drift_strength=1.5)
    config = small_config(source, output)
    results: dict[str, Any] = {"source_before": source_state(spark, source)}

    def run(run_id: str) -> None:
        try:
            results[run_id] = run_study(spark, config, run_id=run_id)
        except Exception as error:  # reported by the test below
            results[run_id] = error

    threads = [threading.Thread(target=run, args=(run_id,)) for run_id in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return config, results


def test_two_runs_into_one_output_at_once_both_land_complete(concurrent_runs):
    config, results = concurrent_runs
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    store = ResultStore(results["first"].store.spark, config.output)
    runs = {r.run_id: r.status for r in store.read("runs").collect()}
    assert runs["first"] == runs["second"] == "succeeded"
    for table in SCHEMAS:
        counts = {run_id: store.read(table, run_id).count() for run_id in ("first", "second")}
        assert counts["first"] == counts["second"], (table, counts)
        assert counts["first"] > 0 or table in MAY_BE_EMPTY, (table, counts)


def test_the_source_is_read_not_written(spark, concurrent_runs):
    config, results = concurrent_runs
    before = results["source_before"]
    assert source_state(spark, config.source.path) == before
    run = results["first"].table("runs").first()
    assert run["source_version"] == before[0]
    assert run["source_rows"]["used_rows"] == run["source_rows"]["total_rows"] > 0


def test_the_same_config_gives_the_same_tables(concurrent_runs):
    config, results = concurrent_runs
    store = ResultStore(results["first"].store.spark, config.output)
    assert_same_results((store, "first"), (store, "second"))


def test_rerunning_a_run_id_replaces_its_rows(spark, concurrent_runs):
    config, _ = concurrent_runs
    store = ResultStore(spark, config.output)
    before = {(table, run_id): store.read(table, run_id).count() for table in SCHEMAS for run_id in ("first", "second")}
    run_study(spark, config, run_id="first")
    after = {(table, run_id): store.read(table, run_id).count() for table in SCHEMAS for run_id in ("first", "second")}
    assert after == before
    assert_same_results((store, "first"), (store, "second"))


def test_a_run_that_fails_part_way_leaves_no_partial_rows(spark, concurrent_runs, monkeypatch):
    config, _ = concurrent_runs
    store = ResultStore(spark, config.output)
    before = {table: store.read(table, "first").count() for table in SCHEMAS}

    def broken(*args, **kwargs):
        raise RuntimeError("the arrival analysis broke")

    monkeypatch.setattr(analyze, "arrival_table", broken)  # after the fits and evaluations are written
    with pytest.raises(RuntimeError, match="arrival analysis broke"):
        run_study(spark, config, run_id="broken")
    runs = {r.run_id: r for r in store.read("runs").collect()}
    assert runs["broken"].status == "failed" and "arrival analysis broke" in runs["broken"].error
    assert runs["first"].status == "succeeded"
    for table in SCHEMAS:
        if table != "runs":
            assert store.read(table, "broken").count() == 0, table
        assert store.read(table, "first").count() == before[table] > (-1 if table in MAY_BE_EMPTY else 0), table


def test_a_run_whose_background_write_fails_too_leaves_no_partial_rows_and_logs_both(
    spark, concurrent_runs, monkeypatch, caplog
):
    """The analysis tables the joint replay leaves as they are are written on a thread of their
    own; when that write fails and then the final write fails too, the run's rows are still
    removed once both have ended, the final write's error is the run's, and the other is logged."""
    config, _ = concurrent_runs
    store = ResultStore(spark, config.output)
    background_failed = threading.Event()

    def broken_standing(*args: Any, **kwargs: Any) -> None:
        background_failed.set()
        raise RuntimeError("the decay table could not be written")

    def broken_replayed(*args: Any, **kwargs: Any) -> None:
        assert background_failed.wait(120)
        while any(t.name.startswith("retrain-advisor-write") for t in threading.enumerate()):
            time.sleep(0.05)  # both background writes have ended, the one with its error
        raise RuntimeError("the recommendations could not be written")

    monkeypatch.setattr(analyze.TableRows, "standing", broken_standing)
    monkeypatch.setattr(analyze.TableRows, "replayed", broken_replayed)
    with caplog.at_level("WARNING", logger="retrain_advisor"), pytest.raises(RuntimeError, match="recommendations"):
        run_study(spark, config, run_id="broken-twice")
    runs = {r.run_id: r for r in store.read("runs").collect()}
    assert runs["broken-twice"].status == "failed" and "recommendations could not" in runs["broken-twice"].error
    for table in SCHEMAS:
        if table != "runs":
            assert store.read(table, "broken-twice").count() == 0, table
    assert "the decay table could not be written" in caplog.text


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    started = StandaloneCluster(folder).start()
    yield started
    started.stop()


def test_spark_submit_on_a_cluster_survives_a_lost_worker(spark, concurrent_runs, cluster, tmp_path):
    """The job file under spark-submit --master spark://..., the package shipped with --py-files."""
    config, results = concurrent_runs
    output = tmp_path / "out"
    submitted = config.model_copy(update={"output": config.output.model_copy(update={"path": str(output)})})
    config_file = tmp_path / "study.yml"
    config_file.write_text(yaml.safe_dump(config_as_dict(submitted)))
    command = submit_command(
        cluster.url,
        config_file,
        "disturbed",
        "--py-files",
        str(package_zip(tmp_path)),
        "--conf",
        "spark.cores.max=2",
        "--conf",
        "spark.executor.memory=1g",
        "--conf",
        "spark.sql.shuffle.partitions=4",
        "--conf",
        "spark.databricks.delta.snapshotPartitions=2",
    )
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        job = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        deadline = time.monotonic() + 300
        while not re.search(r"INFO retrain_advisor[.a-z_]*: fit \d+ models", log.read_text()):
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(4)  # let the fit tasks start on both workers
        cluster.kill_worker(1)
        assert job.wait(timeout=900) == 0, log.read_text()[-5000:]
    output_text = log.read_text()
    assert re.search(r"Lost executor \d+ on 127\.0\.0\.1: worker lost", output_text), "Spark saw the loss"
    assert "recommendation:" in output_text and "shelf life" in output_text, "the job prints its summary"
    store = ResultStore(spark, submitted.output)
    assert store.read("runs").first()["status"] == "succeeded"
    assert_same_results((store, "disturbed"), (ResultStore(spark, config.output), "first"))


def test_spark_connect_runs_the_same_study(spark, concurrent_runs, tmp_path):
    """Through Spark Connect (as on Databricks serverless): nothing may need sparkContext or RDDs."""
    config, _ = concurrent_runs
    output = config.output.model_copy(update={"path": str(tmp_path / "out")})
    config_file = tmp_path / "study.yml"
    config_file.write_text(yaml.safe_dump(config_as_dict(config.model_copy(update={"output": output}))))
    job = Path(__file__).with_name("connect_job.py")
    done = subprocess.run(
        [sys.executable, str(job), str(config_file), "connected"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert_same_results((ResultStore(spark, output), "connected"), (ResultStore(spark, config.output), "first"))
