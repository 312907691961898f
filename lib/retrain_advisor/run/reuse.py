"""Incremental runs: take from an earlier run of the same study the fits and evaluations whose
inputs are unchanged, so a scheduled run computes only what new or changed data asks for.

A fit's outcome is fixed by its identity (`fit_id`: windows, row cap, seed, half-life), by what
shapes every fit and evaluation of the study (the *inputs key*: features, label and classes,
recipe, metrics, limits, seed, periods, slices and library versions) and by the usable rows of
the periods it trains on. An evaluation's is fixed by its fit and the rows of the period it
scores. A period's rows are known by their fingerprint (`PreparedSource.fingerprints`), so a
period that gained, lost or changed rows (late labels, a backfill) is recomputed, with every fit
that trains on it and every evaluation that scores it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.periods import period_id_of, period_start
from retrain_advisor.modelling.recipe import import_object
from retrain_advisor.outputs.rows import library_versions
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.planning.plan import EvaluationSpec, Plan
from retrain_advisor.run.prepare import PreparedStudy

log = logging.getLogger(__name__)


def inputs_key(study: PreparedStudy) -> str:
    """A hash of everything besides the rows that shapes the study's fits and evaluations."""
    config, source = study.config, study.source
    shaping = config.model_dump(
        mode="json", include={"columns", "model", "limits", "period", "slice", "task", "estimation"}
    )
    payload = {
        "config": shaping,
        "seed": config.execution.seed,
        "metrics": [metric.name for metric in study.metrics],
        "task": source.task,
        "classes": source.classes,
        "positive_label": source.positive_label,
        "numeric": source.numeric,
        "categorical": source.categorical,
        "recipe_source": _recipe_source(config),
        "libraries": library_versions(),
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _recipe_source(config: StudyConfig) -> str:
    """The source of the module that defines the recipe, when it is the user's own: a changed
    factory or estimator changes every fit although the config does not."""
    path = config.model.factory or config.model.estimator
    if path is None:
        return ""
    found = import_object(path, "model.factory" if config.model.factory else "model.estimator")
    module = inspect.getmodule(found)
    if module is None or module.__name__.split(".")[0] == "sklearn":
        return ""
    try:
        return hashlib.sha1(inspect.getsource(module).encode()).hexdigest()
    except (OSError, TypeError):
        return ""


def fingerprints_by_window(study: PreparedStudy) -> dict[str, str]:
    """The period fingerprints keyed by each period's first day (how `runs` stores them)."""
    unit = study.config.period.unit
    return {period_start(unit, p).isoformat(): f for p, f in study.source.fingerprints.items()}


@dataclass(frozen=True)
class Reuse:
    """What an earlier succeeded run holds that this run may take: its fits and evaluations
    (by fit id and model age) on the periods whose rows are unchanged."""

    run_id: str
    fit_ids: frozenset[str]
    evaluations: frozenset[tuple[str, int]]
    changed_periods: frozenset[int]

    def of(self, plan: Plan) -> Plan:
        """The part of `plan` this run need not compute."""
        fits = {
            fit_id: fit
            for fit_id, fit in plan.fits.items()
            if fit_id in self.fit_ids and not any(fit.trains_on(p) for p in self.changed_periods)
        }
        evaluations = {
            e
            for e in plan.evaluations
            if e.fit_id in fits
            and (e.fit_id, e.model_age) in self.evaluations
            and e.period_id not in self.changed_periods
        }
        return Plan(fits, evaluations, set())


def find_reuse(store: ResultStore, study: PreparedStudy, key: str, run_id: str) -> Reuse | None:
    """The latest succeeded run of this study with inputs key `key`, other than `run_id`
    (whose rows this run replaces), and which of its periods changed since; None when there is
    none."""
    config = study.config
    earlier = (
        store.read("runs")
        .where(
            (F.col("study_name") == config.name)
            & (F.col("status") == "succeeded")
            & (F.col("inputs_key") == key)
            & (F.col("run_id") != run_id)
        )
        .orderBy(F.col("started_at").desc())
        .select("run_id", "period_fingerprints")
        .first()
    )
    if earlier is None:
        log.info("incremental: no succeeded run of study %r on the same inputs; computing everything", config.name)
        return None
    unit = config.period.unit
    stored = earlier["period_fingerprints"] or {}
    before = {period_id_of(unit, dt.date.fromisoformat(day)): f for day, f in stored.items()}
    now = study.source.fingerprints
    changed = frozenset(p for p in before.keys() | now.keys() if before.get(p) != now.get(p))
    earlier_id = str(earlier["run_id"])
    fit_ids = {str(r["fit_id"]) for r in store.read("fits", earlier_id).select("fit_id").collect()}
    evaluated = {
        (str(r["fit_id"]), int(r["model_age"]))
        for r in store.read("evaluations", earlier_id).select("fit_id", "model_age").distinct().collect()
    }
    log.info(
        "incremental: reusing run %s, where %d period(s) had other rows: %s",
        earlier_id,
        len(changed),
        ", ".join(period_start(unit, p).isoformat() for p in sorted(changed)[:10]) + (" ..." * (len(changed) > 10)),
    )
    return Reuse(earlier_id, frozenset(fit_ids), frozenset(evaluated), changed)


def reused_fit_rows(store: ResultStore, reuse: Reuse, reused: Plan, asked: Plan, run_id: str) -> DataFrame:
    """The earlier run's rows of the fits in `reused`, as rows of this run, with the analyses
    of `asked` (the plan they now serve)."""
    analyses = store.spark.createDataFrame(
        [(fit_id, asked.analyses_of(fit_id)) for fit_id in sorted(reused.fits)], "fit_id string, analyses array<string>"
    )
    return (
        store.read("fits", reuse.run_id)
        .drop("analyses")
        .join(F.broadcast(analyses), "fit_id")
        .withColumn("run_id", F.lit(run_id))
    )


def reused_evaluation_rows(
    store: ResultStore, reuse: Reuse, evaluations: set[EvaluationSpec], run_id: str
) -> DataFrame:
    """The earlier run's rows (every slice) of `evaluations`, as rows of this run."""
    keys = store.spark.createDataFrame(
        sorted((e.fit_id, e.model_age) for e in evaluations), "fit_id string, model_age int"
    )
    return (
        store.read("evaluations", reuse.run_id)
        .join(F.broadcast(keys), ["fit_id", "model_age"])
        .withColumn("run_id", F.lit(run_id))
    )
