"""SQL views over the result tables for the common questions: the latest succeeded run of each
study on each source, its recommendations, its decay curve and its shelf life.

With `output.schema` the views are created in that schema with the tables (every run replaces
them, so they follow the installed version). With `output.path` there is no catalog to hold
them: `create_views(..., temporary=True)` defines them for one Spark session.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from retrain_advisor.foundation.names import quoted_name
from retrain_advisor.foundation.schemas import SCHEMAS, columns
from retrain_advisor.outputs.store import ResultStore

log = logging.getLogger(__name__)

RUN_COLUMNS = ["study_name", "source_name", "source_version", "finished_at"]


def _latest(table: str, where: str = "") -> str:
    """The table's rows of each latest run, with the run's study and source in front."""
    own = ", ".join(f"t.{c}" for c in columns(table))
    extra = f" AND {where}" if where else ""
    return (
        f"SELECT {', '.join(f'r.{c}' for c in RUN_COLUMNS)}, {own} "
        f"FROM {{{table}}} t JOIN {{latest_runs}} r ON t.run_id = r.run_id WHERE TRUE{extra}"
    )


VIEWS: dict[str, str] = {
    "latest_runs": (
        "SELECT run_id, study_name, source_name, source_version, started_at, finished_at, task, primary_metric, "
        "n_fits, n_evaluations FROM (SELECT *, row_number() OVER (PARTITION BY study_name, source_name "
        "ORDER BY started_at DESC, run_id DESC) AS rank_in_study FROM {runs} WHERE status = 'succeeded') "
        "WHERE rank_in_study = 1"
    ),
    "latest_recommendations": _latest("recommendations"),
    "latest_decay_curve": _latest("decay_curve"),
    "latest_shelf_life": _latest("shelf_life", "t.fit_id IS NULL"),
    "latest_calendar_events": _latest("calendar_events"),
}


def view_sql(store: ResultStore, name: str, view_names: dict[str, str]) -> str:
    """The SELECT of one view, with tables and other views named as SQL names them."""
    references = {table: store.reference(table) for table in SCHEMAS} | view_names
    return VIEWS[name].format(**references)


def refresh_views(spark: SparkSession, store: ResultStore) -> None:
    """Create or replace the views in `output.schema`; a failure (say, no privilege to create
    views) is logged and the run goes on, since the tables hold everything the views show."""
    try:
        store.retried(f"the views in {store.output.schema_name}", lambda: create_views(spark, store))
    except Exception as error:
        log.warning(
            "could not create the views in %s (%s: %s); the tables are written all the same",
            store.output.schema_name,
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )


def create_views(spark: SparkSession, store: ResultStore, temporary: bool = False) -> dict[str, str]:
    """Create (or replace) the views; returns how SQL names each one."""
    schema = store.output.schema_name
    if temporary:
        names = {view: view for view in VIEWS}
    elif schema:
        names = {view: f"{quoted_name(schema)}.{view}" for view in VIEWS}
    else:
        raise ValueError("persistent views need output.schema; with output.path use temporary=True")
    kind = "TEMPORARY VIEW" if temporary else "VIEW"
    for view in VIEWS:
        spark.sql(f"CREATE OR REPLACE {kind} {names[view]} AS {view_sql(store, view, names)}")
    return names
