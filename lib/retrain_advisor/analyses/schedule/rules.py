"""Question 5, how often to retrain: the shortest feasible interval, what each interval loses
against retraining every period, and the choice of policy, on bounds. No Spark here.

- An interval's loss is measured per replayed period against retraining every period on the
  same rows, averaged over the interval's offsets (each offset is a different calendar), and
  its `serial_mean` over the replayed periods (weighted by rows) gives the upper bound and the
  probability that the true loss is within tolerance.
- The recommended interval is the longest one whose loss, and every shorter one's, is within
  tolerance at the upper bound, and whose oldest served age (interval - 1) is surely within
  tolerance on the decay curve (`cap`). With costs, the cheapest of those intervals, among
  the feasible ones when any is.
- A quality or drift trigger replaces it when its own loss is within tolerance at the upper
  bound with fewer retrains (ties: the smaller loss) or, with costs, a lower cost.
- The shortest feasible interval is the batch cadence; the training size sets a floor only
  when the lookback window cannot hold the minimum training size. The label delay is already
  in every replayed fit (its gap) and in the quality trigger, and is not counted again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from retrain_advisor.analyses.schedule.replay import PolicyResult, ReplaySettings
from retrain_advisor.foundation.config import StudyConfig
from retrain_advisor.foundation.statistics import Dependence, MeanEstimate, serial_mean
from retrain_advisor.foundation.vocabulary import DRIFT, ESTIMATE, PERIODIC, TRIGGER
from retrain_advisor.planning.study_plan import ReplayDesign


@dataclass(frozen=True)
class IntervalSummary:
    """One calendar interval over all its offsets: `loss` per replayed period (retraining every
    period minus this; positive: worse), `quality` served per period."""

    interval: int
    n_offsets: int
    loss: MeanEstimate
    quality: MeanEstimate
    n_retrains: float
    total_cost: float | None


def summarize_intervals(
    results: list[PolicyResult], greater_is_better: bool, level_dependence: Dependence | None = None
) -> dict[int, IntervalSummary]:
    """Every calendar interval over its offsets. The served quality's interval uses
    `level_dependence` (measured on the whole history's fresh quality) when given."""
    sign = 1.0 if greater_is_better else -1.0
    reference = next(r for r in results if r.policy.kind == PERIODIC and r.policy.interval == 1)
    reference_values = {p.period_id: p.value for p in reference.periods}
    summaries = {}
    for interval in sorted({r.policy.interval for r in results if r.policy.kind == PERIODIC and r.policy.interval}):
        offsets = [r for r in results if r.policy.kind == PERIODIC and r.policy.interval == interval]
        summaries[interval] = IntervalSummary(
            interval=interval,
            n_offsets=len(offsets),
            loss=_pooled_loss(offsets, reference_values, sign),
            quality=pooled_quality(offsets, level_dependence),
            n_retrains=float(np.mean([r.n_retrains for r in offsets])),
            total_cost=None if offsets[0].total_cost is None else float(np.mean([r.total_cost or 0 for r in offsets])),
        )
    return summaries


def _pooled_loss(offsets: list[PolicyResult], reference: dict[int, float], sign: float) -> MeanEstimate:
    """Per period, the mean over offsets of (reference - served) in the better direction."""
    losses: dict[int, list[float]] = {}
    rows: dict[int, int] = {}
    for result in offsets:
        for served in result.periods:
            base = reference.get(served.period_id, math.nan)
            if math.isfinite(served.value) and math.isfinite(base):
                losses.setdefault(served.period_id, []).append(sign * (base - served.value))
                rows[served.period_id] = served.rows
    periods = sorted(losses)
    return serial_mean(
        np.array([np.mean(losses[p]) for p in periods]), np.array([rows[p] for p in periods], dtype=float)
    )


def pooled_quality(served_by: list[PolicyResult], level_dependence: Dependence | None = None) -> MeanEstimate:
    """Per period, the mean over the policies (an interval's offsets) that measured it."""
    values: dict[int, list[float]] = {}
    rows: dict[int, int] = {}
    for result in served_by:
        for served in result.periods:
            if math.isfinite(served.value):
                values.setdefault(served.period_id, []).append(served.value)
                rows[served.period_id] = served.rows
    periods = sorted(values)
    return serial_mean(
        np.array([np.mean(values[p]) for p in periods]),
        np.array([rows[p] for p in periods], dtype=float),
        dependence=level_dependence,
    )


def policy_loss(result: PolicyResult) -> MeanEstimate:
    """One policy's loss against retraining every period (positive: worse)."""
    return result.difference.negated()


@dataclass(frozen=True)
class Choice:
    policy: str
    interval: int
    quality: MeanEstimate
    loss: MeanEstimate
    prob_within: float
    cost: float | None
    raised_to_feasible: bool  # quality alone called for a shorter interval than the data allows
    below_feasible: bool  # even the longest replayed interval is shorter than the feasible minimum
    trigger_drop: float | None = None
    drift_signal: str | None = None
    drift_threshold: float | None = None


def feasible_interval(
    cadence: int, min_train_rows: int | None, window_rows: float, rows_per_period: float
) -> tuple[int, str]:
    """The shortest interval the data allows: the batch cadence, or the periods needed to collect
    the minimum training size when even the whole lookback window holds fewer rows than that.
    `rows_per_period`: labelled rows of every slice, which every model trains on."""
    cadence = max(1, cadence)
    if min_train_rows is None or window_rows >= min_train_rows:
        return cadence, "batch cadence"
    needed = math.ceil(min_train_rows / max(rows_per_period, 1.0))
    return (needed, "training size") if needed > cadence else (cadence, "batch cadence")


def choose_schedule(
    results: list[PolicyResult],
    summaries: dict[int, IntervalSummary],
    minimum: int,
    limit: float,
    cap: int | None,
    confidence: float,
    with_costs: bool,
    level_dependence: Dependence | None = None,
) -> Choice:
    """The recommended policy (see the module docstring). `cap`: the longest interval whose
    oldest served age is surely within tolerance; None when the decay curve cannot tell."""
    intervals = sorted(summaries)
    within = [r == 1 or summaries[r].loss.interval(confidence)[1] <= limit for r in intervals]
    # the intervals that, with every shorter one, keep the loss within tolerance at the upper bound
    holding = intervals[: within.index(False)] if False in within else intervals
    allowed = [r for r in holding if cap is None or r <= cap] or [1]
    if with_costs:  # the cheapest of the intervals that hold, preferring those the data allows
        chosen = min([r for r in allowed if r >= minimum] or allowed, key=lambda r: summaries[r].total_cost or 0.0)
    else:
        chosen = max(allowed)
    raised = chosen < minimum
    below = max(intervals) < minimum
    if raised:
        above = [r for r in intervals if r >= minimum]
        chosen = min(above) if above else max(intervals)
    summary = summaries[chosen]
    choice = Choice(
        PERIODIC,
        chosen,
        summary.quality,
        summary.loss,
        summary.loss.probability_at_most(limit) if chosen != 1 else 1.0,
        summary.total_cost,
        raised,
        below,
    )
    if raised:
        return choice
    triggers = [
        r
        for r in results
        if r.policy.kind in (TRIGGER, ESTIMATE, DRIFT) and policy_loss(r).interval(confidence)[1] <= limit
    ]
    if not triggers:
        return choice
    key = (lambda r: r.total_cost or 0.0) if with_costs else (lambda r: (r.n_retrains, policy_loss(r).mean))
    best = min(triggers, key=key)
    if with_costs:
        beats = (best.total_cost or 0.0) < (summary.total_cost or 0.0)
    else:
        beats = best.n_retrains < summary.n_retrains
    if not beats:
        return choice
    loss = policy_loss(best)
    return Choice(
        best.policy.kind,
        chosen,
        pooled_quality([best], level_dependence),
        loss,
        loss.probability_at_most(limit),
        best.total_cost,
        False,
        False,
        trigger_drop=best.policy.trigger_drop,
        drift_signal=best.policy.signal,
        drift_threshold=best.policy.threshold,
    )


def replay_settings(
    config: StudyConfig,
    design: ReplayDesign,
    greater_is_better: bool,
    label_delay: int,
    limit: float,
    trigger_max_age: int | None,
    drift_triggers: list[tuple[str, float]] | None = None,
) -> ReplaySettings:
    """The replay of one slice: quality triggers at `schedule.trigger_drops` (default: the
    tolerance and twice it), seeing each period's quality `label_delay` periods late, and with
    `estimation.enabled` estimated-quality triggers at the same drops, which see the last complete
    period at once; retraining at the latest at `trigger_max_age`."""
    drops = config.schedule.trigger_drops
    if drops is None:
        drops = [limit, 2 * limit] if math.isfinite(limit) and limit > 0 else []
    return ReplaySettings(
        start=design.start,
        last=design.last,
        intervals=design.intervals,
        trigger_drops=drops,
        estimate_drops=drops if config.estimation.enabled else (),
        drift_triggers=tuple(drift_triggers or ()),
        max_age=design.max_age,
        label_delay=label_delay,
        trigger_max_age=trigger_max_age,
        greater_is_better=greater_is_better,
        cost_per_retrain=config.schedule.cost_per_retrain,
        cost_per_quality_unit=config.schedule.cost_per_quality_unit,
    )
