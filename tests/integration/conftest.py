"""A real local Spark session with Delta, shared by the integration tests, and a helper that
writes a generated history whose drift is known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from retrain_advisor.config import StudyConfig, parse_config
from retrain_advisor.demo import write_demo_history
from retrain_advisor.demo_data import DemoSpec
from retrain_advisor.session import local_spark

START = dt.date(2024, 1, 1)  # a Monday, so generated weeks line up with periods
WEEKS = 24
ROWS_PER_WEEK = 5000
DRIFT_WEEK = 14  # the abrupt drift starts in week 14 (counted from 0)
DRIFT_DATE = START + dt.timedelta(weeks=DRIFT_WEEK)
FAST_DRIFT = 1.5
WIDE_SCHEDULE = {"intervals": [1, 2, 3, 4, 6]}
ABRUPT = {"drift_date": DRIFT_DATE}
ABRUPT_TOLERANCE = {"absolute": 0.05, "persistence": 2}


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow store in a temporary folder, never the working directory's."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    patch.undo()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark("retrain-advisor-tests", tmp_path_factory.mktemp("warehouse"), cores="2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def history(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    """Write a weekly history with the given drift once per drift kind; returns its path."""
    root = tmp_path_factory.mktemp("sources")
    written: dict[tuple, str] = {}

    def make(drift: str, **spec: Any) -> str:
        key = (drift, *sorted(spec.items()))
        if key not in written:
            path = str(root / f"{drift}_{len(written)}")
            demo = DemoSpec(rows=WEEKS * ROWS_PER_WEEK, start=START, days=7 * WEEKS, drift=drift, seed=11, **spec)
            write_demo_history(spark, path, demo)
            written[key] = path
        return written[key]

    return make


@pytest.fixture(scope="session")
def studied(spark, history, tmp_path_factory):
    """Run a study of a generated history once per (drift, spec, config overrides) in the session."""
    from retrain_advisor.study import run_study

    done: dict[str, Any] = {}

    def run(drift: str, spec: dict[str, Any] | None = None, **overrides: Any):
        key = repr((drift, sorted((spec or {}).items()), sorted(overrides.items())))
        if key not in done:
            source = history(drift, **(spec or {}))
            done[key] = run_study(spark, study_config(source, tmp_path_factory.mktemp(drift), **overrides))
        return done[key]

    return run


@pytest.fixture(scope="session")
def stable_study(spark, history, tmp_path_factory):
    """A study of a history without drift, shared by the tests that only read its tables."""
    from retrain_advisor.study import run_study

    config = study_config(
        history("none"), tmp_path_factory.mktemp("stable"), tracking={"mlflow": True, "experiment": "stable-history"}
    )
    return run_study(spark, config)


def study_config(source_path: str, output_path: Path, **overrides: Any) -> StudyConfig:
    """A fast weekly study: logistic regression, 6-week lookback, ages 0..6, one origin per week,
    small comparison and schedule grids. Override a section with section=..., or one key with
    section__key=...."""
    data: dict[str, Any] = {
        "name": "test-study",
        "source": {"path": source_path, "format": "delta"},
        "columns": {"event_time": "event_time", "label": "label", "exclude": ["label_time"]},
        "period": {"unit": "week"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 300}},
        "metrics": {"names": ["roc_auc", "log_loss"], "primary": "roc_auc"},
        "windows": {"lookback": 6, "gap": 0, "max_age": 6, "origin_every": 1},
        "tolerance": {"absolute": 0.02, "persistence": 2},
        # Small grids keep each study to a few dozen fits; tests of an analysis widen its own.
        "comparisons": {"origins": 3, "test_periods": 1, "train_sizes": [5000, 20000], "lookbacks": [2, 4]},
        "schedule": {"intervals": [1, 2, 4]},
        "limits": {"max_train_rows": 20000, "max_eval_rows": 5000},
        "output": {"path": str(output_path)},
        "execution": {"bootstrap_samples": 500},
        "tracking": {"mlflow": False},
    }
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        data[section] = {**data.get(section, {}), key: value} if key else value
    return parse_config(data)
