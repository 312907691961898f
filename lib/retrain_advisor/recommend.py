"""The recommendation: one decision per slice from the five analyses, with the numbers behind it.

Pure Python over small tables. The rules, in order:
- minimum training size: the smallest learning-curve size within tolerance of the largest;
- minimum feasible interval: the longest of the batch cadence, the label delay and the periods
  needed to collect the minimum training size;
- interval: the longest one such that it and every shorter one stay within tolerance of
  retraining every period and no longer than a measured shelf life (the cheapest with costs),
  never below the feasible minimum;
- policy: a quality or drift trigger instead, when one stays within tolerance with fewer retrains
  (or costs less);
- lookback: drop old data when a shorter lookback is reliably better than all history, or
  reliably no worse than the tolerance; down-weight when a half-life arm beats both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrain_advisor.arrival import ArrivalSummary
from retrain_advisor.config import PeriodUnit, StudyConfig
from retrain_advisor.designs import ROWS
from retrain_advisor.schedule import DRIFT, PERIODIC, TRIGGER, PolicyResult, summarize_intervals, weighted_interval
from retrain_advisor.shelf_life import acceptable_drop

KEEP_ALL = "keep_all"
DROP_OLDER = "drop_older"
DOWN_WEIGHT = "down_weight"


@dataclass(frozen=True)
class Evidence:
    """One slice's results, as the recommendation reads them."""

    metric: str
    greater_is_better: bool
    shelf: dict[str, Any] | None  # the pooled shelf_life row
    arrival: ArrivalSummary
    learning_curve: pd.DataFrame  # learning_curve rows
    windows: pd.DataFrame  # window_comparison rows
    schedule: list[PolicyResult]
    rows_per_period: float  # labelled rows per period of all rows, which every model trains on


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


def _plural(n: float, unit: PeriodUnit) -> str:
    return f"{n:g} {unit}" + ("" if n == 1 else "s")


def minimum_training_size(curve: pd.DataFrame) -> tuple[int | None, bool]:
    """(rows the smallest arm within tolerance of the largest trained on, whether the curve still
    climbs at its end)."""
    rows = curve[curve["axis"] == ROWS].sort_values("train_rows_max")
    if rows.empty:
        return None, False
    chosen = rows[rows["is_minimum"]] if rows["is_minimum"].any() else rows.tail(1)
    climbing = len(rows) >= 2 and not bool(rows.iloc[-2]["is_within_tolerance"])
    return int(round(float(chosen["train_rows_used"].iloc[0]))), climbing


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


@dataclass(frozen=True)
class LookbackVerdict:
    verdict: str
    lookback: int | None = None
    half_life: float | None = None
    mean_diff: float = 0.0  # the chosen arm against all history; positive = better
    diff_interval: tuple[float, float] = (0.0, 0.0)


def lookback_verdict(windows: pd.DataFrame, tolerance_limit: float) -> LookbackVerdict:
    """Keep all, drop older than L, or down-weight, from the paired differences against all history."""
    arms = windows[~windows["is_reference"].astype(bool)].dropna(subset=["mean_diff"])
    best = arms.sort_values("mean_diff", ascending=False).head(1)
    harmless = arms[arms["half_life_periods"].isna() & (arms["diff_ci_low"] >= -tolerance_limit)]
    if len(best) and best.iloc[0]["diff_ci_low"] > 0:
        chosen = best.iloc[0]
    elif len(harmless):
        chosen = harmless.sort_values("lookback_periods").iloc[0]
    else:
        return LookbackVerdict(KEEP_ALL)
    interval = (float(chosen["diff_ci_low"]), float(chosen["diff_ci_high"]))
    if not pd.isna(chosen["half_life_periods"]):
        return LookbackVerdict(DOWN_WEIGHT, None, float(chosen["half_life_periods"]), chosen["mean_diff"], interval)
    return LookbackVerdict(DROP_OLDER, int(chosen["lookback_periods"]), None, float(chosen["mean_diff"]), interval)


def recommend(evidence: Evidence, config: StudyConfig) -> dict[str, Any]:
    """The recommendations row of one slice (without run and slice columns)."""
    unit, tolerance = config.period.unit, config.tolerance
    shelf = evidence.shelf or {}
    arrival = evidence.arrival
    min_rows, climbing = minimum_training_size(evidence.learning_curve)
    per_period = max(evidence.rows_per_period, 1.0)
    min_periods = max(1, math.ceil(min_rows / per_period)) if min_rows is not None else 1
    minimum, limited_by = feasible_interval(arrival, min_periods)

    every = next((r for r in evidence.schedule if r.policy.kind == PERIODIC and r.policy.interval == 1), None)
    quality_every = every.mean_quality if every else float("nan")
    limit = acceptable_drop(tolerance, quality_every, evidence.greater_is_better)
    measured_life = None if shelf.get("is_censored", True) else shelf.get("shelf_life_periods")
    choice, summary = choose_schedule(evidence.schedule, minimum, limit, measured_life, config)

    reference = evidence.windows.loc[evidence.windows["is_reference"].astype(bool), "mean"]
    reference_value = float(reference.iloc[0]) if len(reference) else float("nan")
    window_limit = acceptable_drop(tolerance, reference_value, evidence.greater_is_better)
    lookback = lookback_verdict(evidence.windows, window_limit)

    shelf_periods = shelf.get("shelf_life_periods")
    censored = shelf.get("is_censored")
    decays_first = bool(shelf_periods is not None and not censored and shelf_periods < minimum)
    row = {
        "metric": evidence.metric,
        "fresh_quality": shelf.get("fresh_quality"),
        "shelf_life_periods": shelf_periods,
        "shelf_life_censored": censored,
        "decay_pattern": shelf.get("decay_pattern"),
        "batch_cadence_periods": arrival.batch_cadence_periods,
        "label_delay_periods": arrival.label_delay_periods,
        "min_train_rows": min_rows,
        "min_train_periods": min_periods,
        "more_data_would_help": climbing,
        "min_feasible_interval_periods": minimum,
        "feasible_interval_limited_by": limited_by,
        "decays_before_new_data": decays_first,
        "recommended_interval_periods": choice.interval,
        "recommended_policy": choice.policy,
        "recommended_trigger_drop": choice.trigger_drop,
        "recommended_drift_signal": choice.drift_signal,
        "recommended_drift_threshold": choice.drift_threshold,
        "lookback_verdict": lookback.verdict,
        "recommended_lookback_periods": lookback.lookback,
        "recommended_half_life_periods": lookback.half_life,
        "expected_quality": choice.quality,
        "expected_quality_ci_low": choice.quality_interval[0],
        "expected_quality_ci_high": choice.quality_interval[1],
        "quality_every_period": quality_every,
        "expected_cost": choice.cost,
        "confidence": tolerance.confidence,
    }
    row["rationale"] = rationale(row, summary, limit, unit, choice, lookback)
    return row


def rationale(
    row: dict[str, Any],
    summary: pd.DataFrame,
    limit: float,
    unit: PeriodUnit,
    choice: Choice,
    lookback: LookbackVerdict,
) -> str:
    """Plain sentences that quote the numbers behind the recommendation."""
    metric, interval = row["metric"], row["recommended_interval_periods"]
    parts = []
    if choice.policy == TRIGGER:
        parts.append(
            f"Retrain when the measured {metric} of the serving model drops by more than "
            f"{choice.trigger_drop:g} from its fresh value, and at the latest every "
            f"{_plural(int(summary['interval'].max()), unit)} (on a calendar: every {_plural(interval, unit)})."
        )
    elif choice.policy == DRIFT:
        parts.append(
            f"Retrain when the drift signal {choice.drift_signal} of the last complete {unit} against the serving "
            f"model's training window reaches {choice.drift_threshold:.3g}, and at the latest every "
            f"{_plural(int(summary['interval'].max()), unit)} (on a calendar: every {_plural(interval, unit)}). "
            "Drift needs no labels, so it acts before the quality can be measured."
        )
    else:
        parts.append(f"Retrain every {_plural(interval, unit)}.")
    if row["shelf_life_periods"] is not None:
        life = _plural(row["shelf_life_periods"], unit)
        stays = f"at least {life}" if row["shelf_life_censored"] else life
        parts.append(
            f"A fresh model scores {row['fresh_quality']:.3f} {metric} and stays within tolerance for {stays} "
            f"({row['decay_pattern']} decay)."
        )
    confidence = f"{row['confidence']:.0%}"
    parts.append(
        f"Replayed on history, this policy averages {row['expected_quality']:.3f} "
        f"({confidence} interval {row['expected_quality_ci_low']:.3f} to {row['expected_quality_ci_high']:.3f}), "
        f"against {row['quality_every_period']:.3f} when retraining every {unit}; the tolerance is {limit:.3g}."
    )
    longer = summary[summary["interval"] > interval]
    if len(longer) and choice.cost is None:
        next_row = longer.iloc[0]
        life = row["shelf_life_periods"]
        past_shelf_life = (
            f", and its models would serve past their {life}-{unit} shelf life"
            if life is not None and not row["shelf_life_censored"] and next_row["interval"] > life
            else ""
        )
        parts.append(
            f"Every {_plural(int(next_row['interval']), unit)} would lose {-next_row['mean_diff']:.3f} "
            f"against retraining every {unit}{past_shelf_life}."
        )
    if row["expected_cost"] is not None:
        parts.append(f"Its expected cost over the replay is {row['expected_cost']:.4g}.")
    parts.append(
        f"New labelled data arrives every {_plural(row['batch_cadence_periods'], unit)}, labels take "
        f"{_plural(row['label_delay_periods'], unit)} to arrive, and {row['min_train_rows']} rows "
        f"({_plural(row['min_train_periods'], unit)} of data) come within tolerance of the largest training size"
        f"{'; more data would still help' if row['more_data_would_help'] else ''}, so the shortest feasible "
        f"interval is {_plural(row['min_feasible_interval_periods'], unit)} (set by the "
        f"{row['feasible_interval_limited_by']})."
    )
    if choice.below_feasible:
        parts.append(
            f"Even the longest replayed interval, {_plural(interval, unit)}, is shorter than that minimum: "
            "replay longer intervals (schedule.intervals, windows.max_age) to measure a feasible one."
        )
    elif choice.raised_to_feasible:
        parts.append("Quality alone would call for retraining more often than that; the interval was raised to it.")
    if row["decays_before_new_data"]:
        parts.append("Quality decays before enough new data arrives: consider a more robust model or faster labels.")
    low, high = lookback.diff_interval
    against = f"{lookback.mean_diff:+.3f} {metric} against all history (interval {low:+.3f} to {high:+.3f})"
    if lookback.verdict == DROP_OLDER:
        parts.append(f"Old data: drop data older than {_plural(lookback.lookback or 0, unit)}: {against}.")
    elif lookback.verdict == DOWN_WEIGHT:
        parts.append(
            f"Old data: keep it but down-weight it, halving a row's weight every "
            f"{_plural(lookback.half_life or 0, unit)}: {against}."
        )
    else:
        parts.append("Old data: keep all history; every shorter lookback measured worse than the tolerance allows.")
    return " ".join(parts)
