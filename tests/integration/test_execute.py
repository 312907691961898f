"""Fit groups: however fits share tasks, each trains on exactly its own sample. Real Spark, real Delta."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from retrain_advisor.foundation.vocabulary import ROW_HASH
from retrain_advisor.run.prepare import prepare_study
from retrain_advisor.spark.execute import FIT, fit_samples, run_fits, training_rows
from tests.configs import study_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def delayed_study(spark, history, tmp_path_factory):
    """Late labels and caps below the windows' rows: fits sample, and skip labels not yet arrived."""
    source = history("gradual", label_delay_days=10.0)
    config = study_config(
        source,
        tmp_path_factory.mktemp("execute"),
        columns={"event_time": "event_time", "label": "label", "label_time": "label_time"},
        windows={"lookback": 6, "gap": 1, "max_age": 4, "origin_every": 2},
        comparisons={"origins": 2, "test_periods": 1, "train_sizes": [2000, 8000], "lookbacks": [2, 4]},
        limits={"max_train_rows": 8000, "max_eval_rows": 2000},
    )
    return config, prepare_study(spark, config)


def fitted(spark, config, study, fits_per_task: int) -> dict[str, tuple]:
    period = config.period
    frame = run_fits(spark, study.plan, study.source, study.context, period.unit, period.timezone, fits_per_task)
    return {r["fit_id"]: (r["status"], r["train_rows_used"], r["model"]) for r in frame.collect()}


def test_fits_sharing_a_task_train_on_exactly_their_own_rows(spark, delayed_study):
    config, study = delayed_study
    alone, shared = fitted(spark, config, study, 1), fitted(spark, config, study, 5)
    assert set(alone) == set(shared) == set(study.plan.fits)
    for fit_id in alone:
        assert alone[fit_id][:2] == shared[fit_id][:2], fit_id
        assert alone[fit_id][2] == shared[fit_id][2], f"{fit_id}: same rows and seed give the same model"

    period = config.period
    rows = training_rows(spark, study.plan, study.source, period.unit, period.timezone, config.execution.seed)
    expected = {r[FIT]: r["count"] for r in rows.groupBy(FIT).count().collect()}
    assert {f: used for f, (_, used, _) in shared.items() if used} == expected


def test_samples_are_about_the_cap_and_smaller_caps_keep_subsets(spark, delayed_study):
    config, study = delayed_study
    period = config.period
    samples = {s.fit.fit_id: s for s in fit_samples(study.plan, study.source, period.unit, period.timezone)}
    rows = training_rows(spark, study.plan, study.source, period.unit, period.timezone, config.execution.seed)
    kept = {r[FIT]: set(r["rows"]) for r in rows.groupBy(FIT).agg(F.collect_set(ROW_HASH).alias("rows")).collect()}

    sampled = [s for s in samples.values() if s.fraction < 1]
    assert len(sampled) > 5
    for sample in sampled:
        # labels still in flight at training time are not used, so a sample is at most its cap
        assert 0.75 * sample.fit.max_rows <= len(kept[sample.fit.fit_id]) <= 1.05 * sample.fit.max_rows

    nested = 0
    for small in samples.values():
        for large in samples.values():
            same_window = (small.fit.train_start, small.fit.train_stop, small.fit.train_end) == (
                large.fit.train_start,
                large.fit.train_stop,
                large.fit.train_end,
            )
            if same_window and small.fit.max_rows < large.fit.max_rows:
                assert kept[small.fit.fit_id] <= kept[large.fit.fit_id]
                nested += 1
    assert nested >= 2
