"""The starting config's rules: columns found by name and type, the task the study would infer, a
period whose periods hold enough rows, windows the history can fill, ids and leaks left out, each
with its reason; and how init takes its flags and writes the file."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import yaml
from pyspark.sql import types as T

from retrain_advisor import cli
from retrain_advisor.foundation.config import SourceConfig, parse_config
from retrain_advisor.foundation.errors import ConfigError, SourceError
from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.foundation.vocabulary import MAX_CLASSES
from retrain_advisor.planning.plan import History
from retrain_advisor.planning.source_profile import ColumnProfile, SourceProfile, choose_event_time, choose_label
from retrain_advisor.planning.starting_config import StartingConfig, choose_config, choose_task
from retrain_advisor.planning.study_plan import plan_study
from retrain_advisor.planning.volumes import check_evaluable
from retrain_advisor.run.starting_config import source_from_flags, write_file
from retrain_advisor.spark.kinds import column_kind
from retrain_advisor.spark.labels import infer_task

START = dt.date(2024, 1, 1)  # a Monday
SOURCE = SourceConfig(path="/data/history", format="parquet")


def profile(
    days: int, rows_per_day: int, positives_per_day: int, columns: tuple[ColumnProfile, ...] = (), **changes: Any
) -> SourceProfile:
    """A binary history with the same rows every day, 0 and 1 the classes."""
    daily = {START + dt.timedelta(days=d): rows_per_day for d in range(days)}
    fields: dict[str, Any] = {
        "description": "parquet.`/data/history`",
        "rows": days * rows_per_day,
        "event_time": "event_time",
        "event_time_kind": "timestamp",
        "event_time_reading": "timestamp",
        "label": "label",
        "label_kind": "integer",
        "null_event_time": 0,
        "unparseable_event_time": 0,
        "null_label": 0,
        "label_distinct": 2,
        "label_values": (0, 1),
        "positive_class": "1",
        "daily_rows": daily,
        "daily_classes": {d: {"0": n - positives_per_day, "1": positives_per_day} for d, n in daily.items()},
        "columns": columns or (ColumnProfile("amount", "float", 0, days * rows_per_day, 0.01, 0.3),),
    }
    return SourceProfile(**(fields | changes))


def choose(p: SourceProfile) -> StartingConfig:
    return choose_config(
        p, SOURCE, "history", "/tmp/results", "the only timestamp or date column", "named like a label"
    )


def loaded(chosen: StartingConfig):
    """The written YAML, loaded as `retrain-advisor analyze` loads it."""
    return parse_config(yaml.safe_load(chosen.to_yaml()))


def plan_for(p: SourceProfile, chosen: StartingConfig) -> None:
    """Plan the study the config describes on the profiled history, as a run would, before any fit."""
    config = loaded(chosen)
    unit = config.period.unit
    rows: Counter[int] = Counter()
    counts: dict[int, Counter[str]] = {}
    for day, n in p.daily_rows.items():
        rows[period_id_of(unit, day)] += n
        counts.setdefault(period_id_of(unit, day), Counter()).update(p.daily_classes[day])
    check_evaluable(rows, counts, ["0", "1"], config.limits, config.tolerance.min_origins + 1, unit)
    plan_study(History(rows), config)


def test_few_rows_per_day_give_weekly_periods():
    """50 rows a day (15 positives) cannot fill an evaluation of 100 rows; a week holds 350."""
    p = profile(days=2 * 364, rows_per_day=50, positives_per_day=15)
    chosen = choose(p)
    config = loaded(chosen)
    assert config.period.unit == "week" and config.task == "binary"
    assert (config.windows.lookback, config.windows.max_age) == (26, 12), "two years fill the defaults"
    reason = chosen.reasons[("period", "unit")]
    assert "a week holds a median of 350 labelled rows and 105 of the rarest class" in reason
    assert "a day holds only a median of 50 labelled rows and 15 of the rarest class" in reason
    assert not chosen.problems
    plan_for(p, chosen)


def test_a_rare_class_decides_the_period():
    """500 rows but one positive a day: a week holds 7 positives, fewer than limits.min_class_rows=10."""
    chosen = choose(profile(days=3 * 365, rows_per_day=500, positives_per_day=1))
    assert loaded(chosen).period.unit == "month"
    assert (
        "a week holds only a median of 3500 labelled rows and 7 of the rarest class"
        in chosen.reasons[("period", "unit")]
    )


def test_days_only_when_weeks_are_too_few():
    short = choose(profile(days=70, rows_per_day=500, positives_per_day=100))
    assert loaded(short).period.unit == "day", "10 weeks would give too few origins"
    long = choose(profile(days=2 * 364, rows_per_day=500, positives_per_day=100))
    assert loaded(long).period.unit == "week"
    assert "days would multiply the fits" in long.reasons[("period", "unit")]


def test_a_short_history_gets_windows_it_can_fill():
    """20 weeks cannot fill the default lookback 26 and max_age 12: both shrink to leave 8 origins."""
    p = profile(days=20 * 7, rows_per_day=50, positives_per_day=15)
    chosen = choose(p)
    config = loaded(chosen)
    assert config.period.unit == "week"
    assert (config.windows.lookback, config.windows.max_age) == (8, 4)
    assert config.comparisons.test_periods == 2 and config.comparisons.origins == 6
    assert "Shortened from the defaults" in chosen.reasons[("windows", "lookback")]
    assert "give 8 origins" in chosen.reasons[("windows", "lookback")]
    assert not chosen.problems and not chosen.notes
    plan_for(p, chosen)


def test_a_history_too_small_for_any_study_says_what_is_missing():
    """Five weeks: even a lookback of 2 and ages up to 2 leave one origin, not 3."""
    chosen = choose(profile(days=5 * 7, rows_per_day=50, positives_per_day=15))
    text = chosen.to_yaml()
    assert chosen.problems == [
        "only 5 weeks of labelled history; the study needs at least 7 (a lookback of 2, model ages 0 to 2 and 3 "
        "origins). Give more history or, if its periods hold enough rows, a shorter period.unit"
    ]
    assert "# NOT READY: a study of this history would stop before any fit:" in text
    assert any(line.startswith("NOT READY: only 5 weeks") for line in chosen.summary)
    assert loaded(chosen).windows.lookback == 2, "the config is still written, with the shortest windows"


def test_a_history_whose_periods_stay_too_thin_says_so():
    chosen = choose(profile(days=365, rows_per_day=2, positives_per_day=1))
    assert loaded(chosen).period.unit == "month"
    assert "even a month holds a median of 61 labelled rows" in chosen.problems[0]


def test_few_origins_are_a_note_not_a_problem():
    chosen = choose(profile(days=10 * 7, rows_per_day=50, positives_per_day=15))
    assert not chosen.problems
    assert chosen.notes and "rest on 6 origins" in chosen.notes[0]


def test_ids_time_counters_and_leaks_are_excluded_with_their_reasons():
    rows = 140 * 50
    columns = (
        ColumnProfile("customer_id", "string", 0, rows),
        ColumnProfile("row_number", "integer", 0, 5000, time_correlation=0.99, label_pairs=5000),
        ColumnProfile("epoch", "float", 0, rows, time_correlation=0.999),
        ColumnProfile("score_after", "float", 0, rows, time_correlation=0.1, label_correlation=-0.98),
        ColumnProfile("churn_reason", "string", 0, 6, label_pairs=6),
        ColumnProfile("label_time", "timestamp", 300, rows),
        ColumnProfile("plan", "string", 0, 3, label_pairs=6),
        ColumnProfile("amount", "float", 0, rows, time_correlation=0.02, label_correlation=0.4),
        ColumnProfile("visits", "integer", 0, 40, time_correlation=0.3, label_correlation=0.5, label_pairs=80),
    )
    chosen = choose(profile(days=140, rows_per_day=50, positives_per_day=15, columns=columns))
    exclude = loaded(chosen).columns.exclude
    assert exclude == ["customer_id", "row_number", "epoch", "score_after", "churn_reason", "label_time"]
    reasons = {name: chosen.reasons[("columns", "exclude", name)] for name in exclude}
    assert reasons["customer_id"].startswith("near-unique: about 7000 distinct values in 7000 rows")
    assert reasons["row_number"].startswith("correlation +0.99 with event_time")
    assert reasons["score_after"].startswith("correlation -0.98 with the label (label)")
    assert reasons["churn_reason"].startswith("each of its 6 values goes with a single value of the label")
    assert "columns.label_time" in reasons["label_time"]
    assert "features: every other numeric, boolean or text column (plan, amount, visits)" in chosen.to_yaml()
    assert "# near-unique: about 7000 distinct values" in chosen.to_yaml()


def test_a_value_with_few_rows_of_the_rarest_class_does_not_look_like_a_leak():
    """7000 rows, 2% positives, 50 values: under 3 positives per value, so a value without any is
    likely by chance; the column stays."""
    columns = (ColumnProfile("city", "string", 0, 50, label_pairs=52),)
    chosen = choose(profile(days=140, rows_per_day=50, positives_per_day=1, columns=columns))
    assert "city" not in (loaded(chosen).columns.exclude or [])


def test_an_ambiguous_event_time_names_the_candidates():
    kinds = {"event_time": "timestamp", "label_time": "timestamp", "label": "integer"}
    with pytest.raises(SourceError) as raised:
        choose_event_time(kinds, None)
    assert str(raised.value) == (
        "several columns could be the event time: event_time (timestamp), label_time (timestamp); "
        "pass --event-time with the one that orders the history"
    )
    assert choose_event_time(kinds, "event_time") == ("event_time", "given with --event-time")


def test_the_event_time_is_the_one_time_column_or_a_name_that_says_time():
    assert choose_event_time({"day": "date", "created_at": "string", "y": "integer"}, None)[0] == "day"
    assert choose_event_time({"createdAt": "string", "amount": "float", "y": "integer"}, None)[0] == "createdAt"
    with pytest.raises(SourceError, match=r"no column looks like the event time .* one of: amount \(float\)"):
        choose_event_time({"amount": "float", "y": "integer"}, None)
    assert choose_event_time({"event_ts": "integer", "y": "integer"}, None) == (
        "event_ts",
        "the only number column named like a time, and no column is a timestamp or date",
    )
    with pytest.raises(SourceError, match="did you mean event_time"):
        choose_event_time({"event_time": "timestamp"}, "event_tim")


def test_integers_all_above_ten_to_the_seventeen_are_times_like_timestamps_and_dates():
    """pandas' nanosecond parquet timestamps are read as integers: such a column holds times even
    beside a date column, and of several the one named like a time wins."""
    kinds = {"signed_up": "date", "event_time": "integer", "x": "float", "label": "integer"}
    assert choose_event_time(kinds, None) == ("signed_up", "the only timestamp or date column")
    column, why = choose_event_time(kinds, None, {"event_time"})
    assert column == "event_time"
    assert why.endswith("columns holding times: signed_up (date), event_time (nanosecond times)")
    only, why = choose_event_time({"when": "integer", "x": "float", "label": "integer"}, None, {"when"})
    assert only == "when" and "the only column of integers all at or above 10^17" in why
    unnamed = {"signup": "date", "moment": "integer", "label": "integer"}
    with pytest.raises(SourceError) as raised:
        choose_event_time(unnamed, None, {"moment"})
    assert str(raised.value) == (
        "several columns could be the event time: signup (date), moment (nanosecond times); "
        "pass --event-time with the one that orders the history"
    )
    with pytest.raises(SourceError, match=r"could be the event time: event_time \(timestamp\), created_at \(nano"):
        choose_event_time({"event_time": "timestamp", "created_at": "integer", "y": "integer"}, None, {"created_at"})


def test_the_label_is_found_by_name_or_asked_for():
    kinds = {"ts": "timestamp", "amount": "float", "churned": "boolean", "label_time": "timestamp"}
    assert choose_label(kinds, "ts", None)[0] == "churned"
    assert choose_label({"ts": "timestamp", "fraud_label": "integer"}, "ts", None)[0] == "fraud_label"
    with pytest.raises(SourceError, match="pass --label with one of: amount, outcome_date"):
        choose_label({"ts": "timestamp", "amount": "float", "outcome_date": "date"}, "ts", None)
    with pytest.raises(SourceError, match="several columns could be the label: churn, target"):
        choose_label({"ts": "timestamp", "churn": "integer", "target": "integer"}, "ts", None)


@pytest.mark.parametrize(
    ("kind", "classes", "distinct", "label_values", "task"),
    [
        ("string", ["no", "yes"], 2, ("no", "yes"), "binary"),
        ("string", ["a", "b", "c"], 3, (), "multiclass"),
        ("integer", [str(i) for i in range(12)], 12, (), "multiclass"),
        ("integer", [], 500, (), "regression"),
        ("float", ["0.0", "1.0"], 2, (0.0, 1.0), "binary"),
        ("float", [], 5000, (), "regression"),
    ],
)
def test_the_task_follows_the_label(kind, classes, distinct, label_values, task):
    p = profile(
        days=10,
        rows_per_day=10,
        positives_per_day=0,
        label_kind=kind,
        label_distinct=distinct,
        label_values=label_values,
        daily_classes={START: {c: 1 for c in classes}} if classes else {},
    )
    assert choose_task(p)[0] == task


def label_cases() -> list[tuple[str, T.DataType, list[Any]]]:
    """Labels of every type the study reads, with 2, 3, 20, 21 and 150 values (booleans: 2)."""
    makers: dict[str, tuple[T.DataType, Callable[[int], Any]]] = {
        "string": (T.StringType(), lambda i: f"v{i:03d}"),
        "integer": (T.LongType(), lambda i: i),
        "decimal": (T.DecimalType(38, 18), lambda i: Decimal(i).quantize(Decimal("1e-18"))),
        "double": (T.DoubleType(), float),
    }
    cases = [("boolean", T.BooleanType(), [False, True])]
    for name, (spark_type, make) in makers.items():
        cases += [(f"{name} x{n}", spark_type, [make(i) for i in range(n)]) for n in (2, 3, 20, 21, 150)]
    return cases + [
        ("double 0/1", T.DoubleType(), [0.0, 1.0]),
        ("double -1/1", T.DoubleType(), [-1.0, 1.0]),
        ("double 0.5/1.5", T.DoubleType(), [0.5, 1.5]),
        ("decimal 5/10", T.DecimalType(10, 2), [Decimal("5.00"), Decimal("10.00")]),
    ]


@pytest.mark.parametrize(("spark_type", "values"), [c[1:] for c in label_cases()], ids=[c[0] for c in label_cases()])
def test_the_task_is_the_one_the_study_infers(spark_type, values):
    """init profiles at most MAX_CLASSES classes, and the values themselves when there are two."""
    few = len(values) <= MAX_CLASSES
    p = profile(
        days=10,
        rows_per_day=10,
        positives_per_day=0,
        label_kind=column_kind(spark_type),
        label_distinct=len(values),
        label_values=tuple(values) if len(values) <= 2 else (),
        daily_classes={START: {str(v): 1 for v in values}} if few else {},
    )
    study = infer_task(spark_type, len(values), sorted(values) if few else None)
    if study != "regression" and not few:  # the study stops: too many classes (spark/labels.label_of)
        with pytest.raises(SourceError, match="too many classes"):
            choose_task(p)
    else:
        assert choose_task(p)[0] == study


def test_a_positive_class_the_study_cannot_tell_is_the_rarer_one_and_said_to_be_a_guess():
    daily = {START + dt.timedelta(days=d): {"approved": 40, "rejected": 10} for d in range(2 * 364)}
    p = profile(
        2 * 364,
        50,
        10,
        label_kind="string",
        daily_classes=daily,
        positive_class=None,
        label_values=("approved", "rejected"),
    )
    chosen = choose(p)
    assert loaded(chosen).positive_label == "rejected"
    assert "the rarer class (20% of the labelled rows)" in chosen.reasons[("positive_label",)]
    assert "note: positive_label rejected is the rarer class, a guess: check it" in chosen.summary


def test_a_positive_class_the_study_can_tell_is_not_written():
    chosen = choose(profile(2 * 364, 50, 10))
    assert loaded(chosen).positive_label is None
    assert chosen.reasons[("task",)] == "the label holds 2 values: 0, 1; the positive class is 1"


def test_a_single_class_stops_with_the_reason():
    p = profile(days=10, rows_per_day=10, positives_per_day=0, label_distinct=1, daily_classes={START: {"0": 10}})
    with pytest.raises(SourceError, match="holds a single value 0 in the whole source"):
        choose_task(p)


def test_the_yaml_keeps_awkward_values():
    source = SourceConfig(query="SELECT *\nFROM events WHERE note = 'a: b' -- #1")
    p = profile(days=2 * 364, rows_per_day=50, positives_per_day=15)
    chosen = choose_config(p, source, "yes", "/tmp/results dir", "given with --event-time", "given with --label")
    config = loaded(chosen)
    assert config.source.query == source.query and config.name == "yes"
    assert config.output.path == "/tmp/results dir"


def test_numbers_that_vary_on_every_row_are_features_unless_named_like_an_id():
    """Amounts and durations are near-unique too; a counter that follows the time is caught by its
    correlation with the time."""
    rows = 140 * 50
    columns = (
        ColumnProfile("amount_cents", "integer", 0, rows, time_correlation=0.01, label_correlation=0.2),
        ColumnProfile("tenure_seconds", "integer", 0, 6900, time_correlation=0.1, label_correlation=0.3),
        ColumnProfile("balance", "float", 0, rows, time_correlation=0.0, label_correlation=0.1),  # text of numbers
        ColumnProfile("accountNo", "integer", 0, rows, time_correlation=0.02),
        ColumnProfile("order_key", "float", 0, rows, time_correlation=0.01),  # text of numbers
        ColumnProfile("session", "string", 0, rows),
    )
    chosen = choose(profile(days=140, rows_per_day=50, positives_per_day=15, columns=columns))
    assert loaded(chosen).columns.exclude == ["accountNo", "order_key", "session"]
    assert chosen.reasons[("columns", "exclude", "accountNo")].startswith("near-unique: about 7000 distinct values")


def test_the_reading_flags_are_written_with_the_source_options():
    source = SourceConfig(path="/data/history.csv", format="csv", options={"sep": ";"})
    p = profile(
        days=2 * 364, rows_per_day=50, positives_per_day=15, event_time_kind="string", event_time_format="dd/MM/yyyy"
    )
    chosen = choose_config(p, source, "history", "/tmp/results", "given with --event-time", "named like a label")
    config = loaded(chosen)
    assert config.source.options == {"sep": ";"} and config.columns.event_time_format == "dd/MM/yyyy"
    assert "  # reader options given with --option\n  options:\n    sep: ;" in chosen.to_yaml()
    assert chosen.reasons[("columns", "event_time_format")].startswith("given with --event-time-format")
    epoch = choose(profile(days=2 * 364, rows_per_day=50, positives_per_day=15, event_time_unit="milliseconds"))
    assert loaded(epoch).columns.event_time_unit == "milliseconds" and loaded(epoch).source.options == {}


@pytest.mark.parametrize(
    ("kind", "flag"), [("string", "--event-time-format with their Spark"), ("integer", "--event-time-unit with")]
)
def test_event_times_that_cannot_be_read_point_to_the_flag_that_reads_them(kind, flag):
    days = 2 * 364
    unreadable = profile(days, 50, 15, event_time_kind=kind, rows=3 * days * 50, unparseable_event_time=2 * days * 50)
    with pytest.raises(SourceError, match=f"only {days * 50} of the {3 * days * 50} given times .* pass {flag}"):
        choose(unreadable)
    some = choose(profile(days, 50, 15, event_time_kind=kind, rows=days * 50 + 10, unparseable_event_time=10))
    assert f"they are left out. If they should count, pass {flag}" in some.notes[0]


def test_reader_options_are_for_a_path():
    assert source_from_flags(None, "/data/h.csv", "csv", None, {"sep": ";"}).options == {"sep": ";"}
    with pytest.raises(ConfigError, match="--option sets how --path is read"):
        source_from_flags("main.sales.history", None, "delta", None, {"sep": ";"})


def test_an_out_that_cannot_be_written_stops_with_what_to_do(tmp_path, capsys):
    """A folder is refused before the source is read; a path under a file cannot be created."""
    assert cli.main(["init", "--path", str(tmp_path / "h.parquet"), "--out", str(tmp_path), "--force"]) == 2
    assert f"--out {str(tmp_path)!r} is a folder; give the file to write" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot write --out .*a_file/study.yml.*give a file path in a folder"):
        write_file(tmp_path / "a_file" / "study.yml", "name: x\n")


def test_a_64_bit_id_is_not_taken_for_a_nanosecond_time():
    """A snowflake id is as large as a nanosecond time; its name tells it apart."""
    assert choose_event_time({"order_id": "integer", "opened": "date"}, None, {"order_id"})[0] == "opened"
    with pytest.raises(SourceError, match="--event-time"):
        choose_event_time({"order_id": "integer", "x": "float"}, None, {"order_id"})
