"""After a run succeeded: its HTML report and its MLflow run, both drawn from the written
tables. Neither can undo the run: a failure here is logged, and the tables stay complete."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.outputs.figures import draw_figures
from retrain_advisor.outputs.report import render_report, report_folder, write_report
from retrain_advisor.outputs.run_tables import load_run_tables
from retrain_advisor.outputs.tracking import log_study

if TYPE_CHECKING:
    from retrain_advisor.outputs.result import StudyResult

log = logging.getLogger(__name__)


def publish(result: StudyResult, config: StudyConfig) -> StudyResult:
    """Write the report (when there is a report folder) and log to MLflow (when enabled)."""
    try:
        tables = load_run_tables(result.store, result.run_id)
        figures = draw_figures(tables)
        report = render_report(tables, figures)
        folder = report_folder(config.output)
        if folder is not None:
            path = write_report(report, folder / f"{result.run_id}.html")
            result = dataclasses.replace(result, report_path=path)
    except Exception as error:
        _keep_going("write the report of", result.run_id, error)
        return result
    if config.tracking.mlflow:
        try:
            log_study(result, config, tables, figures, report)
        except Exception as error:  # a tracking outage must not fail a complete run
            _keep_going("log to MLflow", result.run_id, error)
    return result


def _keep_going(what: str, run_id: str, error: Exception) -> None:
    log.warning(
        "could not %s run %s (%s: %s); its Delta tables are complete", what, run_id, type(error).__name__, error
    )
