"""`retrain-advisor apply`: the recommendation of a succeeded run, read from the result tables,
for planning/retrain_schedule.py to turn into a change to the team's own retraining job.

The run is the latest succeeded one of the study (the run the `latest_recommendations` view
shows), or the one named; the row is the one of all rows (`slice_value` null), or of one slice.
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import Column
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import parse_config
from retrain_advisor.foundation.errors import ApplyError
from retrain_advisor.foundation.vocabulary import PERIODIC
from retrain_advisor.outputs.run_tables import latest_run_id
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.planning.retrain_schedule import Recommendation, recommendation_from_row, written_by_apply

SUCCEEDED = "succeeded"


def read_recommendation(
    store: ResultStore, study: str | None, run_id: str | None, slice_value: str | None
) -> Recommendation:
    """The recommendation of run `run_id` (default: the study's latest succeeded run) for all rows
    or one slice. With no study named, the tables must hold a single study's runs."""
    try:
        succeeded = store.read("runs").where(F.col("status") == SUCCEEDED)
    except AnalysisException as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ApplyError(
            f"no result tables in {store.describe()} ({reason}); run `retrain-advisor analyze` first, or point "
            "--config / --output-path / --output-schema at its results"
        ) from None
    if run_id is None:
        if study is None:
            studies = sorted(row["study_name"] for row in succeeded.select("study_name").distinct().collect())
            if len(studies) > 1:
                raise ApplyError(
                    f"{store.describe()} holds runs of {len(studies)} studies ({', '.join(studies)}): name one with "
                    "--study, or give its --config"
                )
        run_id = latest_run_id(store, study)
    run = store.read("runs", run_id).first()
    if run is None:
        raise ApplyError(f"run {run_id!r} is not in {store.describe()}; see its runs table for the run ids")
    if run["status"] != SUCCEEDED:
        raise ApplyError(f"run {run_id!r} is {run['status']}, not succeeded: it has no recommendation to apply")
    if study is not None and run["study_name"] != study:
        raise ApplyError(f"run {run_id!r} is of study {run['study_name']!r}, not {study!r}")

    rows = [row.asDict() for row in store.read("recommendations", run_id).collect()]
    row = next((r for r in rows if r["slice_value"] == slice_value), None)
    if row is None:
        slices = sorted(str(r["slice_value"]) for r in rows if r["slice_value"] is not None)
        if slice_value is None:
            raise ApplyError(f"run {run_id} has no recommendation for all rows; run `retrain-advisor analyze` again")
        known = f"its slices are {', '.join(slices)}" if slices else "the study has no slices"
        raise ApplyError(
            f"run {run_id} has no recommendation for slice {slice_value!r}: {known}; leave out --slice for all rows"
        )
    config = parse_config(json.loads(run["config_json"]), source=f"runs.config_json of run {run_id}")
    largest = None
    if row["recommended_policy"] not in (None, PERIODIC):
        periodic = (F.col("policy") == PERIODIC) & _same_slice(slice_value)
        longest = store.read("schedule_backtest", run_id).where(periodic).agg(F.max("interval_periods")).first()
        largest = longest[0] if longest else None
    return recommendation_from_row(row, str(run["study_name"]), config.period.unit, config.period.timezone, largest)


def _same_slice(slice_value: str | None) -> Column:
    return F.col("slice_value").isNull() if slice_value is None else F.col("slice_value") == slice_value


def write_override(path: Path, text: str) -> Path:
    """Write the override file; a file there that `apply` did not write is kept."""
    if path.exists() and not written_by_apply(path.read_text()):
        raise ApplyError(f"{path} exists and was not written by `retrain-advisor apply`; choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
