"""What an incremental run may take from an earlier one: by fit id, model age and unchanged periods,
and only when nothing else that shapes the fits changed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from retrain_advisor.modelling.metrics import resolve_metrics
from retrain_advisor.planning.plan import History
from retrain_advisor.planning.study_plan import plan_study
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.run.reuse import Reuse, inputs_key
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


def test_reuse_takes_fits_on_unchanged_periods_and_their_evaluations_there():
    plan = study().plan
    everything = Reuse(
        "earlier",
        frozenset(plan.fits),
        frozenset((e.fit_id, e.model_age) for e in plan.evaluations),
        frozenset({110}),
    )
    reused = everything.of(plan)
    assert set(reused.fits) == {k for k, f in plan.fits.items() if not f.trains_on(110)}
    assert reused.evaluations == {e for e in plan.evaluations if e.fit_id in reused.fits and e.period_id != 110}
    assert Reuse("earlier", frozenset(), frozenset(), frozenset()).of(plan).fits == {}
    missing_ages = Reuse("earlier", frozenset(plan.fits), frozenset(), frozenset()).of(plan)
    assert len(missing_ages.fits) == len(plan.fits) and not missing_ages.evaluations
