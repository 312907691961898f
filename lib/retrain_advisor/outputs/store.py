"""The result store: one Delta table per output, in a folder or a schema.

Tables are partitioned by run id, and every write replaces the rows of one run id atomically
(Delta `replaceWhere` on that partition): rerunning a run id never leaves duplicates, other
runs' rows are untouched, and two runs writing at the same time touch different partitions, so
Delta sees no conflict between them. Creating a table is the one step two runs can race on; it
is retried.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import OutputConfig
from retrain_advisor.foundation.errors import OutputError
from retrain_advisor.foundation.names import quoted_name
from retrain_advisor.foundation.schemas import SCHEMAS, columns
from retrain_advisor.spark.session import for_another_thread

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

CONFLICTS = (
    "ConcurrentAppendException",
    "ConcurrentWriteException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT",
    "DELTA_PROTOCOL_CHANGED",
    "DELTA_METADATA_CHANGED",
    "TABLE_OR_VIEW_ALREADY_EXISTS",
    "FileAlreadyExistsException",
)
# Creating a table at a path another writer is creating: its folder exists, its first commit
# does not yet. Retried only while creating; a location that stays so is reported.
CREATION_RACES = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION",)
ATTEMPTS = 5
# Result tables created, written or read at once (`side_by_side`).
PARALLEL_TABLES = 4


def is_conflict(error: Exception, markers: tuple[str, ...] = CONFLICTS) -> bool:
    """A Delta commit lost a race with another writer (retrying is safe)."""
    text = f"{type(error).__name__} {error}"
    return any(marker in text for marker in markers)


def was_cancelled(error: Exception) -> bool:
    """A Spark job of the work was cancelled (by a failed run stopping it, Ctrl-C, the Spark UI or
    an interrupt on Spark Connect): it says nothing of the output."""
    return "cancel" in f"{type(error).__name__} {error}".lower()


class ResultStore:
    def __init__(self, spark: SparkSession, output: OutputConfig) -> None:
        self.spark = spark
        self.output = output

    def reference(self, table: str) -> str:
        """How SQL names the table: schema.table, or delta.`path/table`."""
        if self.output.schema_name:
            return f"{quoted_name(self.output.schema_name)}.{table}"
        return f"delta.`{self.location(table).replace('`', '``')}`"

    def location(self, table: str) -> str:
        assert self.output.path is not None
        return f"{self.output.path.rstrip('/')}/{table}"

    def describe(self) -> str:
        if self.output.schema_name:
            return f"output.schema {self.output.schema_name}"
        return f"output.path {self.output.path}"

    def ensure_tables(self) -> None:
        """Create the schema and every table (partitioned by run id) unless they exist.

        Fails with an OutputError naming the location when it cannot be written, before any
        long work starts.
        """
        try:
            if self.output.schema_name:
                self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {quoted_name(self.output.schema_name)}")
            creations = {
                table: functools.partial(
                    self.retried,
                    f"table {self.reference(table)}",
                    functools.partial(self._create, table, ddl),
                    CONFLICTS + CREATION_RACES,
                )
                for table, ddl in SCHEMAS.items()
            }
            self.side_by_side(creations)
        except Exception as error:
            raise self.unwritable("cannot create the result tables", error) from error

    def unwritable(self, what: str, error: Exception) -> OutputError:
        """The error to raise when writing the result tables failed: names the location and the cause."""
        return OutputError(
            f"{what} in {self.describe()}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. Check that the location exists and is "
            "writable (or choose another output.path / output.schema)"
        )

    def _create(self, table: str, ddl: str) -> None:
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.reference(table)} ({ddl}) USING DELTA PARTITIONED BY (run_id)"
        )

    def retried(self, what: str, write: Callable[[], object], conflicts: tuple[str, ...] = CONFLICTS) -> None:
        """`write` (of `what`, for the log), again after a race another writer won."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                write()
                return
            except Exception as error:
                if not is_conflict(error, conflicts) or attempt == ATTEMPTS:
                    raise
                log.info("a concurrent writer changed %s; retrying (%d/%d)", what, attempt, ATTEMPTS)
                time.sleep(0.2 * attempt)

    def replace_run(self, table: str, rows: DataFrame, run_id: str) -> None:
        """Write `rows` (all of run `run_id`) in place of that run's previous rows."""
        ordered = rows.select(*[F.col(c) for c in columns(table)])
        writer = (
            ordered.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"run_id = '{run_id}'")
            .option("mergeSchema", "true")
        )
        if self.output.schema_name:
            writer.saveAsTable(self.reference(table))
        else:
            writer.save(self.location(table))

    def replace_runs(self, tables: Mapping[str, DataFrame], run_id: str) -> None:
        """`replace_run` for several tables, side by side."""
        self.side_by_side(
            {table: functools.partial(self.replace_run, table, rows, run_id) for table, rows in tables.items()}
        )

    def side_by_side(self, work: Mapping[K, Callable[[], T]]) -> dict[K, T]:
        """The pieces of work on `PARALLEL_TABLES` threads, each piece with this thread's job label:
        each is a Delta commit or a small read, whose fixed cost (not its rows) is most
        of it. One at a time on Spark Connect, which tags the jobs per thread."""
        if type(self.spark).__module__.startswith("pyspark.sql.connect"):
            return {key: do() for key, do in work.items()}
        with ThreadPoolExecutor(max_workers=PARALLEL_TABLES) as pool:
            started = {key: pool.submit(for_another_thread(self.spark, do)) for key, do in work.items()}
            return {key: future.result() for key, future in started.items()}

    def append_run(self, table: str, rows: DataFrame) -> None:
        """Add rows to a run already written (rows the run adds later, such as the joint replay's)."""
        ordered = rows.select(*[F.col(c) for c in columns(table)])
        writer = ordered.write.format("delta").mode("append").option("mergeSchema", "true")
        if self.output.schema_name:
            writer.saveAsTable(self.reference(table))
        else:
            writer.save(self.location(table))

    def add_analysis(self, run_id: str, fit_ids: Iterable[str], analysis: str) -> None:
        """Record in `fits.analyses` that a later stage of the run used fits it already has."""
        listed = ", ".join(f"'{fit_id}'" for fit_id in sorted(fit_ids))
        if not listed:
            return
        statement = (
            f"UPDATE {self.reference('fits')} SET analyses = array_sort(array_union(analyses, array('{analysis}'))) "
            f"WHERE run_id = '{run_id}' AND fit_id IN ({listed})"
        )
        self.retried(f"table {self.reference('fits')}", lambda: self.spark.sql(statement))

    def discard_run(self, run_id: str) -> None:
        """Delete a run's rows from every result table but `runs` (after the run failed)."""
        for table in SCHEMAS:
            if table != "runs":
                self.spark.sql(f"DELETE FROM {self.reference(table)} WHERE run_id = '{run_id}'")

    def read(self, table: str, run_id: str | None = None) -> DataFrame:
        df = (
            self.spark.read.table(self.reference(table))
            if self.output.schema_name
            else (self.spark.read.format("delta").load(self.location(table)))
        )
        return df if run_id is None else df.where(F.col("run_id") == run_id)
