"""Question 1 from the performance matrix: regret cells, calendar events, the decay curve, the
shelf life and the pattern, for all rows and each slice. No Spark here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.analyses.decay.curve import decay_curve
from retrain_advisor.analyses.decay.events import CalendarEvent, calendar_events, spans_event
from retrain_advisor.analyses.decay.pattern import decay_pattern
from retrain_advisor.analyses.decay.regret import regret_cells
from retrain_advisor.analyses.decay.rules import ShelfLife, shelf_life
from retrain_advisor.analyses.performance import of_metric, slice_values
from retrain_advisor.foundation.config import ToleranceConfig
from retrain_advisor.foundation.statistics import Dependence, acceptable_drop, estimate_dependence
from retrain_advisor.foundation.vocabulary import ABRUPT
from retrain_advisor.modelling.metrics import Metric
from retrain_advisor.planning.study_plan import DecayDesign


@dataclass(frozen=True)
class SliceDecay:
    """What the recommendation reads of one slice's decay (the primary metric)."""

    shelf: ShelfLife
    pattern: str
    shape: str | None
    fresh_quality: float
    limit: float  # the tolerance as one absolute regret at the fresh quality
    events: list[CalendarEvent]
    explained_by_events: bool
    seasons: dict[str, ShelfLife]
    measured_ages: int  # ages >= 1 measured on at least min_origins origins
    level_dependence: Dependence  # of the fresh quality from period to period (what hits every model)


@dataclass(frozen=True)
class DecayResult:
    cells: pd.DataFrame  # regret cells of every metric, with `straddles_event`
    curve: pd.DataFrame  # the decay_curve rows
    shelf_life: pd.DataFrame  # the shelf_life rows: pooled per slice and season, then per origin
    events: pd.DataFrame  # the calendar_events rows
    by_slice: dict[str | None, SliceDecay]


def analyse_decay(
    performance: pd.DataFrame,
    design: DecayDesign,
    primary: Metric,
    tolerance: ToleranceConfig,
    season_of: Mapping[int, str] | None = None,
) -> DecayResult:
    cells = regret_cells(performance, design)
    cells["straddles_event"] = False
    limits, events, levels, fresh = {}, {}, {}, {}
    for key in slice_values(performance):
        primary_rows = of_metric(performance, primary.name, key)
        fresh[key] = _fresh_quality(primary_rows, design)
        limits[key] = acceptable_drop(tolerance, fresh[key], primary.greater_is_better)
        events[key] = calendar_events(primary_rows, design, limits[key], tolerance.confidence)
        levels[key] = _level_dependence(primary_rows, design, events[key])
        same_slice = cells["slice_value"].isna() if key is None else cells["slice_value"] == key
        starts = cells.loc[same_slice, "origin"].map(design.train_starts).fillna(cells.loc[same_slice, "origin"])
        cells.loc[same_slice, "straddles_event"] = spans_event(starts, cells.loc[same_slice, "period_id"], events[key])
    curve = decay_curve(cells, tolerance, season_of)
    by_slice, shelf_rows, event_rows = {}, [], []
    for key in slice_values(performance):
        basis = SliceBasis(fresh[key], limits[key], events[key], levels[key])
        result = _slice_decay(curve, cells, primary, tolerance, key, basis)
        by_slice[key] = result
        shelf_rows += _pooled_rows(result, primary.name, key)
        event_rows += [
            {
                "slice_value": key,
                "metric": primary.name,
                "period_id": e.period_id,
                "drop": e.drop,
                "fresh_drop": e.fresh_drop,
                "n_periods": e.n_periods,
                "n_models": e.n_models,
                "retraining_recovers": e.retraining_recovers,
                "recovery_periods": e.recovery_periods,
                "explains_decay": result.explained_by_events,
            }
            for e in result.events
        ]
    origin_rows = _origin_rows(cells[cells["metric"] == primary.name], tolerance, limits)
    return DecayResult(
        cells, curve, pd.DataFrame(shelf_rows + origin_rows), pd.DataFrame(event_rows, columns=EVENT_COLUMNS), by_slice
    )


EVENT_COLUMNS = [
    "slice_value",
    "metric",
    "period_id",
    "drop",
    "fresh_drop",
    "n_periods",
    "n_models",
    "retraining_recovers",
    "recovery_periods",
    "explains_decay",
]


def _fresh_quality(rows: pd.DataFrame, design: DecayDesign) -> float:
    """The mean quality of the fresh fits on their own periods."""
    fresh = rows[rows["fit_id"].isin(set(design.reference_fits.values())) & (rows["model_age"] == 0) & rows["usable"]]
    return float(fresh["value"].mean()) if len(fresh) else np.nan


@dataclass(frozen=True)
class SliceBasis:
    """What one slice's decay is measured against: the fresh models' quality on their own
    periods, the tolerance as one loss from it, the calendar events, the dependence of levels."""

    fresh_quality: float
    limit: float
    events: list[CalendarEvent]
    level_dependence: Dependence


def _slice_decay(
    curve: pd.DataFrame,
    cells: pd.DataFrame,
    primary: Metric,
    tolerance: ToleranceConfig,
    key: str | None,
    basis: SliceBasis,
) -> SliceDecay:
    rows = curve[(curve["metric"] == primary.name) & _same_slice(curve, key)]
    pooled = rows[rows["season"].isna()]
    primary_cells = cells[(cells["metric"] == primary.name) & _same_slice(cells, key)]
    straddling = primary_cells[primary_cells["straddles_event"] & primary_cells["usable"]]
    straddling_regret = float(straddling["regret"].mean()) if len(straddling) else None
    pattern, shape = decay_pattern(pooled, basis.limit, tolerance.min_origins, straddling_regret)
    seasons = {
        str(season): shelf_life(group, tolerance, primary.greater_is_better)
        for season, group in rows[rows["season"].notna()].groupby("season", sort=True)
    }
    return SliceDecay(
        shelf=shelf_life(pooled, tolerance, primary.greater_is_better),
        pattern=pattern,
        shape=shape,
        fresh_quality=basis.fresh_quality,
        limit=basis.limit,
        events=basis.events,
        explained_by_events=pattern == ABRUPT,
        seasons=seasons,
        measured_ages=int(((pooled["model_age"] >= 1) & (pooled["n_origins"] >= tolerance.min_origins)).sum()),
        level_dependence=basis.level_dependence,
    )


def _level_dependence(rows: pd.DataFrame, design: DecayDesign, events: list[CalendarEvent]) -> Dependence:
    """The dependence of the fresh quality from period to period: how persistent the conditions
    that hit every model are (a long series, so measured better than on a replay's). Each stretch
    between calendar events is centred on its own mean: a dated step is not persistence."""
    fresh = rows[rows["fit_id"].isin(set(design.reference_fits.values())) & (rows["model_age"] == 0) & rows["usable"]]
    fresh = fresh.sort_values("period_id")
    starts = sorted(period for event in events for period in event.periods)
    stretch = np.searchsorted(starts, fresh["period_id"].to_numpy(), side="right")
    centred = fresh["value"] - fresh.groupby(stretch)["value"].transform("mean").to_numpy()
    return estimate_dependence(centred.to_numpy(dtype=float))


def _same_slice(frame: pd.DataFrame, key: str | None) -> pd.Series:
    return frame["slice_value"].isna() if key is None else frame["slice_value"] == key


def _pooled_rows(result: SliceDecay, metric: str, key: str | None) -> list[dict[str, object]]:
    explaining = result.events[0].period_id if result.explained_by_events and result.events else None
    pooled = {
        **_shelf_columns(result.shelf),
        "slice_value": key,
        "metric": metric,
        "season": None,
        "decay_pattern": result.pattern,
        "decay_shape": result.shape,
        "event_period_id": explaining,
        "fresh_quality": result.fresh_quality,
    }
    seasons = [
        {**_shelf_columns(shelf), "slice_value": key, "metric": metric, "season": season}
        for season, shelf in result.seasons.items()
    ]
    return [pooled, *seasons]


def _shelf_columns(shelf: ShelfLife) -> dict[str, object]:
    return {
        "shelf_life_periods": shelf.periods,
        "is_censored": shelf.censored,
        "breach": shelf.breach,
        "within_tolerance_periods": shelf.within_periods,
        "max_age_tested": shelf.max_age_tested,
    }


def _origin_rows(
    cells: pd.DataFrame, tolerance: ToleranceConfig, limits: Mapping[str | None, float]
) -> list[dict[str, object]]:
    """Each origin's own regret, event cells included: a single origin has no interval, so its
    shelf life is the first age its regret exceeds the tolerance `persistence` ages in a row."""
    rows = []
    for (_, fit_id), group in cells.groupby([cells["slice_value"].fillna(""), "fit_id"], sort=True):
        group = group[group["usable"]].sort_values("model_age")
        if group.empty:
            continue
        key = group["slice_value"].iloc[0]
        limit = limits.get(None if pd.isna(key) else key, np.nan)
        over = dict(zip(group["model_age"].astype(int), group["regret"] > limit, strict=True))
        max_age = int(group["model_age"].max())
        breach = next(
            (a for a in sorted(over) if a >= 1 and all(over.get(a + k, False) for k in range(tolerance.persistence))),
            None,
        )
        within = 1  # ages 1, 2, ... while each is measured and within the limit
        while within in over and not over[within]:
            within += 1
        rows.append(
            {
                "slice_value": None if pd.isna(key) else key,
                "metric": group["metric"].iloc[0],
                "season": None,
                "fit_id": fit_id,
                "origin_period_id": int(group["origin"].iloc[0]),
                "shelf_life_periods": max_age + 1 if breach is None else breach,
                "is_censored": breach is None,
                "breach": None if breach is None else "limit",
                "within_tolerance_periods": within,
                "max_age_tested": max_age,
                "fresh_quality": float(group.loc[group["model_age"] == 0, "value"].iloc[0])
                if (group["model_age"] == 0).any()
                else np.nan,
            }
        )
    return rows
