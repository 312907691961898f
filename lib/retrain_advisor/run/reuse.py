"""Incremental runs: take from earlier runs of the same study the fits and evaluations whose
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
import json
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.periods import period_id_of, period_start
from retrain_advisor.modelling.recipe import import_object
from retrain_advisor.modelling.user_code import recipe_code
from retrain_advisor.outputs.rows import library_versions
from retrain_advisor.outputs.store import ResultStore
from retrain_advisor.planning.plan import EvaluationSpec, FitSpec, Plan
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
    """The code behind the recipe (`recipe_code`): a changed factory, estimator, helper they call
    or package they use changes every fit although the config does not."""
    path = config.model.factory or config.model.estimator
    if path is None:
        return ""
    return recipe_code(
        import_object(path, "model.factory" if config.model.factory else "model.estimator")
    ).fingerprint()


def fingerprints_by_window(study: PreparedStudy) -> dict[str, str]:
    """The period fingerprints keyed by each period's first day (how `runs` stores them)."""
    unit = study.config.period.unit
    return {period_start(unit, p).isoformat(): f for p, f in study.source.fingerprints.items()}


# Earlier runs an incremental run looks at, newest first. More than one, so that a lookback
# verdict that moves back, or a backfill that is undone, finds its fits again.
EARLIER_RUNS = 8


@dataclass(frozen=True)
class EarlierRun:
    """What one earlier succeeded run holds: its fits and evaluations (by fit id and model age),
    and which periods have other rows now than when it ran."""

    run_id: str
    fit_ids: frozenset[str]
    evaluations: frozenset[tuple[str, int]]
    changed_periods: frozenset[int]

    def gives(self, fit: FitSpec) -> bool:
        return fit.fit_id in self.fit_ids and not any(fit.trains_on(p) for p in self.changed_periods)


@dataclass(frozen=True)
class Reuse:
    """What earlier succeeded runs hold that this run may take: each fit and each evaluation
    from the newest run that has it on unchanged periods (a fit is the same in every run that
    trained it on the same rows, so its evaluations may come from another run than its row)."""

    runs: tuple[EarlierRun, ...]  # newest first

    def fit_source(self, fit: FitSpec) -> str | None:
        return next((run.run_id for run in self.runs if run.gives(fit)), None)

    def evaluation_source(self, evaluation: EvaluationSpec, fit: FitSpec) -> str | None:
        return next(
            (
                run.run_id
                for run in self.runs
                if run.gives(fit)
                and (evaluation.fit_id, evaluation.model_age) in run.evaluations
                and evaluation.period_id not in run.changed_periods
            ),
            None,
        )

    def of(self, plan: Plan) -> Plan:
        """The part of `plan` this run need not compute."""
        fits = {fit_id: fit for fit_id, fit in plan.fits.items() if self.fit_source(fit) is not None}
        evaluations = {
            e for e in plan.evaluations if e.fit_id in fits and self.evaluation_source(e, fits[e.fit_id]) is not None
        }
        return Plan(fits, evaluations, set())

    def run_ids(self, taken: Plan) -> list[str]:
        """The runs the fits and evaluations of `taken` (a part of `of`) come from, newest first."""
        used = {self.fit_source(fit) for fit in taken.fits.values()}
        used |= {self.evaluation_source(e, taken.fits[e.fit_id]) for e in taken.evaluations}
        return [run.run_id for run in self.runs if run.run_id in used]


def find_reuse(store: ResultStore, study: PreparedStudy, key: str, run_id: str) -> Reuse | None:
    """The latest `EARLIER_RUNS` succeeded runs of this study with inputs key `key`, other than
    `run_id` (whose rows this run replaces), and which of their periods changed since; None when
    there is none."""
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
        .limit(EARLIER_RUNS)
        .collect()
    )
    if not earlier:
        log.info("incremental: no succeeded run of study %r on the same inputs; computing everything", config.name)
        return None
    ids = [str(row["run_id"]) for row in earlier]
    fit_ids: dict[str, set[str]] = {run: set() for run in ids}
    for row in store.read("fits").where(F.col("run_id").isin(ids)).select("run_id", "fit_id").collect():
        fit_ids[str(row["run_id"])].add(str(row["fit_id"]))
    evaluated: dict[str, set[tuple[str, int]]] = {run: set() for run in ids}
    scored = store.read("evaluations").where(F.col("run_id").isin(ids)).select("run_id", "fit_id", "model_age")
    for row in scored.distinct().collect():
        evaluated[str(row["run_id"])].add((str(row["fit_id"]), int(row["model_age"])))
    runs = tuple(
        EarlierRun(run, frozenset(fit_ids[run]), frozenset(evaluated[run]), _changed_periods(row, study))
        for run, row in zip(ids, earlier, strict=True)
    )
    unit = config.period.unit
    for run in runs:
        changed = sorted(run.changed_periods)
        log.info(
            "incremental: run %s may give %d fits; %d period(s) have other rows since: %s",
            run.run_id,
            len(run.fit_ids),
            len(changed),
            ", ".join(period_start(unit, p).isoformat() for p in changed[:10]) + (" ..." * (len(changed) > 10)),
        )
    return Reuse(runs)


def _changed_periods(earlier: Row, study: PreparedStudy) -> frozenset[int]:
    """The periods whose fingerprint differs between an earlier run's `runs` row and now."""
    unit = study.config.period.unit
    stored = earlier["period_fingerprints"] or {}
    before = {period_id_of(unit, dt.date.fromisoformat(day)): f for day, f in stored.items()}
    now = study.source.fingerprints
    return frozenset(p for p in before.keys() | now.keys() if before.get(p) != now.get(p))


def reused_fit_rows(store: ResultStore, reuse: Reuse, reused: Plan, asked: Plan, run_id: str) -> DataFrame:
    """The earlier runs' rows of the fits in `reused`, as rows of this run, with the analyses
    of `asked` (the plan they now serve)."""
    taken = [(reuse.fit_source(fit), fit_id, asked.analyses_of(fit_id)) for fit_id, fit in reused.fits.items()]
    keys = store.spark.createDataFrame(sorted(taken), "run_id string, fit_id string, analyses array<string>")
    return (
        store.read("fits")
        .where(F.col("run_id").isin(sorted({source for source, _, _ in taken})))
        .drop("analyses")
        .join(F.broadcast(keys), ["run_id", "fit_id"])
        .withColumn("run_id", F.lit(run_id))
    )


def reused_evaluation_rows(
    store: ResultStore, reuse: Reuse, fits: Plan, evaluations: set[EvaluationSpec], run_id: str
) -> DataFrame:
    """The earlier runs' rows (every slice) of `evaluations` (of the fits in `fits`), as rows of
    this run."""
    taken = [(reuse.evaluation_source(e, fits.fits[e.fit_id]), e.fit_id, e.model_age) for e in evaluations]
    keys = store.spark.createDataFrame(sorted(taken), "run_id string, fit_id string, model_age int")
    return (
        store.read("evaluations")
        .where(F.col("run_id").isin(sorted({source for source, _, _ in taken})))
        .join(F.broadcast(keys), ["run_id", "fit_id", "model_age"])
        .withColumn("run_id", F.lit(run_id))
    )
