"""Where a finished run's results are: its id, its store and the figures of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.outputs.store import ResultStore


@dataclass(frozen=True)
class StudyResult:
    run_id: str
    store: ResultStore
    primary_metric: str
    n_fits: int
    n_evaluations: int
    seconds: float
    stage_seconds: dict[str, float]
    report_path: Path | None = None

    def shelf_life(self) -> DataFrame:
        """The pooled shelf life row(s) of this run, for all rows and each slice."""
        return self.store.read("shelf_life", self.run_id).where(F.col("fit_id").isNull() & F.col("season").isNull())

    def recommendations(self) -> DataFrame:
        return self.store.read("recommendations", self.run_id)

    def table(self, name: str) -> DataFrame:
        return self.store.read(name, self.run_id)
