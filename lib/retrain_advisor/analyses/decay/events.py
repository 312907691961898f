"""Calendar events: periods where every serving model, the fresh ones included, loses quality at
once (a concept change, a data incident, a season's turn). No Spark here.

Ageing is what retraining repairs; an event is dated. For every period j, each decay fit that was
scored on both j - 1 and j gives its own change of quality between them (the same model, so
its own strengths cancel); their mean is the period's change. A period is an event when that
change is a loss larger than the tolerance and an outlier among all periods' changes (more than
OUTLIER_SCALE robust standard deviations below their median), so a steady calendar trend is not
an event while a step is. Consecutive such periods are one event (a change that takes hold over
more than one period, or lands mid-period): it starts at the first and its loss is their sum.

For each event: how much the models lost, whether models trained after it recover what the
older ones lost (a concept change: retraining helps; the fresh models' mean gain over the last
model trained before it, on the periods after it, is surely positive) or not (a shift that hits
every model alike, such as a base-rate change), and how many periods after it a fresh model was
back within tolerance of the fresh quality before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retrain_advisor.foundation.statistics import serial_mean
from retrain_advisor.planning.study_plan import DecayDesign

OUTLIER_SCALE = 4.0
MIN_MODELS = 2


@dataclass(frozen=True)
class CalendarEvent:
    period_id: int  # the first period of the change
    drop: float  # mean loss of the models serving each period of it and the period before, summed
    fresh_drop: float  # the loss of the youngest of them, summed likewise
    n_models: int  # the fewest models that measured one of its periods
    retraining_recovers: bool  # fresh models after it surely beat the last model trained before it
    recovery_periods: int | None  # periods until a fresh model is back within tolerance; None: not seen
    n_periods: int = 1  # consecutive periods the change took

    @property
    def periods(self) -> range:
        return range(self.period_id, self.period_id + self.n_periods)


Quality = dict[str, dict[int, float]]  # fit id -> scored period -> value (usable evaluations only)


def calendar_events(
    performance: pd.DataFrame, design: DecayDesign, limit: float, confidence: float
) -> list[CalendarEvent]:
    """The events of one slice and metric (`performance` holds only its rows), largest first."""
    if performance.empty or not np.isfinite(limit):
        return []
    sign = 1.0 if bool(performance["greater_is_better"].iloc[0]) else -1.0
    usable = performance[performance["usable"]]
    origin_of = {fit_id: origin for origin, fit_id in design.origin_fits.items()}
    decay = usable[usable["fit_id"].isin(set(origin_of))]
    quality: Quality = {}
    for fit_id, period, value in zip(decay["fit_id"], decay["period_id"], decay["value"], strict=True):
        quality.setdefault(str(fit_id), {})[int(period)] = float(value)
    changes = _period_changes(quality, sign)
    if not changes:
        return []
    means = np.array([mean for mean, _ in changes.values()])
    spread = 1.4826 * float(np.median(np.abs(means - np.median(means))))
    floor = float(np.median(means)) - OUTLIER_SCALE * max(spread, 1e-12)
    fresh = _fresh_quality(usable, design)
    flagged = [
        p for p, (mean, count) in sorted(changes.items()) if mean <= -limit and mean <= floor and count >= MIN_MODELS
    ]
    events = []
    for run in _consecutive(flagged):
        first = run[0]
        youngest_drops = []
        for period in run:
            serving = [f for f, values in quality.items() if period in values and period - 1 in values]
            youngest = max(serving, key=lambda f: origin_of[f])
            youngest_drops.append(-sign * (quality[youngest][period] - quality[youngest][period - 1]))
        events.append(
            CalendarEvent(
                period_id=first,
                drop=-sum(changes[p][0] for p in run),
                fresh_drop=float(sum(youngest_drops)),
                n_models=min(changes[p][1] for p in run),
                retraining_recovers=_retraining_recovers(quality, origin_of, fresh, first, sign, confidence),
                recovery_periods=_recovery(fresh, first, sign, limit),
                n_periods=len(run),
            )
        )
    return sorted(events, key=lambda e: -e.drop)


def _consecutive(periods: list[int]) -> list[list[int]]:
    """Sorted periods in runs of consecutive ones."""
    runs: list[list[int]] = []
    for period in periods:
        if runs and period == runs[-1][-1] + 1:
            runs[-1].append(period)
        else:
            runs.append([period])
    return runs


def _period_changes(quality: Quality, sign: float) -> dict[int, tuple[float, int]]:
    """Per period j: the mean over fits scored on j - 1 and j of the change of quality (better: +),
    and how many fits."""
    changes: dict[int, list[float]] = {}
    for values in quality.values():
        for period, value in values.items():
            if period - 1 in values:
                changes.setdefault(period, []).append(sign * (value - values[period - 1]))
    return {period: (float(np.mean(found)), len(found)) for period, found in changes.items()}


def _fresh_quality(usable: pd.DataFrame, design: DecayDesign) -> dict[int, float]:
    """Each period's fresh fit on that period (age 0)."""
    fresh_fits = {fit_id: period for period, fit_id in design.reference_fits.items()}
    rows = usable[(usable["model_age"] == 0) & usable["fit_id"].isin(set(fresh_fits))]
    return {
        int(period): float(value)
        for fit_id, period, value in zip(rows["fit_id"], rows["period_id"], rows["value"], strict=True)
        if fresh_fits[fit_id] == period
    }


def _retraining_recovers(
    quality: Quality, origin_of: dict[str, int], fresh: dict[int, float], event: int, sign: float, confidence: float
) -> bool:
    """Whether fresh models after the event surely beat the last model trained before it: the
    lower bound of their mean gain over the periods from the event on is above zero."""
    before = [f for f in quality if origin_of[f] < event]
    if not before:
        return False
    last = quality[max(before, key=lambda f: origin_of[f])]
    gains = [sign * (fresh[p] - last[p]) for p in sorted(last) if p >= event and p in fresh]
    low = serial_mean(np.array(gains)).interval(confidence)[0]
    return bool(np.isfinite(low) and low > 0)


def _recovery(fresh: dict[int, float], event: int, sign: float, limit: float) -> int | None:
    """Periods from the event until a fresh model is back within tolerance of the fresh quality
    of the period before it; None when that is not seen in the history."""
    before = fresh.get(event - 1)
    if before is None:
        return None
    for period in sorted(p for p in fresh if p >= event):
        if sign * (before - fresh[period]) <= limit:
            return period - event
    return None


def spans_event(train_starts: pd.Series, periods: pd.Series, events: list[CalendarEvent]) -> pd.Series:
    """Which (fit, scored period) cells straddle an event: trained on data from before it (the
    window starts before it), scored after it. A model trained while the change was only partly
    in its window is the event's too: it loses to fresher models as they adapt."""
    spanning = pd.Series(False, index=train_starts.index)
    for event in events:
        for period in event.periods:
            spanning |= (train_starts < period) & (periods >= period)
    return spanning
