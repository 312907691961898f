"""Reading and validating the source on real Spark: periods, counts of bad rows, clear errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyspark.sql import functions as F

from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.foundation.vocabulary import PERIOD, ROW_HASH
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.run.study import run_study
from retrain_advisor.spark.columns import text_as_number
from retrain_advisor.spark.period_counts import CountingPass, value_sample
from retrain_advisor.spark.source import prepare_source
from tests.configs import make_config

pytestmark = pytest.mark.integration

ROWS = [
    # event time as text, label, amount, plan
    ("2024-03-03T23:30:00-05:00", 1, 10.0, "basic"),  # Sunday evening in New York, Monday in UTC
    ("2024-03-04T10:00:00Z", 0, float("inf"), "premium"),
    ("2024-03-12T08:00:00Z", 0, 3.0, None),
    ("2024-03-12T09:00:00Z", None, 4.0, "basic"),  # no label yet
    ("not a time", 1, 5.0, "basic"),
    (None, 0, 6.0, "basic"),
]


@pytest.fixture(scope="module")
def events_table(spark):
    df = spark.createDataFrame(ROWS, "happened string, churned int, amount double, plan string")
    df.write.format("delta").mode("overwrite").saveAsTable("spark_catalog.default.events")
    return "spark_catalog.default.events"


SOURCE_STUDY = {
    "name": "source-test",
    "source": {},
    "columns": {"event_time": "happened", "label": "churned"},
    "period": {"unit": "week", "timezone": "America/New_York"},
    "output": {"path": "/tmp/unused", "run_id": "source-test"},
}


def config(label: str = "churned", output: str = "/tmp/unused", **source):
    return make_config(SOURCE_STUDY, source=source, columns={"label": label}, output={"path": output})


def test_rows_are_counted_and_given_periods_in_the_configured_zone(spark, events_table):
    prepared = prepare_source(spark, config(table=events_table))
    report = prepared.report
    assert (report.total_rows, report.null_event_time, report.unparseable_event_time, report.null_label) == (6, 1, 1, 1)
    assert report.used_rows == 3 and report.delta_version == 0
    assert prepared.task == "binary" and prepared.positive_label == "1"
    assert (prepared.numeric, prepared.categorical) == (["amount"], ["plan"])
    first_week = period_id_of("week", dt.date(2024, 2, 26))  # Sunday 3 March belongs to the week of 26 Feb
    assert prepared.period_ids == [first_week, first_week + 1, first_week + 2]
    amounts = prepared.rows.select(F.col("amount")).toPandas()["amount"]
    assert amounts.isna().sum() == 1, "infinity becomes a missing value"


def test_a_query_source_reads_the_same_rows(spark, events_table):
    prepared = prepare_source(spark, config(query=f"SELECT * FROM {events_table} WHERE plan IS NOT NULL"))
    assert prepared.report.total_rows == 5 and prepared.report.delta_version is None


def test_a_misspelt_column_is_named_with_a_suggestion(spark, events_table):
    with pytest.raises(
        SourceError, match="column 'churn' named in the config is not in the source; did you mean churned"
    ):
        prepare_source(spark, config(label="churn", table=events_table))


def test_a_label_named_like_an_internal_column_is_refused_with_what_to_do(spark, events_table):
    query = f"SELECT *, churned AS __period FROM {events_table}"
    with pytest.raises(SourceError, match="label column '__period' starts with '__'.*rename it in a source.query"):
        prepare_source(spark, config(label="__period", query=query))


def test_a_text_label_cannot_be_a_regression_target(spark, events_table):
    bad = config(query=f"SELECT happened, CAST(churned AS STRING) AS churned, amount FROM {events_table}")
    bad = bad.model_copy(update={"task": "regression"})
    with pytest.raises(SourceError, match="regression label must be numeric"):
        prepare_source(spark, bad)


def test_a_single_class_is_refused(spark, events_table):
    with pytest.raises(SourceError, match="single class"):
        prepare_source(spark, config(query=f"SELECT * FROM {events_table} WHERE churned = 0"))


def test_a_run_that_fails_is_recorded_as_failed(spark, events_table, tmp_path):
    study = config(label="churn", output=str(tmp_path), table=events_table)
    with pytest.raises(SourceError):
        run_study(spark, study)
    (run,) = ResultStore(spark, study.output).read("runs").collect()
    assert (run.run_id, run.status) == ("source-test", "failed")
    assert "churn" in run.error and run.finished_at is not None


def test_nan_labels_count_as_missing(spark, events_table):
    query = (
        "SELECT happened, CASE WHEN amount = 3.0 THEN double('NaN') ELSE CAST(churned AS DOUBLE) END AS churned, "
        f"amount, plan FROM {events_table}"
    )
    prepared = prepare_source(spark, config(query=query))
    assert (prepared.report.null_label, prepared.report.used_rows) == (2, 2)
    assert prepared.task == "binary" and prepared.positive_label == "1.0"


# What Spark reads as a double, and text it refuses (some of which MAYBE_NUMBER lets through)
CAST_CASES = [" 1.5", "\t2", "\x013", "+.5", "-.5e3", "NaN", "-Infinity", "+inf", "INF", "0x1p3", "1d", "2F"]
CAST_CASES += ["north", "info", "", " ", "1,5", "e5", ".", "-", "\u00a01", "1\u00a0", "\ufeff1", "１", "-nan", "1_000"]


def test_text_is_read_as_the_number_spark_casts_it_to(spark):
    """The counting pass skips the (costly) cast on text that cannot be a number: it must read
    every value as the cast does, or a column of numbers would stay text."""
    df = spark.createDataFrame([(v,) for v in CAST_CASES], "v string")
    rows = df.select("v", F.expr("try_cast(v AS DOUBLE)").alias("cast"), text_as_number("v").alias("read")).collect()
    assert sum(r.cast is not None for r in rows) == 12
    assert [r.v for r in rows if repr(r.cast) != repr(r.read)] == []


@pytest.mark.parametrize("kind", ["timestamp", "timestamp_ntz", "date"])
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14 and UTC-11
def test_rows_of_some_periods_are_all_read_and_far_files_are_skipped(spark, tmp_path, kind, zone):
    """Times every three hours over 30 weeks, one file per week: the rows of any run of weeks,
    cut in a zone far from UTC, are exactly those the full read gives them, and a file far from
    them is not opened."""
    start = dt.datetime(2024, 1, 1)
    times = spark.createDataFrame(
        [(start + dt.timedelta(hours=3 * i), i % 2, float(i)) for i in range(30 * 7 * 8)],
        "at_utc timestamp_ntz, churned int, amount double",
    )
    at = {
        "timestamp": F.to_utc_timestamp(F.col("at_utc").cast("timestamp"), F.current_timezone()),
        "timestamp_ntz": F.col("at_utc"),
        "date": F.to_date("at_utc"),
    }[kind]
    path = str(tmp_path / "weekly")
    week = F.floor(F.datediff(F.to_date("at_utc"), F.lit("2024-01-01")) / 7)
    (
        times.select(at.alias("happened"), "churned", "amount", week.alias("week"))
        .repartition("week")
        .sortWithinPartitions("happened")
        .drop("week")
        .write.format("delta")
        .save(path)
    )
    study = make_config(
        SOURCE_STUDY, source={"path": path}, columns={"event_time": "happened"}, period={"timezone": zone}
    )
    prepared = prepare_source(spark, study)
    assert prepared.rows_between is not None
    ids = prepared.period_ids
    everything = prepared.rows.select("__period", "__row_hash").toPandas()
    for first, last in [(ids[0], ids[0]), (ids[3], ids[5]), (ids[-1], ids[-1]), (ids[0], ids[-1])]:
        bounded = prepared.rows_in([first, last])
        read = bounded.select("__period", "__row_hash").toPandas()
        wanted = everything[everything["__period"].between(first, last)]
        kept = read[read["__period"].between(first, last)]
        assert sorted(kept["__row_hash"]) == sorted(wanted["__row_hash"]), (first, last)
        if (first, last) == (ids[-1], ids[-1]):
            files = {r[0] for r in bounded.select(F.input_file_name()).distinct().collect()}
            assert len(files) <= 3, files  # the last week's file, and a neighbour's within the margin


def test_the_counting_pass_plan_does_not_grow_with_the_columns_squared_nor_aggregate_each(spark):
    """Every sampled column and hash part refers to the row's hashes by name. Written into each,
    the hash of every column was repeated per column: a plan growing with the square of the
    columns, whose tasks reached 32 MiB at 200 features. Given the row hash as a column (prepare
    names it), the pass takes it once for both the fingerprint and the sample's pick. The sampled
    values travel as one array per row: an aggregate per column took seconds per hundred columns."""

    def plan_of(features: int) -> str:
        names = [f"x{i}" for i in range(features)]
        frame = spark.range(50).select(
            (F.col("id") % 5).cast("int").alias(PERIOD),
            (F.col("id") % 2).alias("y"),
            *[(F.col("id") * i).cast("double").alias(name) for i, name in enumerate(names)],
        )
        frame = frame.select("*", F.xxhash64(*[F.col(c) for c in ["y", *names]]).alias(ROW_HASH))
        row_hash = F.col(ROW_HASH)
        sample = value_sample(row_hash, 50, {name: F.col(name) for name in names})
        label = F.col("y")
        query = CountingPass(
            frame, label.isNotNull(), label, label.cast("double"), F.xxhash64(row_hash), sample, True, False
        ).query()
        return query._jdf.queryExecution().optimizedPlan().toString()

    key = "spark.sql.debug.maxToStringFields"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "100000")  # the whole plan, however wide
    try:
        narrow, wide = plan_of(10), plan_of(100)
        # the row hash and the fingerprint (a hash of it): 2 calls
        assert wide.count("xxhash64(") == narrow.count("xxhash64(") == 2
        assert wide.count("collect_list(") == narrow.count("collect_list(") == 1
    finally:
        spark.conf.unset(key) if before is None else spark.conf.set(key, before)


def test_the_counting_pass_samples_every_numeric_column_of_the_same_rows(spark):
    """Each sampled row gives every column's value, a missing one as NaN, in the columns' order;
    a source column named like the pass's own (`level`) is only a column; no numeric column, no
    sample."""
    frame = spark.createDataFrame(
        [(1, 0, 1.0, 10.0), (1, 1, None, 20.0), (2, 1, 3.0, None), (2, 0, 4.0, 40.0)],
        f"{PERIOD} int, y int, level double, amount double",
    )
    label = F.col("y")
    row_hash = F.xxhash64(F.col("y"), F.col("level"), F.col("amount"))

    def samples(values: dict) -> dict:
        counts = CountingPass(
            frame, label.isNotNull(), label, None, row_hash, value_sample(row_hash, 4, values), True, False
        ).count()
        assert counts.label_values() == [0, 1] and counts.profile(None, make_config()).rows.tolist() == [2, 2]
        return counts.value_samples

    sampled = samples({"level": F.col("level"), "amount": F.col("amount")})
    missing = -1.0  # NaN as a number that compares equal
    rows = zip(*[np.nan_to_num(sampled[name], nan=missing).tolist() for name in ("level", "amount")], strict=True)
    assert sorted(rows) == [(missing, 20.0), (1.0, 10.0), (3.0, missing), (4.0, 40.0)]
    assert samples({}) == {}
