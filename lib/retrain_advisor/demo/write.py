"""The demo: write a generated history to a Delta table, once, for `conf/demo.yml` to analyse."""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from retrain_advisor.demo.history import DemoSpec, generate_chunks
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.errors import ConfigError

log = logging.getLogger(__name__)

DEMO_SCHEMA = (
    "event_time timestamp, tenure_months double, monthly_spend double, support_calls double, "
    "days_since_login double, discount_pct double, usage_trend double, plan string, region string, "
    "channel string, label bigint, label_time timestamp"
)


def _exists(spark: SparkSession, path: str) -> bool:
    try:
        spark.read.format("delta").load(path).limit(1).count()
    except Exception:  # no table at the path yet
        return False
    return True


def write_demo_history(spark: SparkSession, path: str, spec: DemoSpec) -> None:
    """Write the generated history to a Delta table at `path`, one month per commit."""
    for index, chunk in enumerate(generate_chunks(spec)):
        mode = "overwrite" if index == 0 else "append"
        spark.createDataFrame(chunk, DEMO_SCHEMA).write.format("delta").mode(mode).save(path)
    log.info("wrote %d rows of demo history (%s drift) to %s", spec.rows, spec.drift, path)


def ensure_demo_history(
    spark: SparkSession, config: StudyConfig, drift: str, rows: int, regenerate: bool, days: int = DemoSpec.days
) -> None:
    path = config.source.path
    if not path or config.source.format != "delta":
        raise ConfigError("the demo config must read a Delta path (source.path with format: delta)")
    if regenerate or not _exists(spark, path):
        write_demo_history(spark, path, DemoSpec(rows=rows, days=days, drift=drift))  # type: ignore[arg-type]
    else:
        log.info("demo history exists at %s (use --regenerate to write it again)", path)
