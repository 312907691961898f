"""The plan: which models to fit and on which periods to score them.

Every analysis states the fits and evaluations it needs; plans merge by identity, so a fit
that two analyses need is trained once. Pure Python: no Spark here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from retrain_advisor.config import PeriodUnit, WindowsConfig
from retrain_advisor.errors import PlanError
from retrain_advisor.periods import period_id_of, period_start


@dataclass(frozen=True, order=True)
class FitSpec:
    """One model: trained on periods [train_start, train_stop), serving from period train_end.

    train_end - train_stop is the gap that covers label delay. `lookback` is None when the fit
    uses all history. `max_rows` caps the training rows (seeded sample).
    """

    train_end: int
    train_start: int
    train_stop: int
    lookback: int | None
    max_rows: int
    seed: int

    @property
    def fit_id(self) -> str:
        """Stable id from the fit's identity, equal across runs and analyses."""
        payload = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    @property
    def gap(self) -> int:
        return self.train_end - self.train_stop

    def trains_on(self, period_id: int) -> bool:
        return self.train_start <= period_id < self.train_stop


@dataclass(frozen=True, order=True)
class EvaluationSpec:
    """Score fit `fit_id` on period `period_id`, `model_age` periods after its train_end."""

    fit_id: str
    period_id: int
    model_age: int


@dataclass
class Plan:
    """A de-duplicated set of fits and evaluations."""

    fits: dict[str, FitSpec] = field(default_factory=dict)
    evaluations: set[EvaluationSpec] = field(default_factory=set)

    def add_fit(self, fit: FitSpec) -> str:
        self.fits.setdefault(fit.fit_id, fit)
        return fit.fit_id

    def add_evaluation(self, fit: FitSpec, period_id: int) -> None:
        fit_id = self.add_fit(fit)
        self.evaluations.add(EvaluationSpec(fit_id, period_id, period_id - fit.train_end))

    def merge(self, other: Plan) -> Plan:
        merged = Plan(dict(self.fits), set(self.evaluations))
        for fit in other.fits.values():
            merged.add_fit(fit)
        merged.evaluations |= other.evaluations
        return merged

    def sorted_fits(self) -> list[FitSpec]:
        return sorted(self.fits.values())

    def sorted_evaluations(self) -> list[EvaluationSpec]:
        return sorted(self.evaluations, key=lambda e: (self.fits[e.fit_id], e.period_id))

    def scored_periods(self) -> list[int]:
        return sorted({e.period_id for e in self.evaluations})


def choose_origins(available: Sequence[int], windows: WindowsConfig, unit: PeriodUnit) -> list[int]:
    """Training ends with a full lookback behind them and max_age periods of history after them.

    Origins are counted back from the latest feasible one, so the most recent data is always
    covered; `max_origins` keeps the most recent.
    """
    if not available:
        raise PlanError("the source has no labelled periods; check source and columns.label")
    first, last = min(available), max(available)
    needed_before = windows.lookback if isinstance(windows.lookback, int) else windows.gap + 1
    earliest = first + needed_before
    latest = last - windows.max_age
    if windows.first_origin is not None:
        earliest = max(earliest, period_id_of(unit, windows.first_origin))
    if windows.last_origin is not None:
        latest = min(latest, period_id_of(unit, windows.last_origin))
    if latest < earliest:
        span = last - first + 1
        raise PlanError(
            f"the history has {span} {unit}s ({period_start(unit, first)} to {period_start(unit, last)}), "
            f"too short for windows.lookback={windows.lookback} and windows.max_age={windows.max_age}: "
            f"a fit needs {needed_before} {unit}s before its training end and {windows.max_age} after it "
            f"(first/last_origin narrow this further). Lower windows.lookback or windows.max_age, "
            f"or use a shorter period.unit."
        )
    origins = list(range(latest, earliest - 1, -windows.origin_every))
    if windows.max_origins is not None:
        origins = origins[: windows.max_origins]
    return sorted(origins)


def fit_for_origin(
    train_end: int, first_period: int, lookback: int | Literal["all"], gap: int, max_rows: int, seed: int
) -> FitSpec:
    """The fit that serves from `train_end` with the given lookback ('all' = from the first period)."""
    start = first_period if lookback == "all" else train_end - lookback
    return FitSpec(
        train_end=train_end,
        train_start=start,
        train_stop=train_end - gap,
        lookback=None if lookback == "all" else lookback,
        max_rows=max_rows,
        seed=seed,
    )


def plan_decay(available: Sequence[int], windows: WindowsConfig, unit: PeriodUnit, max_rows: int, seed: int) -> Plan:
    """Decay: one fit per origin, scored at every age 0..max_age whose period has data."""
    present = set(available)
    plan = Plan()
    for origin in choose_origins(available, windows, unit):
        fit = fit_for_origin(origin, min(available), windows.lookback, windows.gap, max_rows, seed)
        for age in range(windows.max_age + 1):
            if origin + age in present:
                plan.add_evaluation(fit, origin + age)
    return plan
