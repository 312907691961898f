"""Run one study through Spark Connect: `python connect_job.py CONFIG RUN_ID`.

A separate process, because a Connect session cannot share a process with the tests' classic
session. `remote("local[2]")` starts a local Spark Connect server with Delta; the study code
only ever sees the Connect client.
"""

from __future__ import annotations

import os
import sys

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
from pyspark.sql.connect.session import SparkSession as ConnectSession

from retrain_advisor.foundation.config import load_config
from retrain_advisor.run.study import run_study
from retrain_advisor.spark.session import LOCAL_CONF


def main(config_path: str, run_id: str) -> None:
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the server's Python workers need this package
    builder = SparkSession.builder.remote("local[2]")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    assert isinstance(spark, ConnectSession), type(spark)
    run_study(spark, load_config(config_path), run_id=run_id)
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
