"""The recommendation: one decision per slice from every question's answer, with the numbers behind
it. Pure Python over small results.

- Status: `insufficient_evidence` when the history cannot answer (too few usable origins for the
  decay curve, or too few replayed periods), with what is missing and what would settle it; no
  interval is stated then.
- Interval and policy: `analyses/schedule/rules.py` (loss within tolerance at the upper bound,
  every served age surely within tolerance on the decay curve, never below the feasible minimum).
- Lookback: `analyses/window_comparison/rules.py`; minimum training size:
  `analyses/learning_curve/rules.py`.
The rationale (`rationale.py`) quotes the numbers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from retrain_advisor.analyses.decay.analysis import SliceDecay
from retrain_advisor.analyses.learning_curve.rules import minimum_training_size
from retrain_advisor.analyses.recommendation.evidence import Evidence
from retrain_advisor.analyses.recommendation.rationale import insufficient_rationale, rationale
from retrain_advisor.analyses.schedule.rules import (
    Choice,
    choose_schedule,
    feasible_interval,
)
from retrain_advisor.analyses.window_comparison.rules import LookbackVerdict, lookback_verdict
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.vocabulary import (
    DOWN_WEIGHT,
    DRIFT,
    DROP_OLDER,
    INSUFFICIENT_EVIDENCE,
    PERIODIC,
    RECOMMENDED,
)
from retrain_advisor.planning.study_plan import TrainingWindow


def recommend(evidence: Evidence, config: StudyConfig) -> dict[str, Any]:
    """The recommendations row of one slice (without run and slice columns)."""
    unit, tolerance = config.period.unit, config.tolerance
    decay, arrival = evidence.decay, evidence.arrival
    min_rows, climbing = minimum_training_size(evidence.learning_curve)
    per_period = max(evidence.rows_per_period, 1.0)
    min_periods = max(1, math.ceil(min_rows / per_period)) if min_rows is not None else None
    minimum, limited_by = feasible_interval(
        arrival.batch_cadence_periods, min_rows, evidence.window_rows, evidence.rows_per_period
    )
    limit = decay.limit if decay is not None else math.nan
    lookback = lookback_verdict(evidence.windows)
    row: dict[str, Any] = {
        "metric": evidence.metric,
        "fresh_quality": decay.fresh_quality if decay else None,
        "batch_cadence_periods": arrival.batch_cadence_periods,
        "label_delay_periods": arrival.label_delay_periods,
        "min_train_rows": min_rows,
        "min_train_periods": min_periods,
        "more_data_would_help": climbing,
        "min_feasible_interval_periods": minimum,
        "feasible_interval_limited_by": limited_by,
        "tolerance_limit": limit,
        "replayed_periods": evidence.replayed_periods,
        "confidence": tolerance.confidence,
        **_lookback_columns(lookback),
        **_decay_columns(decay),
    }
    missing = missing_evidence(evidence, config)
    if missing:
        row.update(dict.fromkeys(CHOICE_COLUMNS), decays_before_new_data=None)
        row["quality_every_period"] = _quality_every_period(evidence)
        row.update(status=INSUFFICIENT_EVIDENCE, missing_evidence=" ".join(missing), notes=evidence.notes)
        row["rationale"] = insufficient_rationale(row, missing, lookback, unit)
        return row
    evidence = _replay_to_decide_on(evidence, lookback, config, minimum, limit)
    choice = _choose(evidence, config, minimum, limit)
    row.update(_choice_columns(choice, tolerance.confidence))
    row.update(_replayed_window(evidence, config), quality_every_period=_quality_every_period(evidence))
    row["decays_before_new_data"] = bool(decay is not None and decay.shelf.within_periods < minimum)
    row["status"], row["missing_evidence"] = RECOMMENDED, None
    row["notes"] = evidence.notes
    row["rationale"] = rationale(row, evidence, choice, lookback, unit)
    return row


def recommended_window(lookback: LookbackVerdict) -> TrainingWindow:
    """The training window the lookback verdict recommends (keep all: all history, unweighted)."""
    if lookback.verdict == DROP_OLDER:
        return TrainingWindow(lookback.lookback)
    if lookback.verdict == DOWN_WEIGHT:
        return TrainingWindow(None, lookback.half_life)
    return TrainingWindow(None)


def _choose(evidence: Evidence, config: StudyConfig, minimum: int, limit: float) -> Choice:
    decay = evidence.decay
    return choose_schedule(
        evidence.schedule,
        evidence.summaries,
        minimum,
        limit,
        _interval_cap(decay),
        config.tolerance.confidence,
        config.schedule.cost_per_retrain is not None,
        decay.level_dependence if decay else None,
    )


def _replay_to_decide_on(
    evidence: Evidence, lookback: LookbackVerdict, config: StudyConfig, minimum: int, limit: float
) -> Evidence:
    """The evidence whose replay the policy is chosen on: the replay run again with the
    recommended training window (`joint_replay`) when the run has it, so the interval, its loss
    and the quoted quality all hold for the window the recommendation also gives. A drift
    trigger, which that replay does not run, is chosen on the study's own replay."""
    joint = evidence.joint
    if joint is None or joint.window != recommended_window(lookback):
        return evidence
    every = next((r for r in joint.schedule if r.policy.kind == PERIODIC and r.policy.interval == 1), None)
    if every is None or every.n_measured < 2 or _choose(evidence, config, minimum, limit).policy == DRIFT:
        return evidence
    return dataclasses.replace(
        evidence, schedule=joint.schedule, summaries=joint.summaries, replayed_window=joint.window
    )


def _quality_every_period(evidence: Evidence) -> float:
    every = next((r for r in evidence.schedule if r.policy.kind == PERIODIC and r.policy.interval == 1), None)
    return every.mean_quality if every else math.nan


def _replayed_window(evidence: Evidence, config: StudyConfig) -> dict[str, Any]:
    """The training window of the replay the policy was chosen on."""
    window = evidence.replayed_window
    if window is None:
        study = config.windows.lookback if isinstance(config.windows.lookback, int) else None
        return {"replayed_lookback_periods": study, "replayed_half_life_periods": None}
    return {"replayed_lookback_periods": window.lookback, "replayed_half_life_periods": window.half_life}


def _interval_cap(decay: SliceDecay | None) -> int | None:
    """The longest interval whose oldest served age (interval - 1) is surely within tolerance."""
    if decay is None:
        return None
    return max(decay.shelf.within_periods, 1)


def missing_evidence(evidence: Evidence, config: StudyConfig) -> list[str]:
    """What the history lacks to answer, each with what would settle it; empty when it can."""
    missing = []
    decay, tolerance = evidence.decay, config.tolerance
    if decay is None or not np.isfinite(decay.fresh_quality) or decay.shelf.within_periods < 1:
        missing.append(
            f"No fresh model was measured on enough usable evaluations to compare older models with "
            f"(each needs limits.min_eval_rows={config.limits.min_eval_rows} labelled rows"
            + (
                f" and limits.min_class_rows={config.limits.min_class_rows} of every class"
                if config.limits.min_class_rows
                else ""
            )
            + ")."
        )
    elif decay.measured_ages == 0:
        missing.append(
            f"No model age was measured on tolerance.min_origins={tolerance.min_origins} origins with usable "
            "evaluations."
        )
    every = next((r for r in evidence.schedule if r.policy.kind == PERIODIC and r.policy.interval == 1), None)
    if every is None or every.n_measured < 2:
        measured = 0 if every is None else every.n_measured
        missing.append(
            f"The replay measured retraining every period on {measured} of {evidence.replayed_periods} periods; "
            "at least 2 are needed to compare intervals."
        )
    if missing:
        missing.append(settling_advice(evidence, config))
    return missing


def settling_advice(evidence: Evidence, config: StudyConfig) -> str:
    """What would settle it, from the volumes the history has."""
    rows = evidence.arrival.median_labelled_rows
    unit = config.period.unit
    coarser = {"day": "week", "week": "month"}.get(unit)
    advice = [
        f"A {unit} holds a median of {rows:.0f} labelled rows; more history"
        + (f", a coarser period.unit ({coarser})" if coarser else "")
        + f", or a lower limits.min_eval_rows (now {config.limits.min_eval_rows})"
        + (f" or limits.min_class_rows (now {config.limits.min_class_rows})" if config.limits.min_class_rows else "")
        + " would settle it."
    ]
    return " ".join(advice)


def _decay_columns(decay: SliceDecay | None) -> dict[str, Any]:
    if decay is None:
        return {
            "shelf_life_periods": None,
            "shelf_life_censored": None,
            "within_tolerance_periods": None,
            "decay_pattern": None,
            "decay_shape": None,
            "event_period_id": None,
        }
    explained = decay.events[0].period_id if decay.explained_by_events and decay.events else None
    return {
        "shelf_life_periods": decay.shelf.periods,
        "shelf_life_censored": decay.shelf.censored,
        "within_tolerance_periods": decay.shelf.within_periods,
        "decay_pattern": decay.pattern,
        "decay_shape": decay.shape,
        "event_period_id": explained,
    }


def _lookback_columns(lookback: LookbackVerdict) -> dict[str, Any]:
    return {
        "lookback_verdict": lookback.verdict,
        "lookback_reason": lookback.reason,
        "recommended_lookback_periods": lookback.lookback,
        "recommended_half_life_periods": lookback.half_life,
        "lookback_diff": lookback.mean_diff,
        "lookback_diff_ci_low": lookback.diff_interval[0],
        "lookback_diff_ci_high": lookback.diff_interval[1],
    }


CHOICE_COLUMNS = [
    "recommended_interval_periods",
    "recommended_policy",
    "recommended_trigger_drop",
    "recommended_drift_signal",
    "recommended_drift_threshold",
    "expected_quality",
    "expected_quality_ci_low",
    "expected_quality_ci_high",
    "expected_loss",
    "expected_loss_ci_high",
    "prob_within_tolerance",
    "expected_cost",
]


def _choice_columns(choice: Choice, confidence: float) -> dict[str, Any]:
    low, high = choice.quality.interval(confidence)
    return {
        "recommended_interval_periods": choice.interval,
        "recommended_policy": choice.policy,
        "recommended_trigger_drop": choice.trigger_drop,
        "recommended_drift_signal": choice.drift_signal,
        "recommended_drift_threshold": choice.drift_threshold,
        "expected_quality": choice.quality.mean,
        "expected_quality_ci_low": low,
        "expected_quality_ci_high": high,
        "expected_loss": choice.loss.mean,
        "expected_loss_ci_high": choice.loss.interval(confidence)[1],
        "prob_within_tolerance": choice.prob_within,
        "expected_cost": choice.cost,
    }
