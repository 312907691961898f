"""The plan as a user's own script would run it: read the table from disk, cut every window, fit and score.

The other baselines get the engine's sampled rows in memory. This one starts from the Delta table
on disk, as a script written without the tool would: it reads the columns it needs with delta-rs
into pandas, drops rows without a time or a label, gives each row its period, and then, one by
one, takes each fit's window (only the labels known at its training end), samples it down to the
fit's cap, fits, and scores every period on its own sample with the models planned on it. The
kernels are the tool's own, so the work per model is the same; the samples are pandas' own, so
the metrics differ from the engine's by sampling noise only (the caller reports the gap).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from deltalake import DeltaTable

from bench.baselines import Scores
from retrain_advisor.foundation.periods import period_id_of
from retrain_advisor.foundation.vocabulary import OK, PERIOD, ROW_HASH, TARGET
from retrain_advisor.modelling.kernels import ScoringRows, fit_model, score_model
from retrain_advisor.run.prepare import PreparedStudy
from retrain_advisor.spark.execute import fit_samples


@dataclass(frozen=True)
class UserScriptRun:
    seconds: float  # wall time, from opening the table to the last score
    read_seconds: float  # of which reading the table and giving each row its period
    scores: Scores


def read_history(path: str, study: PreparedStudy) -> pd.DataFrame:
    """The labelled rows with their period and target, as a pandas script prepares them."""
    cols, period = study.config.columns, study.config.period
    features = study.source.numeric + study.source.categorical
    wanted = [cols.event_time, cols.label, *([cols.label_time] if cols.label_time else []), *features]
    rows = DeltaTable(path).to_pandas(columns=wanted)
    rows = rows.dropna(subset=[cols.event_time, cols.label])
    local = pd.to_datetime(rows[cols.event_time], utc=True).dt.tz_convert(period.timezone)
    days = local.dt.date
    rows[PERIOD] = days.map({day: period_id_of(period.unit, day) for day in days.unique()}).astype("int64")
    if study.source.task == "binary":
        rows[TARGET] = (rows[cols.label].astype(str) == study.source.positive_label).astype("int64")
    elif study.source.task == "multiclass":
        rows[TARGET] = rows[cols.label].astype(str)
    else:
        rows[TARGET] = rows[cols.label].astype(float)
    if cols.label_time:
        known = pd.to_datetime(rows[cols.label_time], utc=True)
        rows["known_at"] = known.fillna(pd.to_datetime(rows[cols.event_time], utc=True)).astype("int64") // 1_000
    rows[ROW_HASH] = np.arange(len(rows))
    return rows


def user_script(path: str, study: PreparedStudy, metric: str) -> UserScriptRun:
    """Read, then fit every planned model and score it on every planned period, in one process."""
    plan, ctx, config = study.plan, study.context, study.config
    seed = config.execution.seed
    started = time.perf_counter()
    rows = read_history(path, study)
    read = time.perf_counter() - started
    by_period = dict(tuple(rows.groupby(PERIOD)))
    models: dict[str, bytes] = {}
    for sample in fit_samples(plan, study.source, config.period.unit, config.period.timezone):
        fit = sample.fit
        window = pd.concat([by_period[p] for p in sample.periods if p in by_period])
        if "known_at" in window:
            window = window[window["known_at"] <= sample.trained_at]
        window = window.sample(n=min(fit.max_rows, len(window)), random_state=seed)
        outcome = fit_model(window, fit, ctx)
        if outcome.status == OK and outcome.model is not None:
            models[fit.fit_id] = outcome.model
    scores: Scores = {}
    for period, fit_ids in sorted(plan.fits_scored_on().items()):
        scored = by_period[period]
        scored = scored.sample(n=min(config.limits.max_eval_rows, len(scored)), random_state=seed)
        prepared = ScoringRows.prepare(scored, ctx)
        for fit_id in fit_ids:
            if fit_id in models:
                value = score_model(prepared, models[fit_id], ctx).metrics.get(metric)
                scores[(fit_id, period - plan.fits[fit_id].train_end)] = value
    return UserScriptRun(time.perf_counter() - started, read, scores)
