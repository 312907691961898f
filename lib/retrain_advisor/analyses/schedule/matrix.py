"""Question 5, how often to retrain: what the replay reads. No Spark here.

The matrix of the schedule's fits (one per period, scored at every age a policy may serve it)
is taken from the performance matrix, and the drift of the signals that trigger retraining
from feature_drift; every policy is replayed on them (`schedule.replay`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.analyses.drift.signals import drift_values
from retrain_advisor.analyses.schedule.replay import PolicyResult, ReplaySettings, replay
from retrain_advisor.foundation.frames import by_slice
from retrain_advisor.foundation.vocabulary import LABEL, SCHEDULE, Analysis
from retrain_advisor.planning.plan import Plan
from retrain_advisor.planning.study_plan import ReplayDesign

# A drift signal is replayed as a trigger only when it separates breaches from the rest of the
# same model age this well (an age-only rule scores 0.5).
MIN_AUC = 0.7


def schedule_matrix(
    performance: pd.DataFrame, plan: Plan, metric: str, design: ReplayDesign, analysis: Analysis = SCHEDULE
) -> pd.DataFrame:
    """(slice_value, train_end, period_id, value, rows, fit_ok, estimate) of the schedule's fits
    (or the joint replay's) on the replayed periods, at the ages a policy may serve them; `value`
    is NaN when the evaluation is not usable (too small, failed), `rows` the period's labelled
    rows, `estimate` the value estimated without labels (which needs no usable labels)."""
    fits = {a.fit_id for a in plan.arms if a.analysis == analysis}
    rows = performance[
        (performance["metric"] == metric)
        & performance["fit_id"].isin(fits)
        & (performance["model_age"] < design.max_age)
        & performance["period_id"].between(design.start, design.last)
    ]
    return pd.DataFrame(
        {
            "slice_value": rows["slice_value"],
            "train_end": rows["train_end"],
            "period_id": rows["period_id"],
            "value": np.where(rows["usable"], rows["value"], np.nan),
            "rows": rows["rows"],
            "fit_ok": rows["fit_ok"],
            "estimate": rows["estimate"],
        }
    )


def drift_matrix(drift: pd.DataFrame, plan: Plan, signals: list[str]) -> dict[str, dict[tuple[int, int], float]]:
    """The named drift signals of the schedule's fits: signal -> (train_end, period_id) -> value, from the
    BASELINE rows of feature_drift (each scored period against the fit's training window)."""
    if not signals:
        return {}
    train_ends = {a.fit_id: a.train_end for a in plan.arms if a.analysis == SCHEDULE}
    values = drift_values(drift[drift["fit_id"].isin(list(train_ends))])
    cells = values.assign(train_end=values["fit_id"].map(train_ends))
    cells["period_id"] = cells["train_end"] + cells["model_age"]
    return {
        signal: {
            (int(t), int(j)): float(v)
            for t, j, v in zip(cells["train_end"], cells["period_id"], cells[signal], strict=True)
            if v == v  # NaN: no drift value
        }
        for signal in signals
        if signal in cells.columns
    }


def drift_triggers(signals: list[dict[str, Any]], count: int) -> list[tuple[str, float]]:
    """(signal, alert threshold) of the `count` best-ranked drift signals that predict a breach
    well beyond what the model's age tells. Label drift is left out: it is known only once the
    labels are in, and a quality trigger already watches what the labels say."""
    usable_signals = [
        s
        for s in sorted(signals, key=lambda s: s["rank"])
        if s["alert_threshold"] is not None and s["auc_within_age"] >= MIN_AUC and s["column_role"] != LABEL
    ]
    return [(s["signal"], float(s["alert_threshold"])) for s in usable_signals[:count]]


def replay_slices(
    matrix: pd.DataFrame,
    settings: Callable[[str | None], ReplaySettings],
    drift: dict[str, dict[tuple[int, int], float]] | None = None,
) -> dict[str | None, list[PolicyResult]]:
    """Every policy replayed for all rows (key None) and for each slice, with that slice's
    settings. Every model serves all rows, so a drift trigger watches the drift of all rows in
    every slice."""
    results: dict[str | None, list[PolicyResult]] = {}
    for key, cells in by_slice(matrix):
        fits = {int(t) for t in cells.loc[cells["fit_ok"], "train_end"]}
        results[key] = replay(cells.assign(value=cells["value"].astype(float)), fits, settings(key), drift)
    return results
