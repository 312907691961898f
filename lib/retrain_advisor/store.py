"""The result store: one Delta table per output, in a folder or a schema.

Every write replaces the rows of one run id atomically (Delta `replaceWhere`), so rerunning a
run id never leaves duplicates and other runs' rows are untouched.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retrain_advisor.config import OutputConfig
from retrain_advisor.tables import columns


class ResultStore:
    def __init__(self, spark: SparkSession, output: OutputConfig) -> None:
        self.spark = spark
        self.output = output

    def reference(self, table: str) -> str:
        """How SQL names the table: schema.table, or delta.`path/table`."""
        if self.output.schema_name:
            return f"{self.output.schema_name}.{table}"
        return f"delta.`{self.location(table).replace('`', '``')}`"

    def location(self, table: str) -> str:
        assert self.output.path is not None
        return f"{self.output.path.rstrip('/')}/{table}"

    def ensure_schema(self) -> None:
        if self.output.schema_name:
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {self.output.schema_name}")

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

    def read(self, table: str, run_id: str | None = None) -> DataFrame:
        df = (
            self.spark.read.table(self.reference(table))
            if self.output.schema_name
            else (self.spark.read.format("delta").load(self.location(table)))
        )
        return df if run_id is None else df.where(F.col("run_id") == run_id)
