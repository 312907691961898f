"""The state one run carries between its stages, and how a stage is timed and labelled."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from pyspark.sql import SparkSession

from retrain_advisor.foundation.config import RUN_ID, StudyConfig
from retrain_advisor.foundation.errors import ConfigError
from retrain_advisor.outputs.rows import RunInputs, RunRows
from retrain_advisor.outputs.store import ResultStore, was_cancelled
from retrain_advisor.planning.plan import Plan
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.run.reuse import Reuse
from retrain_advisor.spark.session import JobLabels

log = logging.getLogger(__name__)


@contextmanager
def stage(name: str, timings: dict[str, float], detail: str = "", jobs: JobLabels | None = None) -> Iterator[None]:
    """Log a stage's start and duration, record the duration under `name`, and label the Spark
    jobs it starts (shown in the Spark UI)."""
    started = time.perf_counter()
    log.info("%s %s...", name, detail)
    with jobs.label(name, detail) if jobs else nullcontext():
        yield
    timings[name] = time.perf_counter() - started
    log.info("%s done in %.1f s", name, timings[name])


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


class StudyRun:
    """Carries the state of one run between its stages."""

    def __init__(self, spark: SparkSession, config: StudyConfig, run_id: str | None = None) -> None:
        self.spark = spark
        self.config = config
        self.run_id = run_id or config.output.run_id or new_run_id()
        if not RUN_ID.match(self.run_id):
            raise ConfigError(f"run id {self.run_id!r} may hold only letters, digits and _ . : - (at most 128)")
        self.store = ResultStore(spark, config.output)
        self.rows = RunRows(spark, config, self.run_id)
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self.jobs = JobLabels(spark, self.run_id)
        self.inputs: RunInputs | None = None  # set once the study is prepared
        self.reuse: Reuse | None = None  # what an incremental run takes from earlier ones

    def record(
        self, status: str, error: str | None = None, study: PreparedStudy | None = None, done: Plan | None = None
    ) -> None:
        """Write this run's row of `runs`; the study fills in what is known once it is prepared,
        and `done` every fit and evaluation the run made once it has."""
        row = self.rows.runs_row(
            status,
            self.started_at,
            error,
            study.source if study else None,
            study.primary_metric if study else None,
            done or (study.plan if study else None),
            self.inputs,
        )
        with self.jobs.label("record", f"(the run as {status} in runs)"):
            self.store.replace_run("runs", row, self.run_id)

    def record_start(self) -> None:
        """Record the run as running: the first write of the run, where an output that exists but
        cannot be written shows (creating the tables only checks that they exist)."""
        try:
            self.record("running")
        except Exception as error:
            if was_cancelled(error):
                raise
            raise self.store.unwritable("cannot record the run in the runs table", error) from error
