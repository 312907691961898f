"""A real local Spark session with Delta, shared by the integration tests, and a helper that
writes a generated history whose drift is known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pyspark.sql import SparkSession

from retrain_advisor.demo.history import DemoSpec
from retrain_advisor.demo.write import write_demo_history
from retrain_advisor.spark.session import local_spark
from tests.configs import study_config

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
    from retrain_advisor.run.study import run_study

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
    from retrain_advisor.run.study import run_study

    config = study_config(
        history("none"), tmp_path_factory.mktemp("stable"), tracking={"mlflow": True, "experiment": "stable-history"}
    )
    return run_study(spark, config)
