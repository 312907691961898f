"""The decay curve: per model age, the quality across origins and the regret against a fresh
model on the same period, with intervals that allow for dependent origins and few of them.
No Spark here.

The origins of one age are a time series (consecutive origins share training data and the
concept changes they are scored on), so every interval is `serial_mean` over origins in time
order. Ages measured on fewer origins than `min_origins` are kept in the table and left out of
every decision (`analyses/decay/rules.py`). Cells that straddle a calendar event (trained before
it, scored after) are the event's, not ageing's: they are counted and left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import MeanEstimate, serial_mean

CURVE_KEY = ["slice_value", "metric", "season", "model_age"]


def decay_curve(
    cells: pd.DataFrame,
    tolerance: ToleranceConfig,
    season_of: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """One row per (slice, metric, season, age): season None pools every origin; with
    `season_of` (origin -> season label) each season's origins also get their own rows.
    `cells` may flag `straddles_event`: those are counted and left out of the statistics."""
    if "straddles_event" not in cells:
        cells = cells.assign(straddles_event=False)
    groups = [cells.assign(season=None)]
    if season_of:
        groups.append(cells.assign(season=cells["origin"].map(season_of)).dropna(subset=["season"]))
    rows = []
    for frame in groups:
        keys = frame["slice_value"].fillna(""), frame["metric"], frame["season"].fillna(""), frame["model_age"]
        for _, group in frame.groupby(list(keys), sort=True):
            rows.append(_age_row(group.sort_values("origin"), tolerance))
    columns = [*CURVE_KEY, "greater_is_better", *_STATISTICS]
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


_STATISTICS = [
    "n_origins",
    "n_excluded",
    "n_straddling",
    "mean",
    "q25",
    "median",
    "q75",
    "ci_low",
    "ci_high",
    "mean_regret",
    "regret_q25",
    "regret_q75",
    "regret_ci_low",
    "regret_ci_high",
    "mean_relative_regret",
    "relative_regret_ci_low",
    "relative_regret_ci_high",
    "prob_within_tolerance",
    "mean_change_since_fresh",
    "confidence",
]


def _age_row(group: pd.DataFrame, tolerance: ToleranceConfig) -> dict[str, object]:
    first = group.iloc[0]
    straddling = group["straddles_event"].astype(bool)
    group = group[~straddling]
    usable = group[group["usable"]]
    confidence = tolerance.confidence
    level = serial_mean(usable["value"].to_numpy(dtype=float))
    regret = serial_mean(usable["regret"].to_numpy(dtype=float))
    relative = serial_mean(usable["relative_regret"].to_numpy(dtype=float))
    values = usable["value"].to_numpy(dtype=float)
    regrets = usable["regret"].to_numpy(dtype=float)
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75]) if len(values) else (np.nan,) * 3
    regret_q25, regret_q75 = np.quantile(regrets, [0.25, 0.75]) if len(regrets) else (np.nan,) * 2
    return {
        "slice_value": first["slice_value"],
        "metric": first["metric"],
        "season": first["season"],
        "model_age": int(first["model_age"]),
        "greater_is_better": bool(first["greater_is_better"]),
        "n_origins": int(len(usable)),
        "n_excluded": int(len(group) - len(usable)),
        "n_straddling": int(straddling.sum()),
        "mean": level.mean,
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
        "ci_low": level.interval(confidence)[0],
        "ci_high": level.interval(confidence)[1],
        "mean_regret": regret.mean,
        "regret_q25": float(regret_q25),
        "regret_q75": float(regret_q75),
        "regret_ci_low": regret.interval(confidence)[0],
        "regret_ci_high": regret.interval(confidence)[1],
        "mean_relative_regret": relative.mean,
        "relative_regret_ci_low": relative.interval(confidence)[0],
        "relative_regret_ci_high": relative.interval(confidence)[1],
        "prob_within_tolerance": 1.0  # the fresh model is its own reference, as in the shelf-life rule
        if int(first["model_age"]) == 0
        else prob_within(regret, relative, level, tolerance, bool(first["greater_is_better"])),
        "mean_change_since_fresh": _mean_of_known(group["change_since_fresh"].to_numpy(dtype=float)),
        "confidence": confidence,
    }


def prob_within(
    regret: MeanEstimate,
    relative: MeanEstimate,
    level: MeanEstimate,
    tolerance: ToleranceConfig,
    greater_is_better: bool,
) -> float:
    """How sure the mean regret at this age is within every tolerance that is set (the least
    sure of them)."""
    chances = []
    if tolerance.absolute is not None:
        chances.append(regret.probability_at_most(tolerance.absolute))
    if tolerance.relative is not None:
        chances.append(relative.probability_at_most(tolerance.relative))
    if tolerance.floor is not None:
        below = level.probability_at_most(tolerance.floor)
        chances.append(1 - below if greater_is_better else below)
    known = [c for c in chances if np.isfinite(c)]
    return min(known) if known and len(known) == len(chances) else np.nan


def _mean_of_known(values: np.ndarray) -> float:
    known = values[np.isfinite(values)]
    return float(known.mean()) if len(known) else np.nan
