"""Open the source as Spark sees it, with the settings that files written by other tools need.

A Delta source is read at the version current when the run starts, so every stage of the run
sees the same data and the runs table can name it. The source is only ever read.
"""

from __future__ import annotations

import logging

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.foundation.names import quoted_name
from retrain_advisor.spark.columns import sql_name

log = logging.getLogger(__name__)

# pandas writes timestamps in nanoseconds by default, which Spark refuses as a timestamp type;
# read as integers, they become times again in `times.py` (to the microsecond).
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"
# A CSV file as people write it: a header line, and numbers and times that should not stay text.
READER_DEFAULTS: dict[str, dict[str, str]] = {"csv": {"header": "true", "inferSchema": "true"}}
NANOS_HINT = (
    "the file holds nanosecond timestamps (pandas' default), and this Spark does not allow "
    f"{NANOS_AS_LONG}=true, which reads them as integers. Rewrite the file with microsecond "
    "timestamps, e.g. df.to_parquet(path, coerce_timestamps='us', allow_truncated_timestamps=True)"
)


def read_source(spark: SparkSession, config: StudyConfig) -> tuple[DataFrame, int | None]:
    """The raw source DataFrame, pinned to its current Delta version when it is a Delta table."""
    source = config.source
    _read_nanosecond_timestamps_as_integers(spark)
    try:
        if source.query:
            return spark.sql(source.query), None
        if source.table:
            table = quoted_name(source.table)
            version = _delta_version(spark, table)
            if version is None:
                return spark.read.table(table), None
            return spark.sql(f"SELECT * FROM {table} VERSION AS OF {version}"), version
        assert source.path is not None
        options = {**READER_DEFAULTS.get(source.format, {}), **source.options}
        if source.format == "delta":
            version = _delta_version(spark, f"delta.{sql_name(source.path)}")
            reader = spark.read.format("delta").options(**options)
            if version is not None:
                reader = reader.option("versionAsOf", version)
            return reader.load(source.path), version
        return spark.read.format(source.format).options(**options).load(source.path), None
    except AnalysisException as error:
        message = error.getMessage()
        hint = f"; {NANOS_HINT}" if "PARQUET_TYPE_ILLEGAL" in message and "NANOS" in message else ""
        raise SourceError(f"cannot read source {source.describe()}: {message}{hint}") from None


def _read_nanosecond_timestamps_as_integers(spark: SparkSession) -> None:
    """Set for the session: it only changes columns Spark would otherwise refuse to read."""
    try:
        spark.conf.set(NANOS_AS_LONG, "true")
    except Exception as error:  # a platform may forbid session settings (e.g. serverless)
        log.debug("cannot set %s: %s", NANOS_AS_LONG, error)


def _delta_version(spark: SparkSession, reference: str) -> int | None:
    try:
        row = spark.sql(f"DESCRIBE HISTORY {reference} LIMIT 1").first()
    except AnalysisException:
        return None
    return None if row is None else int(row["version"])
