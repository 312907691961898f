"""Histories as users have them: files written by pandas, pyarrow, Spark and by hand, read
through the source stage as they are, with what was read and what was left out asserted."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.spark import reading
from retrain_advisor.spark.source import PreparedSource, prepare_source
from tests.configs import make_config

pytestmark = pytest.mark.integration

WEEKS, ROWS_PER_WEEK = 4, 25
FIRST_MONDAY = dt.date(2024, 1, 1)
FIRST_WEEK = period_id_of("week", FIRST_MONDAY)
WEEK_IDS = list(range(FIRST_WEEK, FIRST_WEEK + WEEKS))


def frame(seed: int = 0) -> pd.DataFrame:
    """Four weeks of 25 rows: a time, two numbers, a category and a 0/1 label."""
    rng = np.random.default_rng(seed)
    n = WEEKS * ROWS_PER_WEEK
    offsets = np.arange(n) * (WEEKS * 7 * 86400 // n) + 3600
    times = pd.Timestamp(FIRST_MONDAY) + pd.to_timedelta(offsets, unit="s")
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "ts": times,
            "amount": x,
            "visits": rng.integers(0, 9, size=n),
            "plan": rng.choice(["basic", "premium"], size=n),
            "label": (x + rng.normal(size=n) > 0).astype(int),
        }
    )


def read(spark, source: dict, columns: dict | None = None, **sections) -> PreparedSource:
    config = make_config(
        {"name": "gallery", "source": source, "output": {"path": "/tmp/unused"}},
        columns={"event_time": "ts", "label": "label", **(columns or {})},
        **sections,
    )
    return prepare_source(spark, config)


def assert_read(prepared: PreparedSource, numeric: list[str], categorical: list[str], rows: int = 100) -> None:
    assert prepared.report.used_rows == rows and prepared.report.unparseable_event_time == 0
    assert prepared.period_ids == WEEK_IDS
    assert (sorted(prepared.numeric), sorted(prepared.categorical)) == (sorted(numeric), sorted(categorical))


def test_pandas_default_parquet_with_nanosecond_times_and_an_index(spark, tmp_path):
    data = frame().set_index(pd.Index(np.arange(100) * 7 + 3))  # not a range: pandas stores it as a column
    data.to_parquet(tmp_path / "history.parquet")
    assert pq.read_schema(tmp_path / "history.parquet").field("ts").type == pa.timestamp("ns")
    prepared = read(spark, {"path": str(tmp_path / "history.parquet"), "format": "parquet"})
    assert_read(prepared, ["amount", "visits"], ["plan"])
    assert list(prepared.report.left_out_columns) == ["__index_level_0__"]
    assert prepared.task == "binary" and prepared.positive_label == "1"


def test_pandas_parquet_with_zoned_nanosecond_times_cuts_periods_in_the_configured_zone(spark, tmp_path):
    data = frame()
    # 23:30 UTC on Sunday is Monday in Paris: the last row of week 0 moves to week 1
    data.loc[24, "ts"] = pd.Timestamp("2024-01-07 23:30")
    data["ts"] = data["ts"].dt.tz_localize("UTC")
    data.to_parquet(tmp_path / "zoned.parquet")
    utc = read(spark, {"path": str(tmp_path / "zoned.parquet"), "format": "parquet"})
    paris = read(
        spark, {"path": str(tmp_path / "zoned.parquet"), "format": "parquet"}, period={"timezone": "Europe/Paris"}
    )
    assert utc.labelled_rows(FIRST_WEEK) == paris.labelled_rows(FIRST_WEEK) + 1


def test_pyarrow_parquet_with_a_named_index_and_nanosecond_times(spark, tmp_path):
    data = frame().rename_axis("row_number")
    pq.write_table(pa.Table.from_pandas(data), tmp_path / "arrow.parquet")
    prepared = read(spark, {"path": str(tmp_path / "arrow.parquet"), "format": "parquet"}, {"exclude": ["row_number"]})
    assert_read(prepared, ["amount", "visits"], ["plan"])


def test_nanosecond_times_among_the_features_are_left_out(spark, tmp_path):
    data = frame().assign(signed_up=lambda d: d["ts"] - pd.Timedelta(days=30))
    data.to_parquet(tmp_path / "history.parquet")
    prepared = read(spark, {"path": str(tmp_path / "history.parquet"), "format": "parquet"})
    assert_read(prepared, ["amount", "visits"], ["plan"])
    assert "nanosecond times" in prepared.report.left_out_columns["signed_up"]


def test_csv_from_pandas_with_a_header_and_time_text(spark, tmp_path):
    frame().to_csv(tmp_path / "history.csv", index=False)
    prepared = read(spark, {"path": str(tmp_path / "history.csv"), "format": "csv"})
    assert_read(prepared, ["amount", "visits"], ["plan"])


def test_csv_read_as_text_has_its_numbers_read_as_numbers(spark, tmp_path):
    frame().to_csv(tmp_path / "history.csv", index=False)
    prepared = read(
        spark, {"path": str(tmp_path / "history.csv"), "format": "csv", "options": {"inferSchema": "false"}}
    )
    assert_read(prepared, ["amount", "visits"], ["plan"])
    assert prepared.positive_label == "1"


def test_csv_with_day_first_dates_and_a_pattern(spark, tmp_path):
    frame().assign(ts=lambda d: d["ts"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(tmp_path / "h.csv", index=False)
    source = {"path": str(tmp_path / "h.csv"), "format": "csv"}
    assert_read(read(spark, source, {"event_time_format": "dd/MM/yyyy HH:mm"}), ["amount", "visits"], ["plan"])
    with pytest.raises(SourceError, match=r"of 100 given times in 'ts' were read.*columns.event_time_format"):
        read(spark, source)


def test_json_lines_from_pandas_with_epoch_milliseconds(spark, tmp_path):
    frame().to_json(tmp_path / "history.json", orient="records", lines=True)  # times as epoch milliseconds
    assert isinstance(json.loads((tmp_path / "history.json").read_text().splitlines()[0])["ts"], int)
    prepared = read(spark, {"path": str(tmp_path / "history.json"), "format": "json"})
    assert_read(prepared, ["amount", "visits"], ["plan"])


@pytest.mark.parametrize("unit, factor", [("seconds", 10**9), ("milliseconds", 10**6), ("nanoseconds", 1)])
def test_epoch_numbers_in_a_configured_or_inferred_unit(spark, tmp_path, unit, factor):
    data = frame().assign(ts=lambda d: d["ts"].astype("int64") // factor)
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / unit))
    for columns in ({}, {"event_time_unit": unit}):
        assert_read(read(spark, {"path": str(tmp_path / unit)}, columns), ["amount", "visits"], ["plan"])


def test_epoch_numbers_of_no_single_unit_ask_for_the_unit(spark, tmp_path):
    data = frame().assign(ts=lambda d: np.arange(len(d)))
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / "counter"))
    with pytest.raises(SourceError, match="set columns.event_time_unit"):
        read(spark, {"path": str(tmp_path / "counter")})


def test_delta_by_path_by_name_and_a_query_over_a_view_read_the_same(spark, tmp_path):
    df = spark.createDataFrame(frame())
    df.write.format("delta").save(str(tmp_path / "delta"))
    df.write.format("delta").mode("overwrite").saveAsTable("spark_catalog.default.`2024`")
    df.createOrReplaceTempView("gallery_view")
    for source in (
        {"path": str(tmp_path / "delta")},
        {"table": "spark_catalog.default.2024"},  # a name SQL reads only in backticks
        {"query": "SELECT * FROM gallery_view"},
    ):
        assert_read(read(spark, source), ["amount", "visits"], ["plan"])


def test_day_periods_across_a_daylight_saving_change(spark, tmp_path):
    """New York moved its clocks on 10 March 2024 at 02:00: every instant still falls on its local day."""
    instants = pd.to_datetime(
        ["2024-03-10 04:30", "2024-03-10 06:59", "2024-03-10 07:30", "2024-03-11 03:30", "2024-03-11 04:30"], utc=True
    )
    local_days = [
        dt.date(2024, 3, 9),
        dt.date(2024, 3, 10),
        dt.date(2024, 3, 10),
        dt.date(2024, 3, 10),
        dt.date(2024, 3, 11),
    ]
    data = pd.DataFrame({"ts": instants, "amount": np.arange(5.0), "label": [0, 1, 0, 1, 0]})
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / "dst"))
    prepared = read(spark, {"path": str(tmp_path / "dst")}, period={"unit": "day", "timezone": "America/New_York"})
    expected = pd.Series([period_id_of("day", d) for d in local_days]).value_counts().sort_index()
    assert {p: prepared.labelled_rows(p) for p in prepared.period_ids} == expected.to_dict()


def test_a_column_of_mixed_times_says_how_many_were_read(spark, caplog):
    rows = [
        (t, float(i), i % 2) for i, t in enumerate(["2024-01-01T10:00:00Z", "2024-01-02 10:00:00", "2024-01-03"] * 3)
    ]
    rows.append(("next tuesday", 9.0, 1))
    df = spark.createDataFrame(rows, "ts string, amount double, label int")
    df.createOrReplaceTempView("mixed_times")
    with caplog.at_level("WARNING"):
        prepared = read(spark, {"query": "SELECT * FROM mixed_times"})
    assert prepared.report.unparseable_event_time == 1 and prepared.report.used_rows == 9
    assert "9 of 10 given times in 'ts' were read" in caplog.text and "next tuesday" in caplog.text


@pytest.mark.parametrize(
    "labels, expected",
    [
        ([True, False], "True"),
        (["yes", "no"], "yes"),
        (["Churned", "Stayed"], None),
        ([Decimal("1"), Decimal("0")], "1"),
    ],
)
def test_labels_as_they_come_and_the_positive_class(spark, labels, expected):
    n = len(frame())
    data = frame().assign(label=[labels[i % 2] for i in range(n)])
    view = f"labels_{abs(hash(str(labels)))}"
    spark.createDataFrame(data).createOrReplaceTempView(view)
    if expected is None:
        with pytest.raises(SourceError, match=r"set positive_label to one of them"):
            read(spark, {"query": f"SELECT * FROM {view}"})
        prepared = read(spark, {"query": f"SELECT * FROM {view}"}, positive_label="Churned")
        assert prepared.positive_label == "Churned"
    else:
        prepared = read(spark, {"query": f"SELECT * FROM {view}"})
        assert prepared.task == "binary" and prepared.positive_label == expected


@pytest.mark.parametrize("classes", [["cat", "dog", "bird"], [3, 7, 9]])
def test_multiclass_names_and_integer_codes(spark, classes):
    data = frame().assign(label=[classes[i % 3] for i in range(len(frame()))])
    spark.createDataFrame(data).createOrReplaceTempView("classes_view")
    prepared = read(spark, {"query": "SELECT * FROM classes_view"})
    assert prepared.task == "multiclass" and sorted(prepared.classes) == sorted(str(c) for c in classes)


def test_decimal_and_small_integer_columns_are_numbers(spark):
    df = spark.createDataFrame(frame()).selectExpr(
        "ts",
        "CAST(amount AS DECIMAL(10, 2)) AS amount",
        "CAST(visits AS TINYINT) AS visits",
        "plan",
        "CAST(label AS SMALLINT) AS label",
    )
    df.createOrReplaceTempView("typed_view")
    prepared = read(spark, {"query": "SELECT * FROM typed_view"})
    assert_read(prepared, ["amount", "visits"], ["plan"])
    assert prepared.task == "binary" and prepared.positive_label == "1"


ODD_NAMES = {"ts": "event time", "amount": "x.one", "visits": "2024", "plan": "größe", "label": "is churned?"}


def test_column_names_with_spaces_dots_digits_and_other_letters(spark, tmp_path):
    frame().rename(columns=ODD_NAMES).to_parquet(tmp_path / "odd.parquet")
    prepared = read(
        spark,
        {"path": str(tmp_path / "odd.parquet"), "format": "parquet"},
        {"event_time": "event time", "label": "is churned?"},
    )
    assert_read(prepared, ["x.one", "2024"], ["größe"])
    assert prepared.rows.select("`x.one`", "`größe`").count() == 100


def test_columns_of_unsupported_types_are_left_out_unless_listed(spark, tmp_path):
    df = spark.createDataFrame(frame()).selectExpr(
        "*",
        "array(1, 2) AS tags",
        "map('a', 1) AS attributes",
        "named_struct('a', 1) AS address",
        "CAST('x' AS BINARY) AS photo",
    )
    df.createOrReplaceTempView("typed_columns")
    prepared = read(spark, {"query": "SELECT * FROM typed_columns"})
    assert_read(prepared, ["amount", "visits"], ["plan"])
    assert sorted(prepared.report.left_out_columns) == ["address", "attributes", "photo", "tags"]
    assert "array<int>" in prepared.report.left_out_columns["tags"]
    with pytest.raises(SourceError, match="feature column 'tags' has type array<int>"):
        read(spark, {"query": "SELECT * FROM typed_columns"}, {"features": ["amount", "tags"]})


def test_the_nanosecond_hint_names_the_fix_when_the_setting_is_refused(spark, tmp_path, monkeypatch):
    """Where a platform forbids the setting (a mock: this Spark allows it), the message says how to
    rewrite the file."""
    frame().to_parquet(tmp_path / "history.parquet")
    monkeypatch.setattr(reading, "_read_nanosecond_timestamps_as_integers", lambda session: None)
    spark.conf.set(reading.NANOS_AS_LONG, "false")
    try:
        with pytest.raises(SourceError, match=r"coerce_timestamps='us'"):
            read(spark, {"path": str(tmp_path / "history.parquet"), "format": "parquet"})
    finally:
        spark.conf.set(reading.NANOS_AS_LONG, "true")


def test_float_epoch_seconds_with_gaps_are_missing_times_not_1970(spark, tmp_path):
    data = frame().assign(ts=lambda d: d["ts"].astype("int64") / 1e9)
    data.loc[[3, 50], "ts"] = np.nan
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / "floats"))
    for columns in ({}, {"event_time_unit": "seconds"}):
        prepared = read(spark, {"path": str(tmp_path / "floats")}, columns)
        assert (prepared.report.null_event_time, prepared.report.used_rows) == (2, 98)
        assert prepared.period_ids == WEEK_IDS


def test_numbers_in_another_unit_than_configured_are_unreadable_not_an_overflow(spark, tmp_path):
    data = frame().assign(ts=lambda d: d["ts"].astype("int64"))  # nanoseconds
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / "nanos"))
    with pytest.raises(SourceError, match=r"0 of 100 given times in 'ts' were read \(seconds since"):
        read(spark, {"path": str(tmp_path / "nanos")}, {"event_time_unit": "seconds"})


def test_nanoseconds_convert_exactly_at_the_end_of_a_day(spark, tmp_path):
    """A double holds only about 16 digits: 23:59:59.999999999 must not become the next day."""
    last_moment = 1709337599999999999  # 2024-03-01 23:59:59.999999999 UTC
    data = pd.DataFrame({"ts": [last_moment] * 4, "amount": [1.0, 2.0, 3.0, 4.0], "label": [0, 1, 0, 1]})
    spark.createDataFrame(data).write.format("delta").save(str(tmp_path / "edge"))
    prepared = read(spark, {"path": str(tmp_path / "edge")}, period={"unit": "day"})
    assert prepared.period_ids == [period_id_of("day", dt.date(2024, 3, 1))]


def test_a_pattern_spark_cannot_use_is_named(spark):
    spark.createDataFrame(frame().assign(ts=lambda d: d["ts"].dt.strftime("%Y-%m-%d"))).createOrReplaceTempView("days")
    with pytest.raises(SourceError, match=r"columns.event_time_format 'YYYY-MM-dd' is not a pattern Spark can use"):
        read(spark, {"query": "SELECT * FROM days"}, {"event_time_format": "YYYY-MM-dd"})


def test_label_times_that_cannot_be_read_stop_the_run(spark):
    """An unread label time would count as known at once and let labels into earlier fits."""
    data = frame().assign(known=lambda d: (d["ts"] + pd.Timedelta(days=9)).dt.strftime("%d.%m.%Y"))
    spark.createDataFrame(data).createOrReplaceTempView("label_times")
    with pytest.raises(SourceError, match=r"0 of 100 given times in 'known' were read"):
        read(spark, {"query": "SELECT * FROM label_times"}, {"label_time": "known"})


def test_dates_and_times_without_zone_are_local_to_the_period_zone(spark, tmp_path):
    """A date or a local time is already the local day: Paris adds no hour to it."""
    local = frame().assign(ts=lambda d: d["ts"].dt.floor("D") + pd.Timedelta(hours=23, minutes=30))
    df = spark.createDataFrame(local).selectExpr("CAST(ts AS TIMESTAMP_NTZ) AS ts", "amount", "visits", "plan", "label")
    df.write.format("delta").save(str(tmp_path / "ntz"))
    df.selectExpr("CAST(ts AS DATE) AS ts", "amount", "visits", "plan", "label").write.format("delta").save(
        str(tmp_path / "dates")
    )
    for kind in ("ntz", "dates"):
        prepared = read(spark, {"path": str(tmp_path / kind)}, period={"timezone": "Europe/Paris"})
        assert_read(prepared, ["amount", "visits"], ["plan"])


def test_a_hand_written_csv_with_offsets_in_its_times(spark, tmp_path):
    lines = ["ts,amount,plan,label"] + [
        f"2024-01-{day:02d}T{hour:02d}:15:00+01:00,{day * 0.5},{'basic' if hour % 2 else 'premium'},{(day + hour) % 2}"
        for day in range(1, 29)
        for hour in (9, 14, 20)
    ]
    (tmp_path / "hand.csv").write_text("\n".join(lines) + "\n")
    prepared = read(spark, {"path": str(tmp_path / "hand.csv"), "format": "csv"})
    assert prepared.report.used_rows == 84 and prepared.period_ids == WEEK_IDS
    assert (prepared.numeric, prepared.categorical) == (["amount"], ["plan"])
