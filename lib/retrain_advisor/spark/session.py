"""The Spark session: the one that exists (spark-submit, Databricks, Spark Connect), or an
embedded local Spark with Delta for a laptop."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

import pyspark
from pyspark import inheritable_thread_target
from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

T = TypeVar("T")

# Spark 4 gives a classic session job tags (which platforms interrupt work by) and hands them to
# other threads when given the session; Spark 3.5 knows neither.
SESSION_TAGS = int(pyspark.__version__.split(".")[0]) >= 4
JOB_DESCRIPTION = "spark.job.description"  # the local property SparkContext.setJobDescription sets

LOCAL_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Parallelism comes from Spark tasks; one BLAS/OpenMP thread per task avoids oversubscription.
    "spark.executorEnv.OMP_NUM_THREADS": "1",
    # Small local machines: Spark's default 200 shuffle partitions and Delta's 50 snapshot
    # partitions cost more in task overhead than the result tables are worth.
    "spark.sql.shuffle.partitions": str(2 * (os.cpu_count() or 2)),
    "spark.databricks.delta.snapshotPartitions": str(os.cpu_count() or 2),
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
    # Text times without an offset are read in the session zone: UTC, as on Databricks, not the
    # zone of whichever machine runs the study.
    "spark.sql.session.timeZone": "UTC",
}


def _launched_by_spark() -> bool:
    """True under spark-submit (the JVM started us), on Databricks, or when a Spark Connect
    remote is set: then the session to use exists, and starting a local one would be wrong."""
    return any(key in os.environ for key in ("PYSPARK_GATEWAY_PORT", "SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION"))


def get_spark(app_name: str = "retrain-advisor", warehouse: str | Path | None = None) -> SparkSession:
    """The active session if there is one; else start local Spark with Delta and a local warehouse."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if _launched_by_spark():
        return SparkSession.builder.appName(app_name).getOrCreate()
    return local_spark(app_name, warehouse or Path.cwd() / "spark-warehouse")


def local_spark(app_name: str, warehouse: str | Path, cores: str = "*") -> SparkSession:
    """An embedded local Spark with Delta; workers run this same Python interpreter."""
    return embedded_spark(app_name, warehouse, f"local[{cores}]")


def embedded_spark(
    app_name: str, warehouse: str | Path, master: str, conf: dict[str, str] | None = None
) -> SparkSession:
    """A driver in this process with Delta, on `master` (local[n], or a standalone cluster on this
    machine whose workers run this same Python interpreter); `conf` adds to LOCAL_CONF."""
    from delta import configure_spark_with_delta_pip

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    warehouse = Path(warehouse).resolve()
    builder = SparkSession.builder.master(master).appName(app_name).config("spark.sql.warehouse.dir", str(warehouse))
    for key, value in {**LOCAL_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    log.info("starting Spark with Delta on %s (warehouse %s)", master, warehouse)
    return configure_spark_with_delta_pip(builder).getOrCreate()


# How long a stop waits for cancelled background work before cancelling the jobs it started since.
CANCEL_AGAIN_SECONDS = 0.5


class JobLabels:
    """Labels the Spark jobs of each stage of a run, so the Spark UI says what they are for.

    A classic session sets the job description; Spark Connect (where the server owns the
    description) tags the operations instead.
    """

    def __init__(self, spark: SparkSession, run_id: str) -> None:
        self.spark = spark
        self.run_id = run_id
        self.remote = type(spark).__module__.startswith("pyspark.sql.connect")
        self._background: list[tuple[str, Future]] = []  # (job group, its work)

    @contextmanager
    def label(self, stage: str, detail: str = "") -> Iterator[None]:
        if self.remote:
            tag = f"retrain-advisor:{stage}"
            self.spark.addTag(tag)
            try:
                yield
            finally:
                self.spark.removeTag(tag)
            return
        context = self.spark.sparkContext
        outer = context.getLocalProperty(JOB_DESCRIPTION)  # a label this one is nested in, if any
        context.setJobDescription(self._description(stage, detail))
        try:
            yield
        finally:
            context.setJobDescription(outer)  # type: ignore[arg-type]  # None clears it

    def _description(self, stage: str, detail: str) -> str:
        return f"retrain-advisor {self.run_id}: {stage} {detail}".strip()

    def in_background(self, stage: str, detail: str, work: Callable[[], T]) -> Pending[T]:
        """Start `work` (Spark jobs, labelled as `stage`'s) on a thread of its own, beside the
        stages that run meanwhile: its tasks fill the cores theirs leave idle (their driver work,
        Delta commits and the tails of their jobs). Under FIFO scheduling the job submitted first
        has its waiting tasks run first, so `work` delays the stages beside it by at most its
        own tasks' time. Spark Connect: `work` runs when its result is asked for."""
        if self.remote:
            return Pending(None, work)
        group = f"retrain-advisor-{self.run_id}-{stage}-{len(self._background)}"  # each work cancelled alone
        context = self.spark.sparkContext

        def labelled() -> T:
            context.setJobGroup(group, self._description(stage, detail), True)
            return work()

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"retrain-advisor-{stage}")
        future = pool.submit(for_another_thread(self.spark, labelled))
        pool.shutdown(wait=False)  # the thread ends with the work
        self._background.append((group, future))
        return Pending(future, work)

    def stop_background(self, reported: BaseException | None = None) -> None:
        """Cancel the Spark jobs of background work and wait for it to end, so a failed run
        removes its rows only once nothing can write more. Work that had failed on its own is
        logged, unless its error is `reported` (the run's own, raised through `Pending.result`)."""
        ended = {group: future.exception() for group, future in self._background if future.done()}
        for group, error in ended.items():
            if error is not None and error is not reported:
                log.warning("background work %s had failed as well: %s", group, error)
        for group, future in self._background:
            if group not in ended:
                self._cancel(group, future)

    def _cancel(self, group: str, future: Future) -> None:
        """Cancel the group's jobs until its work ends: a cancel stops only the jobs running, and
        work between two jobs (a Delta commit's) starts the next one after it."""
        while True:
            try:
                self.spark.sparkContext.cancelJobGroup(group)
            except Exception as error:  # a stopped context: its jobs end by themselves
                log.warning("could not cancel the background work %s: %s", group, error)
                future.exception()
                return
            try:
                future.exception(timeout=CANCEL_AGAIN_SECONDS)  # an error after a cancel is the cancel's
                return
            except TimeoutError:
                continue


class Pending(Generic[T]):
    """The result of work started in the background (`JobLabels.in_background`)."""

    def __init__(self, future: Future[T] | None, work: Callable[[], T]) -> None:
        self._future = future
        self._work = work

    def result(self) -> T:
        return self._future.result() if self._future is not None else self._work()


def for_another_thread(spark: SparkSession, work: Callable[[], T]) -> Callable[[], T]:
    """`work`, to run on another thread with a copy of this thread's Spark local properties (the
    stage's job description and group) and, on Spark 4, its job tags. Each call makes a copy of
    its own: Delta and Spark SQL change the properties while a job runs, so threads sharing one
    copy mislabel and unlabel each other's jobs."""
    if SESSION_TAGS:
        return inheritable_thread_target(spark)(work)
    return inheritable_thread_target(work)
