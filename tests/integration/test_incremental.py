"""Incremental runs: after a week is appended, a run that reuses the earlier run's fits and
evaluations writes the same tables as a full run; after an old week is backfilled, exactly the
fits that train on it and the evaluations that read it are computed again; once the backfill is
undone, an earlier run before it gives them back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import functions as F

from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.foundation.schemas import SCHEMAS
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.run.prepare import prepare_study
from retrain_advisor.run.study import run_study
from tests.configs import study_config
from tests.integration.conftest import START, WEEKS
from tests.integration.test_reliability import MAY_BE_EMPTY, SMALL, comparable

pytestmark = pytest.mark.integration

LAST_WEEK = START + dt.timedelta(weeks=WEEKS - 1)
BACKFILLED_WEEK = START + dt.timedelta(weeks=8)
# What an incremental run records about its reuse, which a full run does not.
REUSE_COLUMNS = {"reused_from", "reused_fits", "reused_evaluations"}


@pytest.fixture(scope="module")
def runs(spark, history, tmp_path_factory) -> dict[str, Any]:
    """One history grown by a week, then backfilled, with a run after each step:
    `before` on all weeks but the last, then `incremental` and `full` once the last is appended,
    then `backfilled` (incremental) after an old week's labels changed, then `undone`
    (incremental) after the change was reverted."""
    source = str(tmp_path_factory.mktemp("growing") / "history")
    complete = spark.read.format("delta").load(history("gradual", drift_strength=1.5))
    complete.where(F.col("event_time") < F.lit(LAST_WEEK)).write.format("delta").save(source)
    config = study_config(source, tmp_path_factory.mktemp("incremental-output"), **SMALL)
    incremental = config.model_copy(update={"execution": config.execution.model_copy(update={"incremental": True})})
    done = {"config": config, "before": run_study(spark, incremental, run_id="before")}
    complete.where(F.col("event_time") >= F.lit(LAST_WEEK)).write.format("delta").mode("append").save(source)
    done["incremental"] = run_study(spark, incremental, run_id="incremental")
    done["full"] = run_study(spark, config, run_id="full")
    flip_labels = (
        f"UPDATE delta.`{source}` SET label = 1 - label "
        f"WHERE event_time >= '{BACKFILLED_WEEK}' AND event_time < '{BACKFILLED_WEEK + dt.timedelta(weeks=1)}' "
        "AND pmod(xxhash64(event_time), 10) = 0"
    )
    spark.sql(flip_labels)
    done["backfilled"] = run_study(spark, incremental, run_id="backfilled")
    done["plan"] = prepare_study(spark, incremental).plan
    spark.sql(flip_labels)  # the backfill undone: the rows are those of `full` again
    done["undone"] = run_study(spark, incremental, run_id="undone")
    return done


def runs_row(store: ResultStore, run_id: str) -> Any:
    return store.read("runs", run_id).first()


def test_an_appended_week_reuses_most_fits_and_writes_what_a_full_run_writes(runs):
    store = runs["full"].store
    row = runs_row(store, "incremental")
    assert row.reused_from == "before"
    assert row.n_fits == runs_row(store, "full").n_fits
    assert row.reused_fits >= 0.85 * row.n_fits, (row.reused_fits, row.n_fits)
    assert row.reused_evaluations >= 0.8 * row.n_evaluations, (row.reused_evaluations, row.n_evaluations)
    assert runs_row(store, "full").reused_from is None
    for table in SCHEMAS:
        left, right = (comparable(store, run_id, table) for run_id in ("incremental", "full"))
        if table == "runs":
            left, right = (frame.drop(columns=sorted(REUSE_COLUMNS)) for frame in (left, right))
        assert len(left) == len(right) > (-1 if table in MAY_BE_EMPTY else 0), table
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, obj=table)


def timings(store: ResultStore, table: str, run_id: str, keys: list[str], seconds: str) -> pd.Series:
    frame = store.read(table, run_id).select(*keys, seconds).toPandas()
    return frame.set_index(keys)[seconds].sort_index()


def test_a_backfilled_week_recomputes_exactly_what_read_it(runs):
    """Reused rows keep the earlier run's timings; computed rows have timings of their own."""
    store, plan = runs["full"].store, runs["plan"]
    week = period_id_of("week", BACKFILLED_WEEK)
    reading = {fit_id for fit_id, fit in plan.fits.items() if fit.trains_on(week)}
    assert reading and len(reading) < len(plan.fits)
    fits_now = timings(store, "fits", "backfilled", ["fit_id"], "fit_seconds")
    fits_before = timings(store, "fits", "full", ["fit_id"], "fit_seconds")
    computed = set(fits_now.index[fits_now.to_numpy() != fits_before.reindex(fits_now.index).to_numpy()])
    assert computed == reading

    keys = ["fit_id", "model_age", "slice_value"]
    scored_now = timings(store, "evaluations", "backfilled", keys, "score_seconds")
    scored_before = timings(store, "evaluations", "full", keys, "score_seconds")
    rescored = {(fit_id, age) for fit_id, age, _ in scored_now.index[scored_now.to_numpy() != scored_before.to_numpy()]}
    expected = {(e.fit_id, e.model_age) for e in plan.evaluations if e.fit_id in reading or e.period_id == week}
    assert rescored == expected
    row = runs_row(store, "backfilled")
    assert row.reused_from == "full"
    # the joint replay's fits are counted too: none of them trains on the backfilled week
    assert (row.reused_fits, row.reused_evaluations) == (row.n_fits - len(reading), row.n_evaluations - len(rescored))


def test_an_undone_backfill_takes_the_week_back_from_the_run_before_it(runs):
    """The latest run read the backfilled week; `full`, older, read the rows the source holds
    again: its fits and evaluations of that week are taken, so nothing is computed."""
    store = runs["full"].store
    row = runs_row(store, "undone")
    assert row.reused_from == "backfilled, full"
    assert (row.reused_fits, row.reused_evaluations) == (row.n_fits, row.n_evaluations)
    for table in SCHEMAS:
        left, right = (comparable(store, run_id, table) for run_id in ("undone", "full"))
        if table == "runs":  # two updates later: the same rows at another Delta version
            left, right = (frame.drop(columns=[*sorted(REUSE_COLUMNS), "source_version"]) for frame in (left, right))
        assert len(left) == len(right) > (-1 if table in MAY_BE_EMPTY else 0), table
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, obj=table)
