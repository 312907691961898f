"""What an incremental run may take from earlier ones: by fit id, model age and unchanged periods,
each from the newest run that has it, and only when nothing else that shapes the fits changed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from retrain_advisor.modelling.metrics import resolve_metrics
from retrain_advisor.planning.plan import History, Plan
from retrain_advisor.planning.study_plan import plan_study
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.run.reuse import EarlierRun, Reuse, inputs_key
from tests.configs import FAST_STUDY, make_config

HISTORY = History({p: 5000 for p in range(100, 130)})
SOURCE = {"task": "binary", "classes": ["0", "1"], "positive_label": "1", "numeric": ["x1", "x2"], "categorical": []}


def study(source: dict | None = None, **sections) -> PreparedStudy:
    config = make_config(FAST_STUDY, source={"path": "/data/h"}, output={"path": "/out"}, **sections)
    return PreparedStudy(
        config,
        SimpleNamespace(**{**SOURCE, **(source or {})}),  # type: ignore[arg-type]
        resolve_metrics("binary", config.metrics.names),
        "roc_auc",
        plan_study(HISTORY, config),
        None,  # type: ignore[arg-type]
    )


def test_the_inputs_key_ignores_what_does_not_shape_fits():
    key = inputs_key(study())
    assert inputs_key(study(execution={"incremental": True, "fits_per_task": 2})) == key
    assert inputs_key(study(tolerance={"absolute": 0.05}, schedule={"intervals": [1, 2]})) == key


@pytest.mark.parametrize(
    "changed",
    [
        {"sections": {"model": {"params": {"max_iter": 500}}}},
        {"sections": {"execution": {"seed": 1}}},
        {"sections": {"limits": {"max_eval_rows": 4000}}},
        {"sections": {"metrics": {"names": ["roc_auc", "brier"]}}},
        {"sections": {"estimation": {"enabled": True}}},
        {"sections": {"period": {"unit": "week", "timezone": "Europe/Paris"}}},
        {"source": {"classes": ["0", "1", "2"]}},
        {"source": {"numeric": ["x1"]}},
    ],
)
def test_the_inputs_key_changes_with_what_shapes_fits(changed):
    assert inputs_key(study(changed.get("source"), **changed.get("sections", {}))) != inputs_key(study())


def earlier(run_id: str, fits, evaluations, changed) -> Reuse:
    return Reuse((EarlierRun(run_id, frozenset(fits), frozenset(evaluations), frozenset(changed)),))


def test_reuse_takes_fits_on_unchanged_periods_and_their_evaluations_there():
    plan = study().plan
    everything = earlier("earlier", plan.fits, ((e.fit_id, e.model_age) for e in plan.evaluations), {110})
    reused = everything.of(plan)
    assert set(reused.fits) == {k for k, f in plan.fits.items() if not f.trains_on(110)}
    assert reused.evaluations == {e for e in plan.evaluations if e.fit_id in reused.fits and e.period_id != 110}
    assert earlier("earlier", (), (), ()).of(plan).fits == {}
    missing_ages = earlier("earlier", plan.fits, (), ()).of(plan)
    assert len(missing_ages.fits) == len(plan.fits) and not missing_ages.evaluations


def test_each_fit_and_evaluation_comes_from_the_newest_run_that_has_it_unchanged():
    """The newest run read period 110 with other rows than now; the one before read today's."""
    plan = study().plan
    evaluated = frozenset((e.fit_id, e.model_age) for e in plan.evaluations)
    newest = EarlierRun("newest", frozenset(plan.fits), evaluated, frozenset({110}))
    older = EarlierRun("older", frozenset(plan.fits), evaluated, frozenset())
    reuse = Reuse((newest, older))
    reused = reuse.of(plan)
    assert reused.fits == plan.fits and reused.evaluations == plan.evaluations
    for fit in plan.fits.values():
        assert reuse.fit_source(fit) == ("older" if fit.trains_on(110) else "newest")
    for e in plan.evaluations:
        reads_110 = plan.fits[e.fit_id].trains_on(110) or e.period_id == 110
        assert reuse.evaluation_source(e, plan.fits[e.fit_id]) == ("older" if reads_110 else "newest")
    assert reuse.run_ids(reused) == ["newest", "older"]
    unchanged = Plan({k: f for k, f in plan.fits.items() if not f.trains_on(110)})
    assert reuse.run_ids(unchanged) == ["newest"]
