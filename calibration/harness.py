"""Run the analyses on simulated histories and measure how often each decision is wrong.

One seed of one regime gives one outcome: the recommendation and every figure the harness
checks against the truth (the same study without noise). `summarize` turns the outcomes of many
seeds into the rates the targets are about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calibration.regimes import BOUNDARY_AGE
from calibration.simulate import FIRST_PERIOD, Regime, Study, planned, simulate, simulate_drift, true_frame
from retrain_advisor.analyses.comparisons.rules import arm_values
from retrain_advisor.analyses.decay.regret import regret_cells
from retrain_advisor.analyses.pipeline import StudyAnalyses, analyse
from retrain_advisor.analyses.schedule.matrix import schedule_matrix
from retrain_advisor.analyses.schedule.replay import PolicyResult, replay
from retrain_advisor.analyses.schedule.rules import replay_settings, summarize_intervals
from retrain_advisor.foundation.vocabulary import (
    ABRUPT,
    DRIFT,
    ESTIMATE,
    INSUFFICIENT_EVIDENCE,
    LEARNING_CURVE,
    OLDER_DATA_ADDS_NOTHING,
    OLDER_DATA_HURTS,
    PERIODIC,
    ROWS,
    WINDOW_COMPARISON,
)

CONFIDENCE = 0.9


@dataclass
class Outcome:
    """What one seed of one regime shows."""

    pattern: str | None = None
    shape: str | None = None
    events: int = 0
    event_found: int | None = None
    insufficient: bool = False
    drop_covered: list[bool] = field(default_factory=list)
    boundary_breach: bool | None = None
    quality_covered: bool | None = None
    interval: int | None = None
    policy: str | None = None
    true_loss: float | None = None
    lookback_reason: str | None = None
    lookback_claim_false: bool | None = None
    min_rows: int | None = None
    min_rows_true_drop: float | None = None
    irrelevant_trigger: bool | None = None  # a drift signal unrelated to quality was replayed as a trigger
    costly_trigger: bool | None = None  # the costly feature's drift was replayed as a trigger


@dataclass(frozen=True)
class Truth:
    """The noiseless study: regret per age, and each analysis's true quantities."""

    regret: pd.Series  # mean over the decay origins, by model age
    periodic_loss: dict[int, float]  # by interval, over its offsets
    periodic_quality: dict[int, float]
    values: dict[tuple[int, int], float]  # (train_end, period) -> quality of the schedule's fits
    lookback_diff: dict[tuple[Any, Any], float]  # (lookback, half_life) -> diff against all history
    size_drop: dict[int, float]  # row cap -> drop from the largest


_TRUTHS: dict[str, Truth] = {}


def truth_of(study: Study) -> Truth:
    if study.regime.name not in _TRUTHS:
        _TRUTHS[study.regime.name] = _truth(study)
    return _TRUTHS[study.regime.name]


def _truth(study: Study) -> Truth:
    frame, plan, config = true_frame(study), study.study_plan, study.config
    cells = regret_cells(frame, plan.decay)
    regret = cells.groupby("model_age")["regret"].mean()
    matrix = schedule_matrix(frame, plan.plan, "quality", plan.replay)
    settings = replay_settings(config, plan.replay, True, study.regime.gap, config.tolerance.absolute or 0.02, None)
    results = replay(matrix, set(matrix["train_end"].astype(int)), settings)
    summaries = summarize_intervals(results, True)
    values = {
        (int(t), int(j)): float(v)
        for t, j, v in zip(matrix["train_end"], matrix["period_id"], matrix["value"], strict=True)
    }
    arms = arm_values(frame, plan.plan, "quality", config.comparisons.test_periods)
    windows = arms[arms["analysis"] == WINDOW_COMPARISON]
    reference = windows[windows["lookback"].isna() & windows["half_life"].isna()]["value"].mean()
    keys = [windows["lookback"].astype(float).fillna(-1), windows["half_life"].astype(float).fillna(-1)]
    lookback_diff = {(k[0], k[1]): float(g["value"].mean() - reference) for k, g in windows.groupby(keys)}
    rows_axis = arms[(arms["analysis"] == LEARNING_CURVE) & (arms["axis"] == ROWS)]
    by_size = rows_axis.groupby("train_rows")["value"].mean()
    size_drop = {int(size): float(by_size.max() - value) for size, value in by_size.items()} if len(by_size) else {}
    return Truth(
        regret,
        {r: s.loss.mean for r, s in summaries.items()},
        {r: s.quality.mean for r, s in summaries.items()},
        values,
        lookback_diff,
        size_drop,
    )


def run_seed(regime: Regime, seed: int) -> Outcome:
    study = planned(regime)
    truth = truth_of(study)
    results = analyse(simulate(study, seed), study.context, simulate_drift(study, seed))
    return measure(study, truth, results)


def measure(study: Study, truth: Truth, results: StudyAnalyses) -> Outcome:
    regime, limit = study.regime, study.config.tolerance.absolute or 0.02
    outcome = Outcome()
    decay = results.decay.by_slice[None]
    outcome.pattern = decay.pattern
    outcome.shape = decay.shape
    outcome.events = len(decay.events)
    outcome.event_found = decay.events[0].period_id if decay.explained_by_events and decay.events else None
    curve = results.decay.curve
    curve = curve[curve["season"].isna() & (curve["model_age"] >= 1) & (curve["n_origins"] >= regime.min_origins)]
    if regime.event_period is None:
        for _, row in curve.iterrows():
            true = truth.regret.get(int(row["model_age"]), math.nan)
            outcome.drop_covered.append(bool(row["regret_ci_low"] <= true <= row["regret_ci_high"]))
    boundary = curve[curve["model_age"] == BOUNDARY_AGE]
    if len(boundary) and abs(truth.regret.get(BOUNDARY_AGE, math.nan) - limit) < 1e-9:
        outcome.boundary_breach = bool(boundary["regret_ci_low"].iloc[0] > limit)
    if regime.drift_features:
        outcome.irrelevant_trigger, outcome.costly_trigger = _triggers_watched(results, regime)
    recommendation = results.recommendations[0]
    outcome.insufficient = recommendation["status"] == INSUFFICIENT_EVIDENCE
    outcome.lookback_reason = recommendation["lookback_reason"]
    outcome.lookback_claim_false = _lookback_claim_false(recommendation, truth, limit)
    if recommendation["min_train_rows"] is not None:
        outcome.min_rows, outcome.min_rows_true_drop = _minimum_truth(results, truth)
    if outcome.insufficient:
        return outcome
    outcome.interval = int(recommendation["recommended_interval_periods"])
    outcome.policy = recommendation["recommended_policy"]
    true_loss, true_quality = _policy_truth(results, truth, recommendation)
    outcome.true_loss = true_loss
    low, high = recommendation["expected_quality_ci_low"], recommendation["expected_quality_ci_high"]
    outcome.quality_covered = bool(low <= true_quality <= high) if np.isfinite(true_quality) else None
    return outcome


def _policy_truth(results: StudyAnalyses, truth: Truth, recommendation: dict[str, Any]) -> tuple[float, float]:
    """The true loss and quality of what was recommended: a calendar interval over its offsets,
    or the retrain times a trigger actually chose, scored without noise."""
    if recommendation["recommended_policy"] == PERIODIC:
        interval = int(recommendation["recommended_interval_periods"])
        return truth.periodic_loss[interval], truth.periodic_quality[interval]
    chosen = _chosen_trigger(results.schedule[None], recommendation)
    reference = next(r for r in results.schedule[None] if r.policy.kind == PERIODIC and r.policy.interval == 1)
    served = [(p.train_end, p.period_id) for p in chosen.periods]
    every = [(p.train_end, p.period_id) for p in reference.periods]
    quality = [truth.values.get((t, j), math.nan) for t, j in served if t is not None]
    losses = [
        truth.values.get(b, math.nan) - truth.values.get(a, math.nan)
        for a, b in zip(served, every, strict=True)
        if a[0] is not None and b[0] is not None
    ]
    return float(np.nanmean(losses)), float(np.nanmean(quality))


def _chosen_trigger(results: list[PolicyResult], recommendation: dict[str, Any]) -> PolicyResult:
    for result in results:
        policy = result.policy
        if policy.kind != recommendation["recommended_policy"]:
            continue
        same_drop = policy.trigger_drop == recommendation["recommended_trigger_drop"]
        same_signal = policy.signal == recommendation["recommended_drift_signal"]
        if same_drop and same_signal:
            return result
    raise LookupError("the recommended trigger is not among the replayed policies")


def _triggers_watched(results: StudyAnalyses, regime: Regime) -> tuple[bool, bool]:
    """Whether a drift trigger replayed watches a signal unrelated to quality, and whether one
    watches the costly feature. An aggregate over features counts as related only when a costly
    feature is among them."""
    watched = {r.policy.signal or "" for r in results.schedule[None] if r.policy.kind == DRIFT}
    columns = {signal.partition(":")[2] for signal in watched}
    has_costly = "costly" in regime.drift_features
    related = {c for c in columns if c.startswith("costly_") or (has_costly and c.endswith("(all features)"))}
    return bool(columns - related), any(c.startswith("costly_") for c in columns)


def _lookback_claim_false(recommendation: dict[str, Any], truth: Truth, limit: float) -> bool | None:
    """Whether the lookback verdict's reason is false: 'older data hurts' for an arm that is not
    better, or 'adds nothing' for one whose true cost exceeds the tolerance."""
    reason = recommendation["lookback_reason"]
    lookback = recommendation["recommended_lookback_periods"]
    half_life = recommendation["recommended_half_life_periods"]
    key = (-1 if lookback is None else lookback, -1 if half_life is None else half_life)
    true = truth.lookback_diff.get(key)
    if true is None:
        return None
    if reason == OLDER_DATA_HURTS:
        return true <= 0
    if reason == OLDER_DATA_ADDS_NOTHING:
        return true < -limit
    return False


def _minimum_truth(results: StudyAnalyses, truth: Truth) -> tuple[int | None, float | None]:
    curve = results.learning_curve
    rows = curve[(curve["axis"] == ROWS) & curve["is_minimum"] & curve["slice_value"].isna()]
    if rows.empty:
        return None, None
    cap = int(rows["train_rows_max"].iloc[0])
    return cap, truth.size_drop.get(cap)


@dataclass(frozen=True)
class Rates:
    """One regime over many seeds."""

    regime: Regime
    seeds: int
    figures: dict[str, float]
    patterns: dict[str, float]


def _rate(events: list[bool]) -> float:
    return float(np.mean(events)) if events else math.nan


def summarize(regime: Regime, outcomes: list[Outcome]) -> Rates:
    limit = regime.tolerance
    covered = [c for o in outcomes for c in o.drop_covered]
    quality = [o.quality_covered for o in outcomes if o.quality_covered is not None]
    boundary = [o.boundary_breach for o in outcomes if o.boundary_breach is not None]
    losses = [o.true_loss for o in outcomes if o.true_loss is not None]
    claims = [o.lookback_claim_false for o in outcomes if o.lookback_claim_false is not None]
    minimums = [o.min_rows_true_drop for o in outcomes if o.min_rows_true_drop is not None]
    figures = {
        "insufficient": float(np.mean([o.insufficient for o in outcomes])),
        "drop_coverage": float(np.mean(covered)) if covered else math.nan,
        "quality_coverage": float(np.mean(quality)) if quality else math.nan,
        "false_breach": float(np.mean(boundary)) if boundary else math.nan,
        "wrong_interval": float(np.mean([loss > limit for loss in losses])) if losses else math.nan,
        "mean_interval": float(np.mean([o.interval for o in outcomes if o.interval])) if losses else math.nan,
        "trigger_share": float(np.mean([o.policy != PERIODIC for o in outcomes if o.policy])) if losses else math.nan,
        "estimate_share": float(np.mean([o.policy == ESTIMATE for o in outcomes if o.policy])) if losses else math.nan,
        "estimate_loses_more": _rate([o.true_loss > limit for o in outcomes if o.policy == ESTIMATE]),
        "lookback_claim_false": float(np.mean(claims)) if claims else math.nan,
        "lookback_better": float(np.mean([o.lookback_reason == OLDER_DATA_HURTS for o in outcomes])),
        "too_small_minimum": float(np.mean([d > limit for d in minimums])) if minimums else math.nan,
    }
    if regime.drift_features:
        figures["irrelevant_trigger"] = float(np.mean([bool(o.irrelevant_trigger) for o in outcomes]))
    if "costly" in regime.drift_features:
        figures["costly_trigger"] = float(np.mean([bool(o.costly_trigger) for o in outcomes]))
    if regime.pattern == ABRUPT and regime.event_period is not None:
        true_date = FIRST_PERIOD + regime.event_period
        figures["event_dated"] = float(
            np.mean([o.event_found is not None and abs(o.event_found - true_date) <= 1 for o in outcomes])
        )
    if regime.event_period is None and regime.calendar in ("none", "trend", "season"):
        figures["false_event"] = float(np.mean([o.events > 0 for o in outcomes]))
    if regime.shape is not None:
        figures["shape_right"] = float(np.mean([o.shape == regime.shape for o in outcomes]))
    names = pd.Series([o.pattern for o in outcomes]).value_counts(normalize=True)
    return Rates(regime, len(outcomes), figures, {str(k): float(v) for k, v in names.items()})
