"""Replay retraining policies over the performance matrix: periodic, quality- and drift-triggered, best in
hindsight.

The matrix holds the measured quality of the fit with training end t on each period j >= t. A policy only
decides which fit serves each period; every policy is compared, period by period, with retraining every period
(paired on the same rows). The mean difference over the replayed periods gets a `serial_mean` interval: the
periods are a time series, weighted by their rows. No Spark here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.foundation.statistics import MeanEstimate, serial_mean
from retrain_advisor.foundation.vocabulary import DRIFT, ESTIMATE, HINDSIGHT, PERIODIC, TRIGGER

MATRIX_COLUMNS = ("train_end", "period_id", "value", "rows")


@dataclass(frozen=True)
class ReplaySettings:
    """Which periods to replay and which policies to try. `max_age`: models serve at ages 0..max_age-1.
    `label_delay`: at the start of period j, the quality of period k is known only if k <= j - 1 - label_delay.
    `trigger_max_age`: a triggered policy retrains at the latest when its model would reach this age (the
    ages surely within tolerance, `within_tolerance_periods`); None: at max_age, like the longest calendar
    interval."""

    start: int
    last: int
    intervals: Sequence[int] = (1, 2, 4, 8)
    trigger_drops: Sequence[float] = ()
    estimate_drops: Sequence[float] = ()  # estimated-quality triggers; need the matrix's `estimate`
    drift_triggers: Sequence[tuple[str, float]] = ()  # (signal, threshold)
    max_age: int = 8
    label_delay: int = 0
    trigger_max_age: int | None = None
    greater_is_better: bool = True
    cost_per_retrain: float | None = None
    cost_per_quality_unit: float | None = None

    @property
    def trigger_age_cap(self) -> int:
        return self.max_age if self.trigger_max_age is None else max(1, min(self.max_age, self.trigger_max_age))

    def __post_init__(self) -> None:
        if 1 not in self.intervals or any(r < 1 for r in self.intervals):
            raise ValueError(
                f"intervals must be positive and include 1 (retrain every period, the reference), got "
                f"{list(self.intervals)}: add 1 and drop non-positive intervals"
            )
        if self.start > self.last:
            raise ValueError(f"start ({self.start}) must not be after last ({self.last}): swap or widen the range")
        if self.max_age < max(self.intervals):
            raise ValueError(
                f"max_age ({self.max_age}) must be at least the largest interval ({max(self.intervals)}): "
                "raise max_age or drop the longer intervals"
            )
        if (self.cost_per_retrain is None) != (self.cost_per_quality_unit is None):
            raise ValueError("set both cost_per_retrain and cost_per_quality_unit, or neither")
        if self.label_delay < 0:
            raise ValueError(f"label_delay must be a non-negative number of periods, got {self.label_delay}")
        if any(not x >= 0 for x in [*self.trigger_drops, *self.estimate_drops]):
            raise ValueError(
                f"trigger drops must be non-negative, got {list(self.trigger_drops)} and {list(self.estimate_drops)}"
            )


@dataclass(frozen=True)
class Policy:
    """periodic(interval, offset) retrains when (t - start) % interval == offset; trigger(trigger_drop) when the
    known drop exceeds it; estimate(trigger_drop) when the drop estimated without labels, up to the last
    complete period, exceeds it; drift(signal, threshold) when the drift signal of the last complete period against the
    serving model's training window reaches the threshold; hindsight(interval) is the best schedule with the
    retrain budget of periodic(interval, 0)."""

    kind: str
    interval: int | None = None
    offset: int | None = None
    trigger_drop: float | None = None
    signal: str | None = None
    threshold: float | None = None

    @property
    def name(self) -> str:
        if self.kind == PERIODIC:
            return f"periodic({self.interval}, {self.offset})"
        if self.kind == TRIGGER:
            return f"trigger({self.trigger_drop})"
        if self.kind == ESTIMATE:
            return f"estimate({self.trigger_drop})"
        if self.kind == DRIFT:
            return f"drift({self.signal} >= {self.threshold:g})"
        return f"hindsight({self.interval})"


REFERENCE = Policy(PERIODIC, 1, 0)


@dataclass(frozen=True)
class ServedPeriod:
    """Which fit served a replayed period; value is NaN when unmeasured (unserved, or no usable evaluation)."""

    period_id: int
    train_end: int | None
    model_age: int | None
    value: float
    rows: int
    retrained: bool


@dataclass(frozen=True)
class PolicyResult:
    """Quality of one policy; the differences are against retraining every period, positive = better."""

    policy: Policy
    n_periods: int
    n_measured: int
    n_retrains: int
    n_failed_retrains: int
    mean_quality: float
    worst_quality: float
    worst_period: int | None
    mean_diff: float
    difference: MeanEstimate  # against retraining every period, per replayed period; positive = better
    quality_lost: float
    total_cost: float | None
    periods: tuple[ServedPeriod, ...]


@dataclass(frozen=True)
class _History:
    cells: dict[tuple[int, int], float]  # measured (train_end, period_id) -> value
    rows: dict[int, int]
    fits: frozenset[int]
    settings: ReplaySettings
    drift: Mapping[str, Mapping[tuple[int, int], float]]  # signal -> (train_end, period_id) -> drift
    estimates: Mapping[tuple[int, int], float]  # (train_end, period_id) -> quality estimated without labels

    def value(self, train_end: int | None, period: int) -> float:
        return float("nan") if train_end is None else self.cells.get((train_end, period), float("nan"))

    @property
    def periods(self) -> range:
        return range(self.settings.start, self.settings.last + 1)


@dataclass(frozen=True)
class _Run:
    served: list[int | None]
    retrained: list[bool]
    n_retrains: int
    n_failed: int


def policies(settings: ReplaySettings) -> list[Policy]:
    """Every periodic offset, every trigger, and the hindsight bound of every interval, in that order."""
    intervals = sorted(set(settings.intervals))
    periodic = [Policy(PERIODIC, r, o) for r in intervals for o in range(r)]
    triggers = [Policy(TRIGGER, trigger_drop=float(x)) for x in settings.trigger_drops]
    estimated = [Policy(ESTIMATE, trigger_drop=float(x)) for x in settings.estimate_drops]
    drifts = [Policy(DRIFT, signal=signal, threshold=float(x)) for signal, x in settings.drift_triggers]
    return periodic + triggers + estimated + drifts + [Policy(HINDSIGHT, r) for r in intervals]


def replay(
    matrix: pd.DataFrame,
    fits: set[int],
    settings: ReplaySettings,
    drift: Mapping[str, Mapping[tuple[int, int], float]] | None = None,
) -> list[PolicyResult]:
    """Replay every policy of `settings` on the matrix; `fits` are the training ends with a usable model and
    `drift` the drift signals of the drift triggers, by (train_end, period_id). Estimated-quality triggers read
    the matrix's `estimate` column."""
    missing_signals = {signal for signal, _ in settings.drift_triggers} - set(drift or {})
    if missing_signals:
        raise ValueError(f"drift triggers on {sorted(missing_signals)} need their drift values: pass them in `drift`")
    missing = [c for c in MATRIX_COLUMNS if c not in matrix.columns]
    if missing:
        raise ValueError(f"the performance matrix lacks columns {missing}: it needs {list(MATRIX_COLUMNS)}")
    measured = matrix[np.isfinite(matrix["value"].to_numpy(dtype=float))]
    cells = {
        (int(t), int(j)): float(v)
        for t, j, v in zip(measured["train_end"], measured["period_id"], measured["value"], strict=True)
    }
    volumes = matrix.groupby("period_id")["rows"].max()
    rows = {int(j): int(n) for j, n in zip(volumes.index, volumes.to_numpy(), strict=True)}
    history = _History(
        cells, rows, frozenset(int(t) for t in fits), settings, drift or {}, _estimates(matrix, settings)
    )
    reference = _served_periods(history, _run(history, REFERENCE))
    return [_result(history, policy, _run(history, policy), reference) for policy in policies(settings)]


def _estimates(matrix: pd.DataFrame, settings: ReplaySettings) -> dict[tuple[int, int], float]:
    """(train_end, period_id) -> the estimated quality, for the estimated-quality triggers."""
    if not settings.estimate_drops:
        return {}
    if "estimate" not in matrix.columns:
        raise ValueError("estimated-quality triggers need the matrix's estimate column")
    known = matrix[np.isfinite(matrix["estimate"].to_numpy(dtype=float))]
    return {
        (int(t), int(j)): float(v)
        for t, j, v in zip(known["train_end"], known["period_id"], known["estimate"], strict=True)
    }


def _run(history: _History, policy: Policy) -> _Run:
    s = history.settings
    if policy.kind == PERIODIC:
        assert policy.interval is not None and policy.offset is not None
        interval, offset = policy.interval, policy.offset
        return _serve(history, lambda t: (t - s.start - offset) % interval == 0)
    if policy.kind == TRIGGER:
        assert policy.trigger_drop is not None
        drop = policy.trigger_drop
        return _watch(history, lambda model, period: _dropped(history, model, period, drop))
    if policy.kind == ESTIMATE:
        assert policy.trigger_drop is not None
        limit = policy.trigger_drop
        return _watch(history, lambda model, period: _estimated_drop(history, model, period) > limit)
    if policy.kind == DRIFT:
        return _watch(history, lambda model, period: _drifted(history, policy, model, period))
    assert policy.interval is not None
    chosen = _hindsight_times(history, (s.last - s.start) // policy.interval + 1)
    return _serve(history, lambda t: t < s.start or t in chosen)


def _serve(history: _History, is_retrain_time: Callable[[int], bool]) -> _Run:
    """Each period is served by the newest successful retrain time of the schedule that is young enough."""
    s, fits = history.settings, history.fits
    served = [
        next((t for t in range(j, j - s.max_age, -1) if is_retrain_time(t) and t in fits), None)
        for j in history.periods
    ]
    attempts = [t for t in history.periods if is_retrain_time(t)]
    retrained = [is_retrain_time(j) and j in fits for j in history.periods]
    return _Run(served, retrained, sum(retrained), sum(t not in fits for t in attempts))


def _fallback(history: _History) -> int | None:
    """The newest usable fit before start that may still serve start (what retraining every period would use)."""
    s = history.settings
    return next((t for t in range(s.start - 1, s.start - s.max_age, -1) if t in history.fits), None)


def _watch(history: _History, alarm: Callable[[int, int], bool]) -> _Run:
    """Retrain when `alarm(serving model, period)` says so, or at the age cap.

    Until a retrain succeeds (the first at start) the policy retries every period, like retraining every period.
    """
    s = history.settings
    model, own = _fallback(history), False
    served: list[int | None] = []
    retrained: list[bool] = []
    n_failed = 0
    for j in history.periods:
        due = model is None or not own or j - model >= s.trigger_age_cap or alarm(model, j)
        success = due and j in history.fits
        if success:
            model, own = j, True
        n_failed += int(due and not success)
        retrained.append(success)
        served.append(model if model is not None and j - model < s.max_age else None)
    return _Run(served, retrained, sum(retrained), n_failed)


def _dropped(history: _History, model: int, period: int, drop: float) -> bool:
    """Whether the drop known at the start of `period` (labels up to period - 1 - label_delay) exceeds `drop`."""
    known = period - 1 - history.settings.label_delay
    fresh = history.value(model, model)
    if known < model or not np.isfinite(fresh):
        return False
    latest = next((v for k in range(known, model - 1, -1) if np.isfinite(v := history.value(model, k))), fresh)
    loss = fresh - latest if history.settings.greater_is_better else latest - fresh
    return loss > drop


def _estimated_drop(history: _History, model: int, period: int) -> float:
    """The serving model's drop estimated without labels from its first period to the last complete one
    (period - 1), whatever the label delay; NaN when either estimate is missing."""
    fresh = history.estimates.get((model, model), float("nan"))
    latest = history.estimates.get((model, period - 1), float("nan"))
    return fresh - latest if history.settings.greater_is_better else latest - fresh


def _drifted(history: _History, policy: Policy, model: int, period: int) -> bool:
    """Whether the drift known at the start of `period` reaches the threshold. Features need no labels, so the
    last complete period (period - 1) is known whatever the label delay."""
    known = period - 1
    if known < model:
        return False
    assert policy.signal is not None and policy.threshold is not None
    value = history.drift[policy.signal].get((model, known), float("nan"))
    return bool(np.isfinite(value) and value >= policy.threshold)


def _hindsight_times(history: _History, budget: int) -> set[int]:
    """Start and at most budget - 1 more usable retrain times that maximise the row-weighted score."""
    s = history.settings
    first = s.start if s.start in history.fits else _fallback(history)
    candidates = [t for t in history.periods[1:] if t in history.fits]
    cumulative = _cumulative_scores(history, [first, *candidates])
    starts = np.array([t - s.start for t in candidates], dtype=int)
    own = cumulative[1 + np.arange(len(candidates)), starts]
    between = cumulative[1:][:, starts] - own[:, None]  # [a, b]: a serves from its period to the one before b
    between[np.tril_indices(len(candidates))] = -np.inf
    head, tail = cumulative[0, starts], cumulative[1:, -1] - own
    path = _best_path(float(cumulative[0, -1]), head, between, tail, budget - 1)
    return {s.start} | {candidates[i] for i in path}


def _cumulative_scores(history: _History, models: list[int | None]) -> np.ndarray:
    """Per model, the running row-weighted score over the replayed periods.

    An unmeasured cell scores the worst measured score of its period (0 without any), so the bound does not
    profit from gaps in the matrix. A model too old (or none) serves nothing: a penalty larger than any score
    difference makes every schedule that respects the age cap better than one that does not.
    """
    s = history.settings
    sign = 1.0 if s.greater_is_better else -1.0
    periods = np.array(history.periods)
    weights = np.array([history.rows.get(int(j), 0) for j in periods], dtype=float)
    lowest: dict[int, float] = {}
    for (_, j), v in history.cells.items():
        lowest[j] = min(lowest.get(j, np.inf), sign * v)
    worst = np.array([lowest.get(int(j), 0.0) for j in periods])
    scores = sign * np.array(list(history.cells.values()) or [0.0])
    penalty = 1.0 + weights.sum() * float(scores.max() - scores.min())
    rows = []
    for model in models:
        values = np.array([history.value(model, int(j)) for j in periods])
        ages = periods - (s.start if model is None else model)
        serves = (ages >= 0) & (ages < s.max_age) & (model is not None)
        gains = np.where(serves, weights * np.where(np.isfinite(values), sign * values, worst), -penalty)
        rows.append(np.concatenate([[0.0], np.cumsum(gains)]))
    return np.array(rows)


def _best_path(whole: float, head: np.ndarray, between: np.ndarray, tail: np.ndarray, extra: int) -> list[int]:
    """The best at most `extra` candidates, in O(extra * n^2): the first model serves up to the first candidate
    (`head`), each candidate up to the next (`between`), the last one to the end (`tail`); `whole` is no retrain.

    `layer[i]` is the best score before candidate i when i is the k-th retrain. Ties keep fewer retrains.
    """
    best, path, layer = whole, [], head
    backs: list[np.ndarray] = []
    for _ in range(min(extra, len(head))):
        totals = layer + tail
        if totals.max() > best:
            path = [int(totals.argmax())]
            best = float(totals[path[0]])
            for back in reversed(backs):
                path.append(int(back[path[-1]]))
        steps = layer[:, None] + between
        backs.append(steps.argmax(axis=0))
        layer = steps.max(axis=0)
    return path


def _served_periods(history: _History, run: _Run) -> tuple[ServedPeriod, ...]:
    return tuple(
        ServedPeriod(j, t, None if t is None else j - t, history.value(t, j), history.rows.get(j, 0), retrained)
        for j, t, retrained in zip(history.periods, run.served, run.retrained, strict=True)
    )


def _result(history: _History, policy: Policy, run: _Run, reference: tuple[ServedPeriod, ...]) -> PolicyResult:
    s = history.settings
    periods = _served_periods(history, run)
    values = np.array([p.value for p in periods])
    weights = np.array([p.rows for p in periods], dtype=float)
    measured = np.isfinite(values)
    sign = 1.0 if s.greater_is_better else -1.0
    worst = int(np.flatnonzero(measured)[np.argmin(sign * values[measured])]) if measured.any() else None
    paired = measured & np.isfinite(np.array([p.value for p in reference]))
    diffs = sign * (values - np.array([p.value for p in reference]))[paired]  # positive = better than reference
    quality_lost = float(-diffs.sum())
    cost = None
    if s.cost_per_retrain is not None and s.cost_per_quality_unit is not None:
        cost = s.cost_per_retrain * run.n_retrains + s.cost_per_quality_unit * quality_lost
    return PolicyResult(
        policy=policy,
        n_periods=len(periods),
        n_measured=int(measured.sum()),
        n_retrains=run.n_retrains,
        n_failed_retrains=run.n_failed,
        mean_quality=_weighted_mean(values[measured], weights[measured]),
        worst_quality=float("nan") if worst is None else float(values[worst]),
        worst_period=None if worst is None else periods[worst].period_id,
        mean_diff=_weighted_mean(diffs, weights[paired]),
        difference=serial_mean(diffs, weights[paired]),
        quality_lost=quality_lost,
        total_cost=cost,
        periods=periods,
    )


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    return float(values @ weights / total) if values.size and total > 0 else float("nan")
