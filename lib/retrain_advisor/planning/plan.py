"""The plan: which models to fit and on which periods to score them.

Every analysis adds its arms (a fit it needs, named by what it varies) and evaluations to one
plan; fits merge by identity, so a fit that two analyses need is trained once. Pure Python: no
Spark here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property

from retrain_advisor.foundation.vocabulary import Analysis


@dataclass(frozen=True)
class History:
    """Labelled rows per period id: all that planning needs to know about the source."""

    rows: Mapping[int, int]

    @cached_property
    def periods(self) -> list[int]:
        return sorted(p for p, n in self.rows.items() if n > 0)

    @property
    def first(self) -> int:
        return self.periods[0]

    @property
    def last(self) -> int:
        return self.periods[-1]

    def has(self, period_id: int) -> bool:
        return self.rows.get(period_id, 0) > 0

    def rows_between(self, start: int, stop: int) -> int:
        return sum(n for p, n in self.rows.items() if start <= p < stop)


@dataclass(frozen=True)
class FitSpec:
    """One model: trained on periods [train_start, train_stop), serving from period train_end.

    train_end - train_stop is the gap that covers label delay. `lookback` is None when the
    window reaches back to the first period (all history). `max_rows` caps the training rows
    (seeded sample); `half_life`, when set, weights rows by recency (halving every h periods).
    """

    train_end: int
    train_start: int
    train_stop: int
    lookback: int | None
    max_rows: int
    seed: int
    half_life: float | None = None

    @cached_property
    def fit_id(self) -> str:
        """Stable id from the fit's identity, equal across runs and analyses (computed once: plans
        look it up for every evaluation)."""
        payload = json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    @property
    def gap(self) -> int:
        return self.train_end - self.train_stop

    @property
    def sort_key(self) -> tuple:
        return (self.train_end, self.train_start, self.train_stop, self.max_rows, self.half_life or 0.0, self.fit_id)

    def trains_on(self, period_id: int) -> bool:
        return self.train_start <= period_id < self.train_stop

    def weight_of(self, period_id: int) -> float:
        """The recency weight of a row of `period_id` (1 for the newest trained period)."""
        if self.half_life is None:
            return 1.0
        return 0.5 ** ((self.train_stop - 1 - period_id) / self.half_life)


def make_fit(
    history: History,
    train_end: int,
    lookback: int | None,
    gap: int,
    max_rows: int,
    seed: int,
    half_life: float | None = None,
) -> FitSpec:
    """The fit serving from `train_end`, in canonical form so equal windows get equal ids.

    A lookback that reaches the first period is all history (lookback None), and the row cap
    never exceeds the rows the window holds: two requests that train on the same rows are the
    same fit.
    """
    start = history.first if lookback is None else max(train_end - lookback, history.first)
    stop = train_end - gap
    return FitSpec(
        train_end=train_end,
        train_start=start,
        train_stop=stop,
        lookback=None if start == history.first else lookback,
        max_rows=min(max_rows, history.rows_between(start, stop)),
        seed=seed,
        half_life=half_life,
    )


@dataclass(frozen=True)
class EvaluationSpec:
    """Score fit `fit_id` on period `period_id`, `model_age` periods after its train_end."""

    fit_id: str
    period_id: int
    model_age: int


@dataclass(frozen=True)
class Arm:
    """What an analysis asked for and which fit serves it: the analysis reads its results by arm.

    `train_rows` is the requested row cap, `lookback` the requested lookback (None: all
    history), `half_life` the recency weighting; each analysis sets what it varies, and
    `axis` says which (the learning curve varies rows or periods).
    """

    analysis: Analysis
    fit_id: str
    train_end: int
    train_rows: int
    lookback: int | None
    half_life: float | None = None
    axis: str | None = None


@dataclass
class Plan:
    """A de-duplicated set of fits and evaluations, with the arms of every analysis."""

    fits: dict[str, FitSpec] = field(default_factory=dict)
    evaluations: set[EvaluationSpec] = field(default_factory=set)
    arms: set[Arm] = field(default_factory=set)

    def add_fit(self, fit: FitSpec) -> str:
        self.fits.setdefault(fit.fit_id, fit)
        return fit.fit_id

    def add_evaluation(self, fit: FitSpec, period_id: int) -> None:
        fit_id = self.add_fit(fit)
        self.evaluations.add(EvaluationSpec(fit_id, period_id, period_id - fit.train_end))

    def add_arm(self, arm: Arm, fit: FitSpec, scored_periods: Iterable[int]) -> None:
        self.add_fit(fit)
        self.arms.add(arm)
        for period_id in scored_periods:
            self.add_evaluation(fit, period_id)

    def beyond(self, done: Plan) -> tuple[Plan, Plan]:
        """What is left to do once `done` is: (the fits to train, the evaluations to score with
        every fit they need). Arms stay with the fits they name."""
        to_train = Plan(
            {k: f for k, f in self.fits.items() if k not in done.fits},
            set(),
            {a for a in self.arms if a.fit_id not in done.fits},
        )
        to_score = Plan(dict(self.fits), self.evaluations - done.evaluations, set(self.arms))
        return to_train, to_score

    def merge(self, other: Plan) -> Plan:
        merged = Plan(dict(self.fits), set(self.evaluations), set(self.arms))
        for fit in other.fits.values():
            merged.add_fit(fit)
        merged.evaluations |= other.evaluations
        merged.arms |= other.arms
        return merged

    def analyses_of(self, fit_id: str) -> list[str]:
        return sorted({arm.analysis for arm in self.arms if arm.fit_id == fit_id})

    def fits_needed_by(self, analysis: Analysis) -> set[str]:
        return {arm.fit_id for arm in self.arms if arm.analysis == analysis}

    def sorted_fits(self) -> list[FitSpec]:
        return sorted(self.fits.values(), key=lambda f: f.sort_key)

    def sorted_evaluations(self) -> list[EvaluationSpec]:
        return sorted(self.evaluations, key=lambda e: (self.fits[e.fit_id].sort_key, e.period_id))

    def sorted_arms(self) -> list[Arm]:
        return sorted(self.arms, key=lambda a: (a.analysis, a.train_end, self.fits[a.fit_id].sort_key, str(a)))

    def scored_periods(self) -> list[int]:
        return sorted({e.period_id for e in self.evaluations})

    def fits_scored_on(self) -> dict[int, list[str]]:
        """The fits planned on each scored period, in fit order."""
        planned: dict[int, list[str]] = {}
        for evaluation in self.sorted_evaluations():
            planned.setdefault(evaluation.period_id, []).append(evaluation.fit_id)
        return planned
