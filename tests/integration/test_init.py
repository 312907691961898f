"""`retrain-advisor init` on small histories as files hold them: the written config loads, names
the event time, the label and the task, and leaves out the id and the leak."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrain_advisor import cli
from retrain_advisor.foundation.config import StudyConfig, load_config
from retrain_advisor.spark import profile

pytestmark = pytest.mark.integration

DAYS = 20 * 7
ROWS_PER_DAY = 60  # fewer than limits.min_eval_rows: the periods must be weeks


def churn_frame(seed: int = 5) -> pd.DataFrame:
    """An id, a timestamp, features (an amount in cents and a balance as text vary on nearly every
    row), a label and a leak (the label plus a little noise)."""
    rng = np.random.default_rng(seed)
    n = DAYS * ROWS_PER_DAY
    spend = rng.normal(size=n)
    label = (spend + rng.normal(size=n) > 0.5).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "event_time": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n) * 86400 // ROWS_PER_DAY, "s"),
            "spend": spend,
            "amount_cents": rng.integers(0, 10**9, n),
            "balance": [f"{x:.2f}" for x in rng.normal(1000, 300, n)],
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "refund_score": label + rng.normal(scale=0.05, size=n),
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("init") / "history.parquet"
    churn_frame().to_parquet(path, coerce_timestamps="us")
    return str(path)


def test_init_writes_a_config_without_the_id_and_the_leak(spark, history, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "conf" / "study.yml"
    args = ["init", "--path", history, "--format", "parquet", "--out", str(out)]
    assert cli.main(args) == 0
    config = load_config(out)
    assert (config.columns.event_time, config.columns.label, config.task) == ("event_time", "label", "binary")
    assert config.columns.exclude == ["customer_id", "refund_score"], "the amount and the balance are features"
    assert "features: every other numeric, boolean or text column (spend, amount_cents, balance, plan)" in (
        out.read_text()
    )
    assert config.period.unit == "week" and (config.windows.lookback, config.windows.max_age) == (8, 4)
    assert config.name == "history" and config.source.format == "parquet"
    printed = capsys.readouterr().out
    assert f"starting config: {out}" in printed
    assert "customer_id (an id), refund_score (tracks the label)" in printed and "NOT READY" not in printed

    assert cli.main(args) == 2, "an existing file is kept without --force"
    assert "pass --force" in capsys.readouterr().err
    assert cli.main([*args, "--force", "--name", "churn"]) == 0
    assert load_config(out).name == "churn"


def init_from_pandas_parquet(
    frame: pd.DataFrame, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[StudyConfig, str]:
    """Save `frame` with pandas' defaults, run `init` on it from `folder`: the config it wrote, and its text."""
    path = folder / "history.parquet"
    frame.to_parquet(path)
    monkeypatch.chdir(folder)
    out = folder / "study.yml"
    assert cli.main(["init", "--path", str(path), "--format", "parquet", "--out", str(out)]) == 0
    return load_config(out), out.read_text()


def test_init_reads_a_parquet_file_as_pandas_writes_it(spark, tmp_path, monkeypatch, capsys):
    """pandas' defaults: nanosecond timestamps (read as integers), here with a decimal 0/1 label and
    the leak written as text: the study reads it as numbers, so it is profiled as numbers."""
    frame = churn_frame().assign(
        label=lambda f: [Decimal(int(y)).quantize(Decimal("1e-18")) for y in f["label"]],
        refund_score=lambda f: [f"{x:.4f}" for x in f["refund_score"]],
    )
    config, written = init_from_pandas_parquet(frame, tmp_path, monkeypatch)
    assert (config.columns.event_time, config.columns.label, config.task) == ("event_time", "label", "binary")
    assert config.positive_label is None, "the study takes 1 as the positive class: nothing to guess"
    assert config.columns.exclude == ["customer_id", "refund_score"]
    comments = " ".join(line.strip(" #") for line in written.splitlines())
    assert "read as nanoseconds since 1970-01-01 UTC" in comments
    assert "the positive class is 1.000000000000000000" in comments
    assert "customer_id (an id), refund_score (tracks the label)" in capsys.readouterr().out


def test_init_takes_pandas_nanosecond_times_beside_a_date_column(spark, tmp_path, monkeypatch, capsys):
    """pandas' defaults: python dates are a date column, datetime64[ns] nanosecond integers; both
    hold times, and the one named like a time is the event time."""
    rng = np.random.default_rng(7)
    n = DAYS * ROWS_PER_DAY
    event_time = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 86400 // ROWS_PER_DAY, "s")
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "signed_up": list((event_time - pd.to_timedelta(rng.integers(0, 400, n), "D")).date),
            "event_time": event_time,
            "x": x,
            "label": (x + rng.normal(size=n) > 0.5).astype(int),
        }
    )
    assert str(frame["event_time"].dtype) == "datetime64[ns]" and type(frame["signed_up"][0]) is dt.date
    config, written = init_from_pandas_parquet(frame, tmp_path, monkeypatch)
    assert (config.columns.event_time, config.columns.label, config.task) == ("event_time", "label", "binary")
    assert config.columns.event_time_unit is None and config.period.unit == "week"
    printed = capsys.readouterr().out
    assert "signed_up (date), event_time (nanosecond times)" in printed
    comments = " ".join(line.strip(" #") for line in written.splitlines())
    assert "read as nanoseconds since 1970-01-01 UTC" in comments


def test_init_reads_a_csv_with_the_reader_options_and_time_pattern_given(spark, tmp_path, monkeypatch, capsys):
    frame = churn_frame()[["customer_id", "event_time", "spend", "plan", "label"]]
    path = tmp_path / "history.csv"
    frame.assign(event_time=frame["event_time"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(path, sep=";", index=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "study.yml"
    args = ["init", "--path", str(path), "--format", "csv", "--option", "sep=;", "--out", str(out)]
    assert cli.main(args) == 2
    assert "pass --event-time-format with their Spark datetime pattern" in capsys.readouterr().err
    assert cli.main([*args, "--event-time-format", "dd/MM/yyyy HH:mm"]) == 0
    config = load_config(out)
    assert config.source.options == {"sep": ";"} and config.columns.event_time_format == "dd/MM/yyyy HH:mm"
    assert (config.columns.event_time, config.columns.label, config.task) == ("event_time", "label", "binary")
    assert config.columns.exclude == ["customer_id"] and config.period.unit == "week"


def test_init_reads_numeric_times_in_the_unit_given(spark, tmp_path, monkeypatch, capsys):
    """Milliseconds with a few values in seconds: no one unit holds them all, so init asks for it."""
    frame = churn_frame()[["event_time", "spend", "label"]]
    millis = frame["event_time"].astype("int64") // 10**6
    mixed, clean = tmp_path / "mixed.parquet", tmp_path / "clean.parquet"
    frame.assign(event_time=millis.where(millis.index >= 10, millis // 1000)).to_parquet(mixed)
    frame.assign(event_time=millis).to_parquet(clean)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "study.yml"
    assert cli.main(["init", "--path", str(mixed), "--format", "parquet", "--out", str(out)]) == 2
    assert "--event-time-unit UNIT" in capsys.readouterr().err
    units = []
    read_time = profile.time_column
    monkeypatch.setattr(
        profile, "time_column", lambda df, name, cols: units.append(cols.event_time_unit) or read_time(df, name, cols)
    )
    args = ["init", "--path", str(clean), "--format", "parquet", "--event-time-unit", "milliseconds", "--out", str(out)]
    assert cli.main(args) == 0
    assert units == ["milliseconds"], "the profile reads the times in the unit given, without inferring it"
    config = load_config(out)
    assert config.columns.event_time_unit == "milliseconds" and config.columns.event_time == "event_time"
