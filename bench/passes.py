"""How many times a run read its source, per stage: the SQL executions of the run (labelled by
`JobLabels`) whose physical plan scans the source's files, read from the Spark UI's REST API."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

from pyspark.sql import SparkSession

# Commands that name the source's path without reading its rows.
NOT_A_SCAN = ("DescribeDeltaHistory",)


def source_passes(spark: SparkSession, run_id: str, source_path: str) -> dict[str, int]:
    """Scans of `source_path` by run `run_id`, per stage (`prepare`, `fit`, ...)."""
    context = spark.sparkContext
    url = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/sql?details=true&planDescription=true"
    with urllib.request.urlopen(f"{url}&length=100000") as response:  # noqa: S310 (the local Spark UI)
        executions = json.load(response)
    prefix = f"retrain-advisor {run_id}: "
    folder = source_path.rstrip("/").rsplit("/", 1)[-1]
    passes: Counter[str] = Counter()
    for execution in executions:
        description, plan = execution.get("description", ""), execution.get("planDescription", "")
        if description.startswith(prefix) and folder in plan and not any(word in plan for word in NOT_A_SCAN):
            passes[description.removeprefix(prefix).split(" ", 1)[0]] += 1
    return dict(passes)
