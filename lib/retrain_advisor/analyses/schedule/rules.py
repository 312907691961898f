"""Question 5, how often to retrain: the shortest feasible interval and the choice of policy from
the replayed schedules. No Spark here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.schedule.replay import PolicyResult, summarize_intervals
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.statistics import weighted_interval
from retrain_advisor.foundation.vocabulary import DRIFT, PERIODIC, TRIGGER


@dataclass(frozen=True)
class Choice:
    policy: str
    interval: int
    trigger_drop: float | None
    quality: float
    quality_interval: tuple[float, float]
    cost: float | None
    raised_to_feasible: bool
    below_feasible: bool = False  # even the longest replayed interval is shorter than the feasible minimum
    drift_signal: str | None = None
    drift_threshold: float | None = None


def feasible_interval(arrival: ArrivalSummary, min_train_periods: int) -> tuple[int, str]:
    candidates = {
        "batch cadence": arrival.batch_cadence_periods,
        "label delay": arrival.label_delay_periods,
        "training size": min_train_periods,
    }
    limited_by = max(candidates, key=lambda k: candidates[k])
    return max(1, candidates[limited_by]), limited_by


def _served_interval(results: list[PolicyResult], confidence: float, samples: int, seed: int) -> tuple[float, float]:
    """Interval of the row-weighted mean quality, resampling replayed periods; a period's value is
    the mean over the policies (the offsets of one interval) that measured it."""
    by_period: dict[int, list[float]] = {}
    rows: dict[int, int] = {}
    for result in results:
        for served in result.periods:
            if not math.isnan(served.value):
                by_period.setdefault(served.period_id, []).append(served.value)
                rows[served.period_id] = served.rows
    periods = sorted(by_period)
    values = np.array([np.mean(by_period[p]) for p in periods])
    weights = np.array([rows[p] for p in periods], dtype=float)
    return weighted_interval(values, weights, confidence, samples, seed)


def choose_schedule(
    results: list[PolicyResult], minimum: int, limit: float, shelf_life: int | None, config: StudyConfig
) -> tuple[Choice, pd.DataFrame]:
    """The recommended policy, and the per-interval summary it was chosen from.

    Without costs, an interval must keep the replayed average within tolerance of retraining
    every period and, when the shelf life was measured, no longer than it: an average within
    tolerance may still hide models serving well past the age their quality breaks down.
    """
    summary = summarize_intervals(results).sort_values("interval")
    intervals = summary["interval"].to_numpy()
    within = (summary["mean_diff"] >= -limit).to_numpy() & (intervals <= (shelf_life or np.inf))
    with_costs = config.schedule.cost_per_retrain is not None
    if with_costs:
        feasible = summary[summary["interval"] >= minimum]
        chosen = int((feasible if len(feasible) else summary).sort_values("total_cost").iloc[0]["interval"])
    else:
        prefix = int(np.argmin(within)) if not within.all() else len(within)
        chosen = int(intervals[max(prefix - 1, 0)])
    raised = chosen < minimum
    below = bool(intervals.max() < minimum)
    if raised:
        above = intervals[intervals >= minimum]
        chosen = int(above.min()) if len(above) else int(intervals.max())
    periodic = [r for r in results if r.policy.kind == PERIODIC and r.policy.interval == chosen]
    row = summary[summary["interval"] == chosen].iloc[0]

    def quality_interval(served_by: list[PolicyResult]) -> tuple[float, float]:
        samples, seed = config.execution.bootstrap_samples, config.execution.seed
        return _served_interval(served_by, config.tolerance.confidence, samples, seed)

    cost = None if not with_costs else float(row["total_cost"])
    quality = float(row["mean_quality"])
    choice = Choice(PERIODIC, chosen, None, quality, quality_interval(periodic), cost, raised, below)
    triggers = [r for r in results if r.policy.kind in (TRIGGER, DRIFT) and r.mean_diff >= -limit]
    if triggers:
        key = (lambda r: r.total_cost) if with_costs else (lambda r: (r.n_retrains, -r.mean_quality))
        best = min(triggers, key=key)
        beats = (best.total_cost or 0) < (choice.cost or 0) if with_costs else best.n_retrains < row["n_retrains"]
        if beats and not raised:
            policy = best.policy
            choice = Choice(
                policy.kind,
                chosen,
                policy.trigger_drop,
                best.mean_quality,
                quality_interval([best]),
                best.total_cost,
                False,
                drift_signal=policy.signal,
                drift_threshold=policy.threshold,
            )
    return choice, summary
