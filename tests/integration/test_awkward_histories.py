"""Awkward histories end to end: each gives a result or a message that says what to do.

The histories are pandas frames saved with pandas' defaults (nanosecond times, the index
kept), as a notebook user saves them; the studies are small (a few dozen fits each).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrain_advisor import cli
from retrain_advisor.foundation.config import load_config
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.run.study import run_study

pytestmark = pytest.mark.integration

START = pd.Timestamp(dt.date(2024, 1, 1))  # a Monday
WEEKS = 16


def history(
    rows_per_week: list[int] | None = None, positive_rate: float = 0.3, extra_features: int = 0, seed: int = 3
) -> pd.DataFrame:
    """Weekly rows whose label depends on x1 and, more and more, on x2 (a slow concept change)."""
    rng = np.random.default_rng(seed)
    counts = rows_per_week or [300] * WEEKS
    week = np.repeat(np.arange(len(counts)), counts)
    n = len(week)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    score = 1.5 * x1 + (week / len(counts)) * 2.0 * x2
    threshold = np.quantile(score + rng.logistic(size=n), 1 - positive_rate)
    data = pd.DataFrame(
        {
            "event_time": START + pd.to_timedelta(week * 7 * 86400 + rng.integers(0, 7 * 86400, size=n), unit="s"),
            "x1": x1,
            "x2": x2,
            "segment": rng.choice(["a", "b", "c"], size=n),
            "churned": (score + rng.logistic(size=n) > threshold).astype(int),
        }
    )
    for i in range(extra_features):
        data[f"f{i:03d}"] = rng.normal(size=n)
    return data


def study(tmp_path: Path, data: pd.DataFrame, **sections: dict) -> Path:
    """Save `data` as pandas does by default and write a study config for it, as a user would."""
    data.to_parquet(tmp_path / "history.parquet")
    config = {
        "name": "awkward",
        "source": {"path": str(tmp_path / "history.parquet"), "format": "parquet"},
        "columns": {"event_time": "event_time", "label": "churned"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 300}},
        "windows": {"lookback": 4, "max_age": 4},
        "tolerance": {"absolute": 0.03},
        "comparisons": {"origins": 3, "test_periods": 1, "train_sizes": [300, 600], "lookbacks": [2]},
        "schedule": {"intervals": [1, 2, 4]},
        "limits": {"min_train_rows": 50, "min_eval_rows": 50, "min_class_rows": 5},
        "output": {"path": str(tmp_path / "out"), "run_id": "awkward"},
        "tracking": {"mlflow": False},
    }
    for name, section in sections.items():
        config[name] = {**config.get(name, {}), **section}
    path = tmp_path / "study.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def recommendation(spark, config_path: Path):
    config = load_config(config_path)
    run_study(spark, config)
    store = ResultStore(spark, config.output)
    (run,) = store.read("runs").collect()
    assert run.status == "succeeded"
    (row,) = store.read("recommendations").where("slice_value IS NULL").collect()
    return row


ODD_NAMES = {"event_time": "event time", "x1": "x.one", "x2": "2024", "segment": "größe", "churned": "is churned?"}


def test_a_pandas_default_parquet_file_runs_the_study_from_the_command_line(spark, tmp_path, capsys):
    """Nanosecond times, a saved index and column names with spaces, dots, digits and umlauts."""
    data = history().rename(columns=ODD_NAMES)
    data.index = pd.Index(np.arange(len(data)) * 2)  # not a RangeIndex: pandas writes it as a column
    config = study(tmp_path, data, columns={"event_time": "event time", "label": "is churned?"})
    assert cli.main(["analyze", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert f"source: {len(data)} of {len(data)} rows used; task binary, positive class '1'" in printed
    assert "not features: __index_level_0__" in printed
    store = ResultStore(spark, load_config(config).output)
    (run,) = store.read("runs").collect()
    assert run.status == "succeeded" and run.positive_label == "1"
    drifted = {r.column_name for r in store.read("feature_drift").select("column_name").distinct().collect()}
    assert {"x.one", "2024", "größe"} <= drifted


@pytest.mark.parametrize(
    "case, data",
    [
        (
            "two weeks with no rows inside the history, and ten times the volume from week 8",
            history([100] * 6 + [0, 0] + [1000] * 8),
        ),
        ("several hundred features", history(extra_features=200)),
    ],
)
def test_an_awkward_history_gives_a_result(spark, tmp_path, case, data):
    row = recommendation(spark, study(tmp_path, data))
    assert row.status == "ok" and row.recommended_interval_periods >= 1, case


def test_every_row_twice_and_row_caps_beyond_any_window(spark, tmp_path):
    """Duplicates are kept as they are; caps larger than every window take every row."""
    data = pd.concat([history(), history()], ignore_index=True)
    path = study(tmp_path, data, limits={"max_train_rows": 10**7, "max_eval_rows": 10**7})
    row = recommendation(spark, path)
    assert row.status == "ok" and row.recommended_interval_periods >= 1
    fits = ResultStore(spark, load_config(path).output).read("fits").where("status = 'ok'")
    uncapped = fits.where("train_rows_max >= train_rows_available")  # the comparison arms keep their sizes
    assert uncapped.count() > 0 and uncapped.where("train_rows_used <> train_rows_available").count() == 0


@pytest.mark.parametrize(
    "case, data, message",
    [
        ("a positive class under 1%", history(positive_rate=0.004), "min_class_rows"),
        ("five weeks only", history([300] * 5), "Lower windows.lookback or windows.max_age"),
    ],
)
def test_an_awkward_history_that_cannot_be_measured_says_what_to_do(spark, tmp_path, capsys, case, data, message):
    assert cli.main(["analyze", "--config", str(study(tmp_path, data))]) == 2, case
    error = capsys.readouterr().err
    assert error.startswith("retrain-advisor: ") and message in error and "Traceback" not in error
