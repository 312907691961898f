"""Decay as regret on the same period: what a model of age a loses against a fresh model on the
same rows. No Spark here.

For the decay fit trained at origin t and scored on period j = t + a, the regret is the quality
of the fresh fit of period j (same window and weighting, trained at j, scored at age 0) minus
the quality of fit t, both on period j's rows; positive means the older model is worse. Anything
that moves every model's quality over calendar time (a season, a base-rate shift, a data
incident) hits both and cancels: it is an event of the calendar, not ageing.

`change_since_fresh` is a different contrast: the fit's own quality at age 0 (on period t) minus
its quality at age a (on period j), two different periods, so the calendar counts in it. The decay
rules never read it; the drift signals are ranked on it, since it is what a monitor comparing the
serving model with its own fresh quality sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain_advisor.planning.study_plan import DecayDesign

REGRET_COLUMNS = [
    "slice_value",
    "metric",
    "greater_is_better",
    "fit_id",
    "origin",
    "model_age",
    "period_id",
    "value",
    "reference_value",
    "regret",
    "relative_regret",
    "own_fresh",
    "change_since_fresh",
    "usable",
]
_NO_SLICE = "\x00all"  # merge key for slice_value None


def regret_cells(performance: pd.DataFrame, design: DecayDesign) -> pd.DataFrame:
    """One row per (slice, metric, decay origin, age) with the regret against the same period's
    fresh fit. `usable`: both evaluations entered the aggregates."""
    frame = performance.assign(_slice=performance["slice_value"].fillna(_NO_SLICE))
    origins = pd.DataFrame({"fit_id": list(design.origin_fits.values()), "origin": list(design.origin_fits)})
    cells = frame.merge(origins, on="fit_id")
    cells = cells[cells["train_end"] == cells["origin"]]
    references = pd.DataFrame(
        {"fit_id": list(design.reference_fits.values()), "period_id": list(design.reference_fits)}
    ).merge(frame[frame["model_age"] == 0], on=["fit_id", "period_id"])
    references = references[["_slice", "metric", "period_id", "value", "usable"]].rename(
        columns={"value": "reference_value", "usable": "reference_usable"}
    )
    own_fresh = cells[cells["model_age"] == 0][["_slice", "metric", "fit_id", "value", "usable"]].rename(
        columns={"value": "own_fresh", "usable": "own_fresh_usable"}
    )
    cells = cells.merge(references, on=["_slice", "metric", "period_id"], how="left").merge(
        own_fresh, on=["_slice", "metric", "fit_id"], how="left"
    )
    sign = np.where(cells["greater_is_better"].astype(bool), 1.0, -1.0)
    value = cells["value"].to_numpy(dtype=float)
    reference = cells["reference_value"].to_numpy(dtype=float)
    usable = cells["usable"].astype(bool) & cells["reference_usable"].fillna(False).astype(bool)
    regret = np.where(usable, sign * (reference - value), np.nan)
    fresh_usable = cells["usable"].astype(bool) & cells["own_fresh_usable"].fillna(False).astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = regret / np.abs(reference)
    cells = cells.assign(
        regret=regret,
        relative_regret=np.where(np.isfinite(relative), relative, np.nan),
        change_since_fresh=np.where(fresh_usable, sign * (cells["own_fresh"].to_numpy(dtype=float) - value), np.nan),
        usable=usable.to_numpy(),
    )
    return cells[REGRET_COLUMNS].sort_values(["slice_value", "metric", "origin", "model_age"], na_position="first")
