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

import pandas as pd

from retrain_advisor.analyses.arrival.rules import ArrivalSummary
from retrain_advisor.analyses.learning_curve.rules import minimum_training_size
from retrain_advisor.analyses.schedule.replay import PolicyResult
from retrain_advisor.analyses.schedule.rules import Choice, choose_schedule, feasible_interval
from retrain_advisor.analyses.window_comparison.rules import LookbackVerdict, lookback_verdict
from retrain_advisor.foundation.config import PeriodUnit, StudyConfig
from retrain_advisor.foundation.statistics import acceptable_drop
from retrain_advisor.foundation.vocabulary import DOWN_WEIGHT, DRIFT, DROP_OLDER, PERIODIC, TRIGGER


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


def _plural(n: float, unit: PeriodUnit) -> str:
    return f"{n:g} {unit}" + ("" if n == 1 else "s")


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
